"""Entry point of `passend` (the installed script and `python -m workflow.entrypoints.cli.main`).

Each command is a new process, so what it imports is paid every time. The plain forms of `case
show` (issue 17: a read of one case within 3x a plain sqlite3 loop, start-up included) run
without click (workflow.entrypoints.cli.quick); everything else, and any form of `case show`
that quick does not take as it is, goes to click (workflow.entrypoints.cli.app), which parses
and explains it as always.

Exit codes: 0 done; 2 bad input or usage; 3 refused by a guard or a role; 4 conflict;
5 audit verification failed, or a case's stored events cannot be folded (IntegrityError);
1 anything else. No traceback ever reaches the user.
"""

from __future__ import annotations

import atexit
import gc
import sys


def main(argv: list[str] | None = None) -> int:
    """Run one command. `argv` None: the process's own command line (the installed script,
    `python -m`), a process that ends when this returns; a caller that passes `argv` (a test)
    keeps its garbage collector as it is.

    Such a process's cyclic garbage collector is off for a `case show` (issue 17: it cost a
    tenth of the command's instructions). Loading the modules makes tens of thousands of
    objects, none of them garbage, and every few hundred of them set off a pass over the young
    ones; once on again, its first pass would trace them all. So it stays off to the end, and
    at exit what is left is frozen (_collect_less). Any other command runs with it on."""
    whole_process = argv is None
    if whole_process:
        gc.disable()
    from workflow.entrypoints.cli import quick

    found = quick.show_args(list(sys.argv[1:] if argv is None else argv))
    _start_fast("case-show" if found is not None else "cli")
    if found is not None:
        return quick.show(found)
    if whole_process:
        gc.enable()
    from workflow.entrypoints.cli.app import run

    return run(argv)


def _start_fast(program: str) -> None:
    """Each command is a new process: the code Python generates for the classes it imports is
    compiled once and kept (workflow.adapters.code_cache, a table for `case show`'s quick path
    and one for the rest), before the command's modules load; and the interpreter's exit
    collects less (_collect_less)."""
    from workflow.adapters.code_cache import install
    from workflow.adapters.holiday_cache import default_folder

    if install(default_folder(), program):
        atexit.register(_collect_less)


def _collect_less() -> None:
    """At exit (atexit runs before the interpreter's final collections) the objects left are
    frozen, out of the collector's sight, and it is turned off: those collections would trace
    every one of them only to free memory the operating system takes back anyway."""
    gc.freeze()
    gc.disable()


if __name__ == "__main__":
    # `python -m workflow.entrypoints.cli.main`: run the imported module's main, not this __main__ copy, so the
    # sub-commands (which import workflow.entrypoints.cli.app) share its --json state.
    from workflow.entrypoints.cli.main import main as _main

    sys.exit(_main())

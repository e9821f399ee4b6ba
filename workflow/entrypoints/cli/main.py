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

import sys


def main(argv: list[str] | None = None) -> int:
    _start_fast()
    from workflow.entrypoints.cli import quick

    found = quick.show_args(list(sys.argv[1:] if argv is None else argv))
    if found is not None:
        return quick.show(found)
    from workflow.entrypoints.cli.app import run

    return run(argv)


def _start_fast() -> None:
    """Each command is a new process: the code Python generates for the classes it imports is
    compiled once and kept (workflow.adapters.code_cache), before the command's modules load."""
    from workflow.adapters.code_cache import install
    from workflow.adapters.holiday_cache import default_folder

    install(default_folder())


if __name__ == "__main__":
    # `python -m workflow.entrypoints.cli.main`: run the imported module's main, not this __main__ copy, so the
    # sub-commands (which import workflow.entrypoints.cli.app) share its --json state.
    from workflow.entrypoints.cli.main import main as _main

    sys.exit(_main())

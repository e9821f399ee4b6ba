"""`passend case show CASUS --actor GEBRUIKER` without click.

Why: click and the command line's modules cost more instructions to import than reading,
decrypting and printing a case (BENCHMARKS.md, 8b again). So the plain forms of `case show`
(the global `--config`, `--access-log` and `--json`, then `case show`, one CASUS and `--actor`,
`--purpose`, `--on-behalf-of`, `--json`, each at most once, as `--name value` or `--name=value`)
are taken here; anything else (help, an unknown or repeated option, a value that begins with a
dash, a missing one, an API token's actor, an output that is not UTF-8) returns None and goes to
click, which parses and explains it as always. What runs is what click's `case show` runs: the
same reader (workflow.bootstrap.reader, as cli.app.State.reader), the same query, the same printing
(cli.views.render_case, or the JSON of cli.app.emit), and errors through cli.app.handle.
"""

from __future__ import annotations

import json
import sys
from typing import Any

GLOBAL = {"--config": "config", "--access-log": "access_log"}
SHOW = {"--actor": "actor", "--purpose": "purpose", "--on-behalf-of": "on_behalf_of"}


def show_args(args: list[str]) -> dict[str, Any] | None:
    """The options of a plain `case show` (see the module), or None for anything else."""
    found: dict[str, Any] = {"json": False, "config": None, "access_log": None, "purpose": None,
                             "on_behalf_of": None}
    seen: set[str] = set()
    stage = 0  # 0: global options, 1: after `case`, 2: after `show`
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--json" and stage != 1:
            found["json"] = True
        elif a == "case" and stage == 0:
            stage = 1
        elif a == "show" and stage == 1:
            stage = 2
        elif a.startswith("--") and stage != 1:
            name, eq, value = a.partition("=")
            key = (GLOBAL if stage == 0 else SHOW).get(name)
            if key is None or key in seen:
                return None
            seen.add(key)
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            if value.startswith("-"):
                return None
            found[key] = value
        elif stage == 2 and "case_id" not in found and not a.startswith("-"):
            found["case_id"] = a
        else:
            return None
        i += 1
    if stage != 2 or "case_id" not in found or "actor" not in found or ":" in found["actor"]:
        return None
    out = sys.stdout
    if out is None or (getattr(out, "encoding", None) or "").lower().replace("-", "") != "utf8":
        return None  # click re-wraps a misconfigured output; it prints those
    return found


def show(o: dict[str, Any]) -> int:
    """Run `case show` with the options of show_args; its exit code."""
    try:
        from workflow.bootstrap import reader
        from workflow.service_layer.queries import case

        v = case(reader(o["config"], access_log=o["access_log"]), o["case_id"], actor=o["actor"],
                 purpose=o["purpose"], on_behalf_of=o["on_behalf_of"])
        if o["json"]:
            text = json.dumps(v, ensure_ascii=False, indent=2, default=str)
        else:
            from workflow.entrypoints.cli.views import render_case

            text = render_case(v)
        _echo(text)
    except (Exception, KeyboardInterrupt) as exc:
        from workflow.entrypoints.cli.app import handle

        return handle(exc, json_out=o["json"])
    return 0


def _echo(text: str) -> None:
    """`click.echo(text)` on a UTF-8 stdout: a line, terminal escapes stripped when it is not a
    terminal (by click itself, imported only when there is an escape to strip), flushed."""
    out = text + "\n"
    stream = sys.stdout
    if "\x1b" in out and not stream.isatty():
        from click._compat import strip_ansi

        out = strip_ansi(out)
    stream.write(out)
    stream.flush()


"""The command line through click: global options, lazy sub-commands, and the one place errors
become exit codes (`handle`). Started by workflow.entrypoints.cli.main.

Exit codes: 0 done; 2 bad input or usage; 3 refused by a guard or a role; 4 conflict;
5 audit verification failed, or a case's stored events cannot be folded (IntegrityError);
1 anything else. No traceback ever reaches the user.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import click

from workflow.domain.errors import PassendError
from workflow.entrypoints.cli import nl

# name -> "module:attribute", imported only when that command runs (fast --help, fast start).
COMMANDS: dict[str, str] = {
    "init": "workflow.entrypoints.cli.admin:init",
    "demo": "workflow.entrypoints.cli.admin:demo",
    "case": "workflow.entrypoints.cli.case:case",
    "record": "workflow.entrypoints.cli.record:record",
    "process": "workflow.entrypoints.cli.process:process",
    "audit": "workflow.entrypoints.cli.audit:audit",
    "reminders": "workflow.entrypoints.cli.reminders:reminders",
    "serve": "workflow.entrypoints.cli.reminders:serve",
    "user": "workflow.entrypoints.cli.users:user",
    "token": "workflow.entrypoints.cli.tokens:token",
    "web": "workflow.entrypoints.cli.web:web",
    "opp": "workflow.entrypoints.cli.opp:opp",
    "rod": "workflow.entrypoints.cli.rod:rod",
    "parent": "workflow.entrypoints.cli.parents:parent",
    "backup": "workflow.entrypoints.cli.backup:backup",
    "restore": "workflow.entrypoints.cli.backup:restore",
}
# name -> the catalog key of its line on `passend --help` (cli.<name>.summary).
HELP: dict[str, str] = {
    "init": "cli.init.summary",
    "demo": "cli.demo.summary",
    "case": "cli.case.summary",
    "record": "cli.record.summary",
    "process": "cli.process.summary",
    "audit": "cli.audit.summary",
    "reminders": "cli.reminders.summary",
    "serve": "cli.serve.summary",
    "user": "cli.user.summary",
    "token": "cli.token.summary",
    "web": "cli.web.summary",
    "opp": "cli.opp.summary",
    "rod": "cli.rod.summary",
    "parent": "cli.parent.summary",
    "backup": "cli.backup.summary",
    "restore": "cli.restore.summary",
}


class LazyGroup(nl.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, nl.words(HELP.get(name))) for name in self.list_commands(ctx)]
        with formatter.section(nl.say("cli.frame.commands")):
            formatter.write_dl(rows)


class State:
    def __init__(self, config: str | None, json_out: bool, access_log: str | None = None) -> None:
        self.config = config
        self.json = json_out
        self.access_log = access_log  # --access-log FILE: access records go there (a read-only copy)
        self._engine: Any = None
        self._reader: Any = None

    def engine(self, *, create_key: bool = False) -> Any:
        if self._engine is None:
            from workflow.adapters.logs import configure
            from workflow.bootstrap import bootstrap

            # Only `init` and `demo` (create_key) may make a store; every other command needs
            # one that exists, at this version's schema, and is refused before it runs if not.
            self._engine = bootstrap(self.config, create_key=create_key, existing=not create_key)
            configure(self._engine.config.log_level)
            if self.access_log is not None:
                from pathlib import Path

                from workflow.adapters.access_file import FileAccessLog

                self._engine.access_file = FileAccessLog(Path(self.access_log), self._engine.files)
        return self._engine

    def reader(self, actor: str) -> Any:
        """A context for a read of one case by `actor` (workflow.bootstrap.reader: on SQLite
        without SQLAlchemy); the engine when there is one already, or for an API token's actor
        (`api:<name>`: no user id has a colon), whose token the engine's store reads."""
        if self._reader is not None:
            return self._reader
        if self._engine is not None or ":" in actor:
            return self.engine()
        from workflow.bootstrap import reader

        ctx = reader(self.config, access_log=self.access_log)
        self._reader = ctx
        return ctx


_json_mode = False


def _version(ctx: click.Context, _param: Any, value: bool) -> None:
    """`passend --version`: click's version_option, its line from the catalog (click's takes
    its message when the module is imported, before the language is known)."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    click.echo(nl.say("cli.passend.version", prog="passend", version=version("passend")), color=ctx.color)
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, help="cli.passend.help")
@click.option("--config", "config", envvar="PASSEND_CONFIG", default=None, metavar="PAD",
              help="cli.passend.option.config")
@click.option("--json", "json_out", is_flag=True, help="cli.passend.option.json")
@click.option("--access-log", "access_log", default=None, metavar="BESTAND",
              help="cli.passend.option.access_log")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="cli.passend.option.version")
@click.pass_context
def cli(ctx: click.Context, config: str | None, json_out: bool, access_log: str | None) -> None:
    global _json_mode
    _json_mode = _json_mode or json_out
    ctx.obj = State(config, json_out, access_log)


def json_option(f: Any) -> Any:
    """`--json` on every command, as well as before it."""

    def callback(ctx: click.Context, _param: Any, value: bool) -> bool:
        global _json_mode
        if value:
            _json_mode = True
            if isinstance(ctx.obj, State):
                ctx.obj.json = True
        return value

    return click.option("--json", "json_flag", is_flag=True, expose_value=False,
                        callback=callback, help="cli.passend.option.json")(f)


def emit(obj: Any, text: str | None = None) -> None:
    if _json_mode:
        click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
    elif text is not None:
        click.echo(text)


def emit_each(items: Iterable[Any], line: Callable[[Any], str], empty: str) -> int:
    """`emit` for a list that streams in: each item printed as it comes, so a list of a whole
    region takes the memory of one item. The bytes are emit's: with --json those of
    json.dumps(list, indent=2), written item by item; else one `line` an item, or `empty` for
    none. Returns how many were printed."""
    n = 0
    if _json_mode:
        # Written in blocks of about 64 kB rather than an echo (a write and a flush) per item: at
        # a million cases the flushes cost as much as the rest. JSON text holds no terminal
        # escapes (json.dumps writes control characters as \u escapes), which echo would strip.
        out = sys.stdout
        block: list[str] = []
        size = 0
        for n, item in enumerate(items, 1):
            text = json.dumps(item, ensure_ascii=False, indent=2, default=str).replace("\n", "\n  ")
            block.append(("[\n  " if n == 1 else ",\n  ") + text)
            size += len(text)
            if size >= 65536:
                out.write("".join(block))
                out.flush()
                block, size = [], 0
        block.append("\n]\n" if n else "[]\n")
        out.write("".join(block))
        out.flush()
        return n
    for item in items:
        n += 1
        click.echo(line(item))
    if not n:
        click.echo(empty)
    return n


def _fail(code: int, message: str, reasons: list[str] | None = None,
          details: list[dict[str, Any]] | None = None) -> int:
    """One line (and the reasons) on stderr; with --json, {error, reasons, exit_code} on stdout,
    each reason as {code, params, text} (a reason the service layer gave only as text has the
    code "other")."""
    if _json_mode:
        data = details or [{"code": "other", "params": {}, "text": r} for r in reasons or []]
        click.echo(json.dumps({"error": message, "reasons": data, "exit_code": code},
                              ensure_ascii=False, default=str))
    else:
        click.echo(f"passend: {message}", err=True)
        for r in reasons or []:
            click.echo(f"  - {r}", err=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """The command line through click (main.main hands everything here but the plain forms of
    `case show`, which cli.quick runs without click)."""
    global _json_mode
    _json_mode = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode click returns (not raises) a command's `Exit(code)`.
        rv = cli.main(args=argv, prog_name="passend", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        return _fail(1, nl.say("cli.error.aborted"))
    except click.exceptions.NoArgsIsHelpError as exc:  # `passend` or `passend case` alone
        if exc.ctx is not None and not _json_mode:
            click.echo(exc.ctx.get_help(), err=True)
            return 2
        return _fail(2, nl.say("cli.error.give_command"))
    except click.ClickException as exc:  # click's own errors and the CLI's: one Dutch line (nl.EXPLAIN)
        return _fail(2, nl.explain(exc))
    except (Exception, KeyboardInterrupt) as exc:
        return handle(exc)
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


def handle(exc: BaseException, *, json_out: bool | None = None) -> int:
    """A command's error as its exit code and one line (with --json: on stdout, as JSON). The
    one place errors become exit codes, for click's commands and cli.quick's alike (`json_out`:
    whether --json was given, for a caller that did not go through `run`)."""
    global _json_mode
    if json_out is not None:
        _json_mode = json_out
    # The domain and the adapters say their problems as catalog keys (errors.Said); the catalog
    # renders them once it is imported. Imported here, on the error's way out, so that a command
    # that failed before anything loaded it still prints a sentence, never a key, and `--help`
    # stays light.
    import workflow.messages  # noqa: F401

    if isinstance(exc, PassendError):
        return _fail(exc.exit_code, exc.message, exc.reasons, exc.details)
    if isinstance(exc, KeyboardInterrupt):
        return _fail(130, nl.say("cli.error.interrupted"))
    # the last line of defence: no traceback, no data
    from workflow.adapters.problems import explain

    known = explain(exc)  # a full disk, a read-only store, a timeout, ...: one clear line
    if known is not None:
        return _fail(known.exit_code, known.message, known.reasons, known.details)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    try:
        import structlog

        from workflow.adapters.logs import configure, get_logger

        if not structlog.is_configured():  # never structlog's default: it prints to stdout
            configure()
        get_logger("passend.cli").error("internal.error", error_type=type(exc).__name__,
                                        where=where)
    except Exception:  # logging must never turn an error into a traceback
        pass
    return _fail(1, nl.say("cli.error.internal", error=type(exc).__name__, where=where))

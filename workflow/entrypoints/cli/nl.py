"""click in Dutch: the frame of every help page, and click's own errors as one Dutch line.

click writes its help frame ("Usage:", "Options", "[required]") and its errors ("No such
command", "Missing option") in English, through gettext without a Dutch catalog. A catalog for
click's internal strings would be keyed on English text that changes between click versions, so
instead the CLI's commands are of the classes below, which write the frame in Dutch, and
`explain` builds the Dutch line for an error from the exception's class and the parameter it
carries, never from its English message. The CLI's own input errors are `UsageProblem` and
`BadValue`, whose message comes from the catalog already.

Every word here, and every help text of the commands, comes from the message catalog (cli.*).
A command's `help=` is the key of its text (click reads `help=` when a module is imported): the
key is looked up only when a help page or an error is written (`words`), so a command that runs
reads no catalog for its help.

Imports only click at import time: `passend --help` must stay light
(tests/test_serve.py::test_help_is_light); the catalog (workflow.messages, read with its own .mo
reader, without gettext) is imported when a page is written.
"""

from __future__ import annotations

import difflib
import errno
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

import click
from click.exceptions import BadArgumentUsage, BadOptionUsage, MissingParameter, NoSuchOption

HELP_OPTION = "cli.frame.help_option"
REQUIRED = "cli.frame.required"
_KEY = re.compile(r"cli\.[a-z0-9_.]+")


def say(key: str, /, **values: Any) -> str:
    """The catalog's sentence for `key`, filled in (workflow.messages.text, imported when first
    said, so importing a command module reads no catalog)."""
    from workflow.messages import text

    return text(key, **values)


def sentence(key: str, /) -> str:
    """The catalog's sentence for `key`, not filled in: a line printed for every item of a list
    that streams in (a region's cases) is looked up once and filled in per item with
    str.format, rather than looked up again for each of a million items."""
    from workflow.messages import text

    return text(key)


def words(help_text: str | None) -> str:
    """A help text as shown: a catalog key (cli.*) as its sentence; any other text (a process
    definition's own wording, as `record`'s commands carry) as it is."""
    if not help_text:
        return ""
    return say(help_text) if _KEY.fullmatch(help_text) else help_text


class UsageProblem(click.UsageError):
    """A wrong combination of options, found by the CLI itself; the message is Dutch."""


class BadValue(click.BadParameter):
    """A value the CLI itself refuses (give `param_hint`); the message is Dutch."""


class UnknownCommand(click.UsageError):
    """`passend frobnicate`: the name, and the group's commands to choose from."""

    def __init__(self, name: str, choices: Sequence[str], ctx: click.Context) -> None:
        super().__init__(f"unknown command {name!r}", ctx)
        self.name, self.choices = name, list(choices)


class MissingCommand(click.UsageError):
    """A group called with options only (`passend --json`)."""

    def __init__(self, choices: Sequence[str], ctx: click.Context) -> None:
        super().__init__("missing command", ctx)
        self.choices = list(choices)


class ExtraArguments(click.UsageError):
    """Arguments left over after a command took its own."""

    def __init__(self, args: Sequence[str], ctx: click.Context) -> None:
        super().__init__("unexpected arguments", ctx)
        self.args_left = list(args)


# ---- the help page ---------------------------------------------------------------------------


class Command(click.Command):
    """A command whose help page and usage errors are Dutch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", "[OPTIES]")
        super().__init__(*args, **kwargs)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # click reports left-over arguments with an English message only; take them over so
        # they can be named in Dutch. A group keeps them: they are its sub-command's.
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        except click.UsageError as exc:  # the option parser raises without a context: give it ours
            if exc.ctx is None:
                exc.ctx = ctx
            raise
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            raise ExtraArguments(rest, ctx)
        return rest

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)),
                              prefix=say("cli.frame.usage") + " ")

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = inspect.cleandoc(words(self.help)).partition("\f")[0]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def get_short_help_str(self, limit: int = 45) -> str:
        # click's own shortening, of the sentence rather than the key
        kept = self.help, self.short_help
        self.help, self.short_help = words(self.help) or None, words(self.short_help) or None
        try:
            return super().get_short_help_str(limit)
        finally:
            self.help, self.short_help = kept

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.format_options(ctx, formatter)
        self.format_epilog(ctx, formatter)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = self.get_params(ctx)
        arguments = [p for p in params if isinstance(p, click.Argument) and getattr(p, "help", None)]
        if arguments:
            with formatter.section(say("cli.frame.arguments")):
                formatter.write_dl([(p.make_metavar(ctx), words(getattr(p, "help", ""))) for p in arguments])
        rows = [row for p in params if isinstance(p, click.Option) and (row := option_row(p, ctx))]
        if rows:
            with formatter.section(say("cli.frame.options")):
                formatter.write_dl(rows)


class Group(Command, click.Group):
    """A group of commands: its page lists them under "Opdrachten"; its sub-commands made with
    `@group.command()` and `@group.group()` are Dutch too."""

    command_class = Command
    group_class = type  # sub-groups are of this class as well

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", "OPDRACHT [ARGUMENTEN]...")
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        # click fails later, in invoke, with "Missing command."; name the choices here instead.
        if not ctx._protected_args and not self.invoke_without_command and not ctx.resilient_parsing:
            raise MissingCommand(self.list_commands(ctx), ctx)
        return rest

    def resolve_command(
        self, ctx: click.Context, args: list[str],
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            raise UnknownCommand(name, self.list_commands(ctx), ctx)
        return super().resolve_command(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        Command.format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section(say("cli.frame.commands")):
                formatter.write_dl(rows)


def metavar(param: click.Parameter, ctx: click.Context) -> str:
    """The placeholder for a value: the declared one, else a Dutch word for the type."""
    if param.metavar:
        return param.metavar
    if isinstance(param, click.Argument):
        return param.make_metavar(ctx)
    t = param.type
    if isinstance(t, click.Choice):
        word = "[" + "|".join(str(c) for c in t.choices) + "]"
    elif isinstance(t, click.types.IntParamType | click.types.FloatParamType):
        word = "GETAL"
    elif isinstance(t, click.types.BoolParamType):
        word = "JA|NEE"
    elif isinstance(t, click.DateTime):
        word = "DATUM"
    elif isinstance(t, click.Path | click.File):
        word = "PAD"
    else:
        word = "TEKST"
    return word + ("..." if param.nargs != 1 else "")


def _names(opts: Sequence[str]) -> str:
    return ", ".join(sorted(opts, key=lambda o: o.startswith("--")))  # -h before --help, as click does


def option_row(param: click.Option, ctx: click.Context) -> tuple[str, str] | None:
    """One line of the "Opties" section: the names and value, the help, then in parentheses the
    default, the allowed range and "verplicht"."""
    if param.hidden:
        return None
    takes_value = not param.is_flag and not param.count
    spec = " / ".join(
        _names(opts) + (f" {metavar(param, ctx)}" if takes_value else "")
        for opts in (param.opts, param.secondary_opts) if opts
    )
    extras = []
    if isinstance(param.show_default, str):
        extras.append(say("cli.frame.default", value=param.show_default))
    elif param.show_default:
        default = param.get_default(ctx, call=False)
        if isinstance(default, str | int | float) and not isinstance(default, bool):
            extras.append(say("cli.frame.default", value=default))
    if isinstance(param.type, click.IntRange | click.FloatRange):
        extras.append(describe_range(param.type))
    text = words(param.help)
    if extras:
        text = f"{text}  [{'; '.join(extras)}]".strip()
    if param.required:
        text = f"{text} {say(REQUIRED)}".strip()
    return spec, text


def describe_range(t: click.IntRange | click.FloatRange) -> str:
    """'1 t/m 8', 'minstens 1', 'meer dan 0' ... for an IntRange or FloatRange."""
    lo, hi = t.min, t.max
    if lo is not None and hi is not None and not t.min_open and not t.max_open:
        return say("cli.range.between", low=lo, high=hi)
    parts = []
    if lo is not None:
        parts.append(say("cli.range.more_than" if t.min_open else "cli.range.at_least", n=lo))
    if hi is not None:
        parts.append(say("cli.range.less_than" if t.max_open else "cli.range.at_most", n=hi))
    return say("cli.range.both", low=parts[0], high=parts[1]) if len(parts) == 2 else "".join(parts)


# ---- click's errors in Dutch -----------------------------------------------------------------


def _hint(ctx: click.Context | None) -> str:
    return " " + say("cli.error.see_help", command=ctx.command_path) if ctx is not None else ""


def _param_name(param: click.Parameter, ctx: click.Context | None) -> str:
    if isinstance(param, click.Option):
        return "/".join(param.opts)
    return param.make_metavar(ctx) if ctx is not None else (param.name or "").upper()


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    joined = f" {say('word.or')} ".join(repr(c) for c in close)
    return " " + say("cli.error.did_you_mean", choices=joined) if close else ""


def expected(t: click.ParamType[Any]) -> str | None:
    """What a value of this type must look like, in Dutch; None for a type not listed."""
    if isinstance(t, click.Choice):
        return say("cli.expected.choice", choices=", ".join(str(c) for c in t.choices))
    if isinstance(t, click.IntRange):
        return say("cli.expected.int_range", range=describe_range(t))
    if isinstance(t, click.FloatRange):
        return say("cli.expected.float_range", range=describe_range(t))
    if isinstance(t, click.types.IntParamType):
        return say("cli.expected.int")
    if isinstance(t, click.types.FloatParamType):
        return say("cli.expected.float")
    if isinstance(t, click.types.BoolParamType):
        return say("cli.expected.bool")
    if isinstance(t, click.DateTime):
        return say("cli.expected.date")
    return None


def _bad_parameter(exc: click.BadParameter) -> str:
    if exc.param is not None:
        what = expected(exc.param.type) or say("cli.expected.other")
        return say("cli.error.bad_value.expected", param=_param_name(exc.param, exc.ctx), expected=what,
                   hint=_hint(exc.ctx))
    return _bad_value(exc)


def _bad_value(exc: click.BadParameter) -> str:
    hint = exc.param_hint if isinstance(exc.param_hint, str) else "/".join(exc.param_hint or ())
    if not hint and exc.param is not None:
        hint = _param_name(exc.param, exc.ctx)
    if hint:
        return say("cli.error.bad_value.for", param=hint, message=exc.message)
    return say("cli.error.bad_value", message=exc.message)


def _missing(exc: MissingParameter) -> str:
    """Every required parameter still missing, not only the first that click tripped over: click
    takes the given parameters first, so the ones it has not reached were not given either."""
    ctx, first = exc.ctx, exc.param
    if first is None or ctx is None:
        return say("cli.error.missing.one", hint=_hint(ctx))
    missing = [first] + [p for p in ctx.command.get_params(ctx)
                         if p is not first and p.required and p.name not in ctx.params and not p.envvar]
    names = ", ".join(_param_name(p, ctx) for p in missing)
    return say("cli.error.missing", names=names, hint=_hint(ctx))


def _bad_option_usage(exc: BadOptionUsage) -> str:
    ctx = exc.ctx
    param = next((p for p in (ctx.command.get_params(ctx) if ctx else [])
                  if isinstance(p, click.Option) and exc.option_name in (*p.opts, *p.secondary_opts)), None)
    if param is not None and (param.is_flag or param.count):
        return say("cli.error.option.no_value", option=exc.option_name, hint=_hint(ctx))
    n = param.nargs if param is not None else 1
    if n == 1:
        return say("cli.error.option.needs_value", option=exc.option_name, hint=_hint(ctx))
    return say("cli.error.option.needs_values", option=exc.option_name, n=n, hint=_hint(ctx))


def _no_such_option(exc: NoSuchOption) -> str:
    return say("cli.error.unknown_option", option=exc.option_name,
               suggest=_suggest(exc.option_name, exc.possibilities or []), hint=_hint(exc.ctx))


def _unknown_command(exc: UnknownCommand) -> str:
    return say("cli.error.unknown_command", name=repr(exc.name), suggest=_suggest(exc.name, exc.choices),
               choices=", ".join(exc.choices))


def _extra(exc: ExtraArguments) -> str:
    key = "cli.error.extra.one" if len(exc.args_left) == 1 else "cli.error.extra"
    return say(key, args=" ".join(exc.args_left), hint=_hint(exc.ctx))


def _file_error(exc: click.FileError) -> str:
    return say("cli.error.file", name=repr(exc.ui_filename))


_OS_ERRORS = {
    errno.EACCES: "cli.os_error.access", errno.EPERM: "cli.os_error.access", errno.ENOENT: "cli.os_error.no_folder",
    errno.ENOTDIR: "cli.os_error.not_a_folder", errno.EISDIR: "cli.os_error.is_a_folder",
    errno.ENOSPC: "cli.os_error.disk_full", errno.EROFS: "cli.os_error.read_only", errno.EEXIST: "cli.os_error.exists",
}


def os_error(exc: OSError) -> str:
    """Why a file could not be written, in Dutch, by its errno (the OS's own text is English)."""
    code = exc.errno or 0
    key = _OS_ERRORS.get(code)
    if key is not None:
        return say(key)
    return errno.errorcode.get(code) or say("cli.os_error.unknown")


def _plain_usage(exc: click.UsageError) -> str:
    """A plain UsageError comes from inside click only (the CLI's own are UsageProblem): on a
    command not of the classes above, left-over arguments; on such a group, no sub-command."""
    ctx = exc.ctx
    if ctx is None:
        return say("cli.error.usage")
    if isinstance(ctx.command, click.Group):
        return say("cli.error.no_command", choices=", ".join(ctx.command.list_commands(ctx)), hint=_hint(ctx))
    return say("cli.error.too_many", hint=_hint(ctx))


# Keyed on the class; `explain` walks the exception's class hierarchy, so the most specific wins.
EXPLAIN: dict[type[click.ClickException], Callable[[Any], str]] = {
    UsageProblem: lambda exc: exc.message,
    BadValue: _bad_value,
    UnknownCommand: _unknown_command,
    MissingCommand: lambda exc: say("cli.error.no_command", choices=", ".join(exc.choices), hint=_hint(exc.ctx)),
    ExtraArguments: _extra,
    MissingParameter: _missing,
    click.BadParameter: _bad_parameter,
    NoSuchOption: _no_such_option,
    BadOptionUsage: _bad_option_usage,
    BadArgumentUsage: lambda exc: say("cli.error.argument_count", hint=_hint(exc.ctx)),
    click.UsageError: _plain_usage,
    click.FileError: _file_error,
    click.ClickException: lambda exc: say("cli.error.usage"),
}


def explain(exc: click.ClickException) -> str:
    """The one Dutch line for a click exception, chosen by its class and parameters."""
    for cls in type(exc).__mro__:
        render = EXPLAIN.get(cls)
        if render is not None:
            return render(exc).replace("\n", " ")
    return say("cli.error.usage")

"""click in Dutch: the frame of every help page, and click's own errors as one Dutch line.

click writes its help frame ("Usage:", "Options", "[required]") and its errors ("No such
command", "Missing option") in English, through gettext without a Dutch catalog. A catalog for
click's internal strings would be keyed on English text that changes between click versions, so
instead the CLI's commands are of the classes below, which write the frame in Dutch, and
`explain` builds the Dutch line for an error from the exception's class and the parameter it
carries, never from its English message. The CLI's own input errors are `UsageProblem` and
`BadValue`, whose message is Dutch already.

Imports only click: `passend --help` must stay light (tests/test_serve.py::test_help_is_light).
"""

from __future__ import annotations

import difflib
import errno
from collections.abc import Callable, Sequence
from typing import Any

import click
from click.exceptions import BadArgumentUsage, BadOptionUsage, MissingParameter, NoSuchOption

HELP_OPTION = "Toon deze hulp en stop."
REQUIRED = "(verplicht)"


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
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix="Gebruik: ")

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.format_options(ctx, formatter)
        self.format_epilog(ctx, formatter)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = self.get_params(ctx)
        arguments = [p for p in params if isinstance(p, click.Argument) and getattr(p, "help", None)]
        if arguments:
            with formatter.section("Argumenten"):
                formatter.write_dl([(p.make_metavar(ctx), str(getattr(p, "help", ""))) for p in arguments])
        rows = [row for p in params if isinstance(p, click.Option) and (row := option_row(p, ctx))]
        if rows:
            with formatter.section("Opties"):
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
            with formatter.section("Opdrachten"):
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
        extras.append(f"standaard: {param.show_default}")
    elif param.show_default:
        default = param.get_default(ctx, call=False)
        if isinstance(default, str | int | float) and not isinstance(default, bool):
            extras.append(f"standaard: {default}")
    if isinstance(param.type, click.IntRange | click.FloatRange):
        extras.append(describe_range(param.type))
    text = param.help or ""
    if extras:
        text = f"{text}  [{'; '.join(extras)}]".strip()
    if param.required:
        text = f"{text} {REQUIRED}".strip()
    return spec, text


def describe_range(t: click.IntRange | click.FloatRange) -> str:
    """'1 t/m 8', 'minstens 1', 'meer dan 0' ... for an IntRange or FloatRange."""
    lo, hi = t.min, t.max
    if lo is not None and hi is not None and not t.min_open and not t.max_open:
        return f"{lo} t/m {hi}"
    parts = []
    if lo is not None:
        parts.append(f"meer dan {lo}" if t.min_open else f"minstens {lo}")
    if hi is not None:
        parts.append(f"minder dan {hi}" if t.max_open else f"hoogstens {hi}")
    return " en ".join(parts)


# ---- click's errors in Dutch -----------------------------------------------------------------


def _hint(ctx: click.Context | None) -> str:
    return f" (zie '{ctx.command_path} --help')" if ctx is not None else ""


def _param_name(param: click.Parameter, ctx: click.Context | None) -> str:
    if isinstance(param, click.Option):
        return "/".join(param.opts)
    return param.make_metavar(ctx) if ctx is not None else (param.name or "").upper()


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f" (bedoelt u {' of '.join(repr(c) for c in close)}?)" if close else ""


def expected(t: click.ParamType[Any]) -> str | None:
    """What a value of this type must look like, in Dutch; None for a type not listed."""
    if isinstance(t, click.Choice):
        return "een van: " + ", ".join(str(c) for c in t.choices)
    if isinstance(t, click.IntRange):
        return f"een geheel getal, {describe_range(t)}"
    if isinstance(t, click.FloatRange):
        return f"een getal, {describe_range(t)}"
    if isinstance(t, click.types.IntParamType):
        return "een geheel getal"
    if isinstance(t, click.types.FloatParamType):
        return "een getal"
    if isinstance(t, click.types.BoolParamType):
        return "ja of nee (true/false)"
    if isinstance(t, click.DateTime):
        return "een datum (JJJJ-MM-DD)"
    return None


def _bad_parameter(exc: click.BadParameter) -> str:
    if exc.param is not None:
        what = expected(exc.param.type) or "een andere waarde"
        return f"ongeldige waarde voor {_param_name(exc.param, exc.ctx)}: verwacht {what}{_hint(exc.ctx)}"
    return _bad_value(exc)


def _bad_value(exc: click.BadParameter) -> str:
    hint = exc.param_hint if isinstance(exc.param_hint, str) else "/".join(exc.param_hint or ())
    if not hint and exc.param is not None:
        hint = _param_name(exc.param, exc.ctx)
    return f"ongeldige waarde voor {hint}: {exc.message}" if hint else f"ongeldige waarde: {exc.message}"


def _missing(exc: MissingParameter) -> str:
    """Every required parameter still missing, not only the first that click tripped over: click
    takes the given parameters first, so the ones it has not reached were not given either."""
    ctx, first = exc.ctx, exc.param
    if first is None or ctx is None:
        return "er ontbreekt een verplichte waarde" + _hint(ctx)
    missing = [first] + [p for p in ctx.command.get_params(ctx)
                         if p is not first and p.required and p.name not in ctx.params and not p.envvar]
    names = ", ".join(_param_name(p, ctx) for p in missing)
    return f"verplicht maar niet opgegeven: {names}{_hint(ctx)}"


def _bad_option_usage(exc: BadOptionUsage) -> str:
    ctx = exc.ctx
    param = next((p for p in (ctx.command.get_params(ctx) if ctx else [])
                  if isinstance(p, click.Option) and exc.option_name in (*p.opts, *p.secondary_opts)), None)
    if param is not None and (param.is_flag or param.count):
        return f"optie {exc.option_name} neemt geen waarde{_hint(ctx)}"
    n = param.nargs if param is not None else 1
    return f"optie {exc.option_name} heeft {'een waarde' if n == 1 else f'{n} waarden'} nodig{_hint(ctx)}"


def _no_such_option(exc: NoSuchOption) -> str:
    return f"onbekende optie {exc.option_name}{_suggest(exc.option_name, exc.possibilities or [])}{_hint(exc.ctx)}"


def _unknown_command(exc: UnknownCommand) -> str:
    return f"onbekende opdracht {exc.name!r}{_suggest(exc.name, exc.choices)}; kies uit: {', '.join(exc.choices)}"


def _extra(exc: ExtraArguments) -> str:
    word = "onverwacht argument" if len(exc.args_left) == 1 else "onverwachte argumenten"
    return f"{word}: {' '.join(exc.args_left)}{_hint(exc.ctx)}"


def _file_error(exc: click.FileError) -> str:
    return f"kan bestand {exc.ui_filename!r} niet openen"


_OS_ERRORS = {
    errno.EACCES: "geen toegang", errno.EPERM: "geen toegang", errno.ENOENT: "de map bestaat niet",
    errno.ENOTDIR: "een deel van het pad is geen map", errno.EISDIR: "dat is een map",
    errno.ENOSPC: "de schijf is vol", errno.EROFS: "alleen te lezen", errno.EEXIST: "bestaat al",
}


def os_error(exc: OSError) -> str:
    """Why a file could not be written, in Dutch, by its errno (the OS's own text is English)."""
    code = exc.errno or 0
    return _OS_ERRORS.get(code) or errno.errorcode.get(code, "onbekende fout")


def _plain_usage(exc: click.UsageError) -> str:
    """A plain UsageError comes from inside click only (the CLI's own are UsageProblem): on a
    command not of the classes above, left-over arguments; on such a group, no sub-command."""
    ctx = exc.ctx
    if ctx is None:
        return "onjuiste aanroep"
    if isinstance(ctx.command, click.Group):
        return f"geef een opdracht: {', '.join(ctx.command.list_commands(ctx))}{_hint(ctx)}"
    return "te veel argumenten" + _hint(ctx)


# Keyed on the class; `explain` walks the exception's class hierarchy, so the most specific wins.
EXPLAIN: dict[type[click.ClickException], Callable[[Any], str]] = {
    UsageProblem: lambda exc: exc.message,
    BadValue: _bad_value,
    UnknownCommand: _unknown_command,
    MissingCommand: lambda exc: f"geef een opdracht: {', '.join(exc.choices)}{_hint(exc.ctx)}",
    ExtraArguments: _extra,
    MissingParameter: _missing,
    click.BadParameter: _bad_parameter,
    NoSuchOption: _no_such_option,
    BadOptionUsage: _bad_option_usage,
    BadArgumentUsage: lambda exc: "onjuist aantal waarden voor een argument" + _hint(exc.ctx),
    click.UsageError: _plain_usage,
    click.FileError: _file_error,
    click.ClickException: lambda exc: "onjuiste aanroep",
}


def explain(exc: click.ClickException) -> str:
    """The one Dutch line for a click exception, chosen by its class and parameters."""
    for cls in type(exc).__mro__:
        render = EXPLAIN.get(cls)
        if render is not None:
            return render(exc).replace("\n", " ")
    return "onjuiste aanroep"

"""The CLI speaks Dutch: every help page's frame and text, required options marked, and click's
own errors as one Dutch line with exit code 2 (workflow/entrypoints/cli/nl.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import click
import pytest

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import COMMANDS, cli
from workflow.entrypoints.cli.main import main as cli_main

# What click writes by itself in English, and English words our own help used to have.
ENGLISH = re.compile(r"Usage:|Options:|Commands:|Show this message|\[required\]|\[default|"
                     r"\b(the|and|with|only|this|when|which|case's)\b")


def pages(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from pages(cmd, (*path, name))


# `passend record KIND` commands are generated from the evidence declarations (record._make);
# their pages follow once that generator builds nl.Command (its fields' help is written there).
ALL = [(p, c) for p, c in pages(cli) if not (p[0] == "record" and len(p) == 2)]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_is_listed() -> None:
    names = {p for p, _ in pages(cli)}
    assert {(n,) for n in COMMANDS} <= names and ("case", "fire") in names and ("audit", "verify") in names


@pytest.mark.parametrize("path", [()] + [p for p, _ in ALL], ids=lambda p: " ".join(p) or "passend")
def test_every_help_page_is_dutch(capsys: pytest.CaptureFixture[str], path: tuple[str, ...]) -> None:
    code, out, err = run(capsys, *path, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"Gebruik: passend {' '.join(path)}".rstrip() + " ")
    assert "Opties:" in out and "Toon deze hulp en stop." in out
    assert not ENGLISH.search(out), ENGLISH.search(out)


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_option_has_help_and_required_ones_say_so(
        capsys: pytest.CaptureFixture[str], path: tuple[str, ...], command: click.Command) -> None:
    _, out, _ = run(capsys, *path, "--help")
    flat = " ".join(out.split())
    for param in command.params:
        if isinstance(param, click.Option):
            shown = nl.words(param.help)  # help= names its catalog key (cli.*)
            assert shown, (path, param.name)
            if param.required:
                assert f"{shown} (verplicht)" in flat, (path, param.name)
            else:
                assert "(verplicht)" not in " ".join(shown.split())


def test_required_options_are_required_by_click_too() -> None:
    """Marked "(verplicht)" only when click itself refuses to go on without it."""
    ctx = click.Context(cli)
    row = nl.option_row(next(p for p in cli.params if p.name == "config"), ctx)  # type: ignore[arg-type]
    assert row is not None and "(verplicht)" not in row[1]
    option = click.Option(["--actor"], required=True, help="Wie.")
    assert nl.option_row(option, ctx) == ("--actor TEKST", "Wie. (verplicht)")


# argv -> the one line passend prints (after "passend: ")
ERRORS: list[tuple[tuple[str, ...], str]] = [
    (("frobnicate",), "onbekende opdracht 'frobnicate'; kies uit: audit, backup, case, demo, init, opp, parent, "
                      "process, record, reminders, restore, rod, serve, token, user, web"),
    (("cas",), "onbekende opdracht 'cas' (bedoelt u 'case'?); kies uit: audit, backup, case, demo, init, opp, "
               "parent, process, record, reminders, restore, rod, serve, token, user, web"),
    (("--config", "c.toml"), "geef een opdracht: audit, backup, case, demo, init, opp, parent, process, record, "
                             "reminders, restore, rod, serve, token, user, web (zie 'passend --help')"),
    (("--bogus",), "onbekende optie --bogus (zie 'passend --help')"),
    (("--config",), "optie --config heeft een waarde nodig (zie 'passend --help')"),
    (("case", "open"), "verplicht maar niet opgegeven: --pupil, --school, --actor (zie 'passend case open --help')"),
    (("case", "open", "--school", "s"), "verplicht maar niet opgegeven: --pupil, --actor "
                                         "(zie 'passend case open --help')"),
    (("case", "fire"), "verplicht maar niet opgegeven: CASUS, STAP, --actor (zie 'passend case fire --help')"),
    (("case", "show", "C-X", "--actor", "a", "extra", "more"),
     "onverwachte argumenten: extra more (zie 'passend case show --help')"),
    (("case", "fire", "C-X", "t", "--actor", "a", "--dry-run=3"),
     "optie --dry-run neemt geen waarde (zie 'passend case fire --help')"),
    (("case", "open", "--pupil", "P", "--school", "s", "--actor", "a", "--group", "9"),
     "ongeldige waarde voor --group: verwacht een geheel getal, 1 t/m 8 (zie 'passend case open --help')"),
    (("case", "open", "--pupil", "P", "--school", "s", "--actor", "a", "--group", "1e9"),
     "ongeldige waarde voor --group: verwacht een geheel getal, 1 t/m 8 (zie 'passend case open --help')"),
    (("process", "show", "--format", "svg"),
     "ongeldige waarde voor --format: verwacht een van: text, mermaid, json (zie 'passend process show --help')"),
    (("process", "show", "--version", "abc"),
     "ongeldige waarde voor --version: verwacht een geheel getal (zie 'passend process show --help')"),
    (("process", "explode"), "onbekende opdracht 'explode'; kies uit: migrate, show"),
    (("demo", "--years", "20"),
     "ongeldige waarde voor --years: verwacht een getal, 0.1 t/m 10 (zie 'passend demo --help')"),
    (("reminders", "list", "--limit", "0"),
     "ongeldige waarde voor --limit: verwacht een geheel getal, 1 t/m 100000 (zie 'passend reminders list --help')"),
    (("reminders", "list", "--failed", "--pending"), "--failed en --pending sluiten elkaar uit"),
    (("reminders", "due", "--now", "morgen"),
     "ongeldige waarde voor --now: 'morgen' is geen datum of moment (JJJJ-MM-DD[TUU:MM])"),
    (("audit", "verify", "--access-anchor", "zz"),
     "ongeldige waarde voor --access-anchor: verwacht 64 hexadecimale tekens (een SHA-256-hash)"),
    (("case", "fire", "C-X", "t", "--actor", "a", "--param", "x"),
     "ongeldige waarde voor --param: 'x' heeft niet de vorm NAAM=WAARDE"),
    (("record", "signal"), "verplicht maar niet opgegeven: CASUS, --actor (zie 'passend record signal --help')"),
    (("record", "signal", "C-X", "extra", "--actor", "a"),
     "onverwacht argument: extra (zie 'passend record signal --help')"),
]


@pytest.mark.parametrize(("args", "line"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_click_errors_are_one_dutch_line_exit_2(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                                line: str) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out, err) == (2, "", f"passend: {line}\n")
    code, out, _ = run(capsys, "--json", *args)
    assert code == 2 and json.loads(out) == {"error": line, "reasons": [], "exit_code": 2}


def test_every_click_error_class_has_a_dutch_line() -> None:
    """The table covers each exception click defines that a command line can raise."""
    from click import exceptions

    for name in ("UsageError", "BadParameter", "MissingParameter", "NoSuchOption", "BadOptionUsage",
                 "BadArgumentUsage", "FileError", "ClickException"):
        assert getattr(exceptions, name) in nl.EXPLAIN, name


def test_an_unknown_click_exception_still_gets_no_english(capsys: pytest.CaptureFixture[str]) -> None:
    class Odd(click.UsageError):
        pass

    assert nl.explain(Odd("Something in English")) == "onjuiste aanroep"
    assert nl.explain(click.ClickException("English")) == "onjuiste aanroep"


def test_erase_names_every_missing_option(engine: Any, cli: Any) -> None:
    r = cli("case", "erase", "C-X")
    assert (r.code, r.err) == (2, "passend: wissen vraagt ook --actor en --reason\n")
    r = cli("case", "erase", "C-X", "--actor", "ib.jansen")
    assert (r.code, r.err) == (2, "passend: wissen vraagt ook --reason\n")

"""`passend opp draft | show | print | evaluate`: the OPP document of a case."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option

actor_option = click.option("--actor", required=True, metavar="GEBRUIKER",
                            help="cli.opp.option.actor")
# option -> the part it fills (workflow.domain.opp.PARTS)
TEXT_OPTIONS = {
    "rationale": ("--rationale", "cli.opp.draft.option.rationale"),
    "helping_factors": ("--helping", "cli.opp.draft.option.helping_factors"),
    "hindering_factors": ("--hindering", "cli.opp.draft.option.hindering_factors"),
    "needs": ("--needs", "cli.opp.draft.option.needs"),
    "support": ("--support", "cli.opp.draft.option.support"),
    "who": ("--who", "cli.opp.draft.option.who"),
    "frequency": ("--frequency", "cli.opp.draft.option.frequency"),
    "deviations": ("--deviations", "cli.opp.draft.option.deviations"),
}


@click.group(cls=nl.Group, help="cli.opp.help")
def opp() -> None:
    pass


def _text_options(f: Any) -> Any:
    for name, (flag, help_key) in reversed(TEXT_OPTIONS.items()):
        f = click.option(flag, name, default=None, metavar="TEKST", help=help_key)(f)
    return f


def _pairs(items: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if "=" not in item:
            raise nl.BadValue(nl.say("cli.pair.bad", item=item), param_hint=option)
        k, v = item.split("=", 1)
        out.append((k.strip(), v))
    return out


def _from_file(path: str) -> dict[str, Any]:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise nl.BadValue(nl.say("cli.opp.file.unreadable", path=path, error=type(exc).__name__),
                          param_hint="--file") from None
    except tomllib.TOMLDecodeError as exc:
        raise nl.BadValue(nl.say("cli.opp.file.not_toml", path=path, error=exc), param_hint="--file") from None
    known = {"uitstroombestemming", "goals", "evaluation_moments", *TEXT_OPTIONS}
    for k in raw:
        if k not in known:
            raise nl.BadValue(nl.say("cli.opp.file.unknown_part", path=path, part=k, choices=", ".join(sorted(known))),
                              param_hint="--file")
    goals = raw.get("goals")
    if goals is not None and not (isinstance(goals, list) and all(
            isinstance(g, dict) and set(g) == {"area", "text"} for g in goals)):
        raise nl.BadValue(nl.say("cli.opp.file.goals", path=path), param_hint="--file")
    return raw


@opp.command("draft", help="cli.opp.draft.help")
@click.argument("case_id", metavar="CASUS")
@actor_option
@click.option("--uitstroom", default=None, metavar="PROFIEL",
              help="cli.opp.draft.option.uitstroom")
@_text_options
@click.option("--goal", "goals", multiple=True, metavar="GEBIED=TEKST",
              help="cli.opp.draft.option.goal")
@click.option("--moment", "moments", multiple=True, metavar="DATUM",
              help="cli.opp.draft.option.moment")
@click.option("--clear", "clear", multiple=True, metavar="ONDERDEEL",
              help="cli.opp.draft.option.clear")
@click.option("--file", "file", default=None, metavar="PAD",
              help="cli.opp.draft.option.file")
@click.option("--date", "date", default=None, metavar="DATUM", help="cli.opp.draft.option.date")
@click.option("--expect-version", type=int, default=None, metavar="VERSIE",
              help="cli.opp.draft.option.expect_version")
@json_option
@click.pass_obj
def draft(state: State, /, case_id: str, actor: str, uitstroom: str | None, goals: tuple[str, ...],
          moments: tuple[str, ...], clear: tuple[str, ...], file: str | None, date: str | None,
          expect_version: int | None, **texts: str | None) -> None:
    from workflow.service_layer import opp as service

    raw = _from_file(file) if file else {}
    given = {k: str(raw[k]) for k in TEXT_OPTIONS if k in raw}
    given.update({k: v for k, v in texts.items() if v is not None})
    goal_list = _pairs(goals, "--goal") if goals else (
        [(str(g["area"]), str(g["text"])) for g in raw["goals"]] if "goals" in raw else None)
    moment_list: list[Any] | None = list(moments) if moments else raw.get("evaluation_moments")
    r = service.draft(state.engine(), case_id, actor=actor, uitstroombestemming=uitstroom or raw.get(
        "uitstroombestemming"), texts=given, goals=goal_list, evaluation_moments=moment_list, clear=clear,
        date=date, expected_version=expect_version)
    text = nl.say("cli.opp.draft.done", case=case_id, version=r["opp_version"], seq=r["seq"], hash=r["hash"])
    if r["missing_labels"]:
        text += "\n" + nl.say("cli.opp.draft.missing", parts="; ".join(r["missing_labels"]))
    emit(r, text)


@opp.command("show", help="cli.opp.show.help")
@click.argument("case_id", metavar="CASUS")
@actor_option
@click.option("--version", "version", type=int, default=None, metavar="VERSIE",
              help="cli.opp.show.option.version")
@click.option("--purpose", default=None, metavar="TEKST", help="cli.opp.show.option.purpose")
@click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WIE",
              help="cli.opp.show.option.on_behalf_of")
@json_option
@click.pass_obj
def show(state: State, case_id: str, actor: str, version: int | None, purpose: str | None,
         on_behalf_of: str | None) -> None:
    from workflow.service_layer import opp as service

    v = service.show(state.engine(), case_id, actor=actor, version=version, purpose=purpose,
                     on_behalf_of=on_behalf_of)
    emit(v, render(v))


def render(v: dict[str, Any]) -> str:
    lines = [nl.say("cli.opp.show.title", case=v["case_id"], version=v["opp_version"],
                    versions=", ".join(str(n) for n in v["versions"]), date=v["date"]),
             nl.say("cli.opp.show.adopted", adopted=v["adopted_on"] or nl.say("cli.opp.show.not_adopted"),
                    in_force=nl.say("cli.opp.show.in_force") if v["in_force"] else "")]
    for p in v["parts"]:
        value = p["value"]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            shown = "\n".join(f"    {g['number']}. {g['area_label']}: {g['text']}" for g in value)
            lines.append(f"{p['label'][:1].upper()}{p['label'][1:]}:\n{shown}")
            continue
        if isinstance(value, list):
            value = ", ".join(value)
        lines.append(f"{p['label'][:1].upper()}{p['label'][1:]}: {value if value else nl.say('cli.opp.show.empty')}")
    if v["missing_labels"]:
        lines.append(nl.say("cli.opp.show.missing", parts="; ".join(v["missing_labels"])))
    lines.append(nl.say("cli.opp.show.hash", hash=v["hash"]))
    lines.append(nl.say("cli.opp.show.hash_support", hash=v["handelingsdeel_hash"]))
    if v["hash_checked"] is False:
        lines.append(nl.say("cli.opp.show.hash_mismatch"))
    for c in v["consents"]:
        lines.append(nl.say("cli.opp.show.consent", date=c["date"], status=c["status"], version=c["opp_version"] or "-",
                            counts=nl.say("cli.opp.show.consent_counts") if c["counts_for_this_version"] else ""))
    return "\n".join(lines)


@opp.command("print", help="cli.opp.print.help")
@click.argument("case_id", metavar="CASUS")
@actor_option
@click.option("--out", "out", required=True, metavar="PAD", help="cli.opp.print.option.out")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True,
              help="cli.opp.print.option.format")
@click.option("--version", "version", type=int, default=None, metavar="VERSIE",
              help="cli.opp.print.option.version")
@click.option("--purpose", default=None, metavar="TEKST", help="cli.opp.print.option.purpose")
@json_option
@click.pass_obj
def print_(state: State, case_id: str, actor: str, out: str, fmt: str, version: int | None,
           purpose: str | None) -> None:
    from workflow.service_layer.opp_print import print_opp

    r = print_opp(state.engine(), case_id, actor=actor, fmt=fmt, version=version, out=Path(out), purpose=purpose)
    emit(r, nl.say("cli.opp.print.done", file=r["file"], version=r["opp_version"], format=fmt, bytes=r["bytes"],
                   hash=r["hash"]))


@opp.command("evaluate", help="cli.opp.evaluate.help")
@click.argument("case_id", metavar="CASUS")
@actor_option
@click.option("--goal", "goals", multiple=True, metavar="NUMMER=RESULTAAT",
              help="cli.opp.evaluate.option.goal")
@click.option("--outcome", required=True, type=click.Choice(["voldoende", "onvoldoende"]),
              help="cli.opp.evaluate.option.outcome")
@click.option("--parents", "with_parents", is_flag=True, help="cli.opp.evaluate.option.parents")
@click.option("--date", "date", default=None, metavar="DATUM", help="cli.opp.evaluate.option.date")
@click.option("--notes", default=None, metavar="TEKST", help="cli.opp.evaluate.option.notes")
@json_option
@click.pass_obj
def evaluate(state: State, case_id: str, actor: str, goals: tuple[str, ...], outcome: str, with_parents: bool,
             date: str | None, notes: str | None) -> None:
    from workflow.service_layer import opp as service

    results: dict[int, str] = {}
    for k, v in _pairs(goals, "--goal"):
        if not k.isdigit():
            raise nl.BadValue(nl.say("cli.opp.evaluate.bad_goal", goal=k), param_hint="--goal")
        results[int(k)] = v.strip()
    r = service.evaluate(state.engine(), case_id, actor=actor, results=results, outcome=outcome,
                         with_parents=with_parents, date=date, notes=notes)
    emit(r, nl.say("cli.opp.evaluate.done", case=case_id, version=r["opp_version"], seq=r["seq"]))

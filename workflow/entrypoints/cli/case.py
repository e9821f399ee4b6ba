"""`passend case open | import | list | show | fire | erase`."""

from __future__ import annotations

from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, emit_each, json_option
from workflow.entrypoints.cli.views import render_case

actor_option = click.option("--actor", required=True, metavar="GEBRUIKER",
                            help="cli.case.option.actor")


@click.group(cls=nl.Group, help="cli.case.help")
def case() -> None:
    pass


@case.command("open", help="cli.case.open.help")
@click.option("--pupil", required=True, metavar="KENMERK",
              help="cli.case.open.option.pupil")
@click.option("--school", required=True, metavar="SCHOOL", help="cli.case.open.option.school")
@click.option("--name", default=None, metavar="NAAM", help="cli.case.open.option.name")
@click.option("--group", type=click.IntRange(1, 8), default=None, metavar="GROEP", help="cli.case.open.option.group")
@actor_option
@json_option
@click.pass_obj
def open_(state: State, pupil: str, school: str, name: str | None, group: int | None,
          actor: str) -> None:
    r = state.engine().open_case(pupil=pupil, school=school, actor=actor, name=name, group=group)
    emit(r, nl.say("cli.case.open.done", case=r["case_id"], state=r["state"]))


@case.command("list", help="cli.case.list.help")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.case.list.option.school")
@click.option("--state", "state_name", default=None, metavar="STATUS", help="cli.case.list.option.state")
@click.option("--actor", default=None, metavar="GEBRUIKER",
              help="cli.case.list.option.actor")
@json_option
@click.pass_obj
def list_(state: State, school: str | None, state_name: str | None, actor: str | None) -> None:
    engine = state.engine()
    actor = actor or _default_reader(engine)
    line = nl.sentence("cli.case.list.line")
    emit_each(  # printed as they stream in: a country's list in the memory of one case
        engine.iter_cases(actor=actor, school=school, state=state_name),
        lambda r: line.format(case_id=r["case_id"], school=r["school"], group=r["group"] or "-", state=r["state"],
                              level=r["level"] if r["level"] is not None else "-",
                              closed=f"  ({r['close_reason']})" if r["close_reason"] else ""),
        nl.say("cli.case.list.none"))


def _default_reader(engine: Any) -> str:
    users = [u.id for u in engine.config.users.values() if "*" in u.schools]
    if len(users) != 1:
        raise nl.UsageProblem(nl.say("cli.case.actor_needed"))
    return str(users[0])


@case.command("show", help="cli.case.show.help")
@click.argument("case_id", metavar="CASUS")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.case.show.option.actor")
@click.option("--purpose", default=None, metavar="TEKST", help="cli.case.show.option.purpose")
@click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WIE",
              help="cli.case.show.option.on_behalf_of")
@json_option
@click.pass_obj
def show(state: State, case_id: str, actor: str, purpose: str | None, on_behalf_of: str | None) -> None:
    from workflow.service_layer.queries import case as case_view

    # Engine.case's own call, on the reader's context (on SQLite without SQLAlchemy: State.reader);
    # its plain forms run without click (cli.quick), the same way.
    v = case_view(state.reader(actor), case_id, actor=actor, purpose=purpose, on_behalf_of=on_behalf_of)
    emit(v, render_case(v))


def _trigger_id(engine: Any, given: str) -> str:
    """A trigger named by its id or by its label (as `case show` prints it), case-insensitive."""
    triggers = engine.definition.triggers
    if given in triggers:
        return given
    found = [t for t, td in triggers.items() if td.label.casefold() == given.strip().casefold()]
    return found[0] if len(found) == 1 else given


@case.command("fire", help="cli.case.fire.help")
@click.argument("case_id", metavar="CASUS")
@click.argument("trigger", metavar="STAP")
@actor_option
@click.option("--outcome", default=None, metavar="UITKOMST", help="cli.case.fire.option.outcome")
@click.option("--reason", default=None, metavar="REDEN", help="cli.case.fire.option.reason")
@click.option("--param", "extra", multiple=True, metavar="NAAM=WAARDE",
              help="cli.case.fire.option.param")
@click.option("--expect-version", type=int, default=None, metavar="VERSIE",
              help="cli.case.fire.option.expect_version")
@click.option("--dry-run", is_flag=True, help="cli.case.fire.option.dry_run")
@json_option
@click.pass_obj
def fire(state: State, case_id: str, trigger: str, actor: str, outcome: str | None,
         reason: str | None, extra: tuple[str, ...], expect_version: int | None,
         dry_run: bool) -> None:
    params: dict[str, str] = {}
    if outcome is not None:
        params["outcome"] = outcome
    if reason is not None:
        params["reason"] = reason
    for item in extra:
        if "=" not in item:
            raise nl.BadValue(nl.say("cli.pair.bad", item=item), param_hint="--param")
        k, val = item.split("=", 1)
        params[k] = val
    engine = state.engine()
    trigger = _trigger_id(engine, trigger)
    r = engine.fire(case_id, trigger, actor=actor, params=params, dry_run=dry_run,
                    expected_version=expect_version)
    d = engine.definition
    source = d.states[r["source"]].label if r["source"] in d.states else r["source"]
    if dry_run:
        text = nl.say("cli.case.fire.allowed", trigger=r["trigger_label"], source=source, dest=r["dest_label"])
    else:
        text = nl.say("cli.case.fire.done", case=case_id, trigger=r["trigger_label"], source=source,
                      dest=r["dest_label"], version=r["version"])
    emit(r, text)


@case.command("erase", help="cli.case.erase.help")
@click.argument("case_id", metavar="[CASUS]", required=False)
@click.option("--actor", default=None, metavar="GEBRUIKER",
              help="cli.case.erase.option.actor")
@click.option("--reason", default=None, metavar="REDEN",
              help="cli.case.erase.option.reason")
@click.option("--due", is_flag=True, help="cli.case.erase.option.due")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.case.erase.option.school")
@json_option
@click.pass_obj
def erase(state: State, case_id: str | None, actor: str | None, reason: str | None, due: bool,
          school: str | None) -> None:
    engine = state.engine()
    if due:
        if case_id is not None:
            raise nl.UsageProblem(nl.say("cli.case.erase.case_or_due"))
        from workflow.service_layer.erasure import cases_due_for_erasure

        if school is not None and school not in engine.config.schools:
            raise nl.BadValue(nl.say("cli.case.erase.unknown_school", school=school), param_hint="--school")
        rows = cases_due_for_erasure(engine, school=school)
        text = "\n".join(
            nl.say("cli.case.erase.due.line", case_id=r["case_id"], school=r["school"], closed=r["closed_at"][:10],
                   reason=r["close_reason"], due=r["due"])
            for r in rows
        ) or nl.say("cli.case.erase.due.none")
        emit(rows, text)
        return
    if case_id is None:
        raise nl.UsageProblem(nl.say("cli.case.erase.case_needed"))
    missing = [name for name, value in (("--actor", actor), ("--reason", reason)) if value is None]
    if actor is None or reason is None:
        raise nl.UsageProblem(nl.say("cli.case.erase.also_needs", options=f" {nl.say('word.and')} ".join(missing)))
    r = engine.erase(case_id, actor=actor, reason=reason)
    emit(r, nl.say("cli.case.erase.done", case=case_id, seq=r["seq"]))


@case.command("import", help="cli.case.import.help")
@click.argument("file", metavar="[BESTAND.csv]", required=False)
@click.option("--pupil", default=None, metavar="KENMERK", help="cli.case.import.option.pupil")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.case.import.option.school")
@click.option("--state", "state_name", default=None, metavar="STATUS",
              help="cli.case.import.option.state")
@click.option("--since", default=None, metavar="DATUM", help="cli.case.import.option.since")
@click.option("--opp-adopted-on", "opp_adopted_on", default=None, metavar="DATUM",
              help="cli.case.import.option.opp_adopted_on")
@click.option("--rod-start-registered-on", "rod_start_registered_on", default=None, metavar="DATUM",
              help="cli.case.import.option.rod_start_registered_on")
@click.option("--reason", default=None, metavar="REDEN",
              help="cli.case.import.option.reason")
@click.option("--name", default=None, metavar="NAAM", help="cli.case.import.option.name")
@click.option("--group", default=None, metavar="GROEP", help="cli.case.import.option.group")
@click.option("--dry-run", is_flag=True, help="cli.case.import.option.dry_run")
@actor_option
@json_option
@click.pass_obj
def import_(state: State, file: str | None, pupil: str | None, school: str | None, state_name: str | None,
            since: str | None, opp_adopted_on: str | None, rod_start_registered_on: str | None,
            reason: str | None, name: str | None, group: str | None, dry_run: bool, actor: str) -> None:
    from pathlib import Path

    from workflow.service_layer import imports

    engine = state.engine()
    single = {"pupil": pupil, "school": school, "state": state_name, "since": since, "reason": reason,
              "opp_adopted_on": opp_adopted_on, "rod_start_registered_on": rod_start_registered_on,
              "name": name, "group": group}
    if file is not None:
        given = [k for k, v in single.items() if v is not None]
        if given:
            raise nl.UsageProblem(nl.say("cli.case.import.file_or_options", option=f"--{given[0]}"))
        r = imports.import_csv(engine, Path(file), actor=actor, dry_run=dry_run)
    else:
        if pupil is None:
            raise nl.UsageProblem(nl.say("cli.case.import.file_needed"))
        if dry_run:
            raise nl.UsageProblem(nl.say("cli.case.import.dry_run_file"))
        r = imports.import_one(engine, actor=actor, **{k: v for k, v in single.items() if v is not None})
    if r["dry_run"]:
        checked = "cli.case.import.checked.one" if r["cases"] == 1 else "cli.case.import.checked"
        emit(r, nl.say(checked, cases=r["cases"]))
    else:
        done = "cli.case.import.done.one" if r["cases"] == 1 else "cli.case.import.done"
        emit(r, nl.say(done, cases=r["cases"], ids=", ".join(r["case_ids"][:10])
                       + (" ..." if len(r["case_ids"]) > 10 else "")))

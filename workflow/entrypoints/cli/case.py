"""`passend case open | import | list | show | fire | erase`."""

from __future__ import annotations

from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, emit_each, json_option
from workflow.entrypoints.cli.views import render_case

actor_option = click.option("--actor", required=True, metavar="GEBRUIKER",
                            help="Wie dit doet (een gebruiker uit config.toml).")


@click.group(cls=nl.Group)
def case() -> None:
    """Casussen openen, opsommen, tonen, een stap verder zetten en wissen."""


@case.command("open")
@click.option("--pupil", required=True, metavar="KENMERK",
              help="Het kenmerk van de leerling bij de school (bijvoorbeeld het leerlingnummer).")
@click.option("--school", required=True, metavar="SCHOOL", help="De school (een school uit config.toml).")
@click.option("--name", default=None, metavar="NAAM", help="De naam van de leerling (versleuteld opgeslagen).")
@click.option("--group", type=click.IntRange(1, 8), default=None, metavar="GROEP", help="De groep van de leerling.")
@actor_option
@json_option
@click.pass_obj
def open_(state: State, pupil: str, school: str, name: str | None, group: int | None,
          actor: str) -> None:
    """Open een casus voor een leerling.

    De casus begint op het eerste niveau van het proces.
    """
    r = state.engine().open_case(pupil=pupil, school=school, actor=actor, name=name, group=group)
    emit(r, f"{r['case_id']} geopend in {r['state']}")


@case.command("list")
@click.option("--school", default=None, metavar="SCHOOL", help="Alleen de casussen van deze school.")
@click.option("--state", "state_name", default=None, metavar="STATUS", help="Alleen casussen in deze status.")
@click.option("--actor", default=None, metavar="GEBRUIKER",
              help="Wie kijkt (standaard: de enige gebruiker met toegang tot alle scholen).")
@json_option
@click.pass_obj
def list_(state: State, school: str | None, state_name: str | None, actor: str | None) -> None:
    """Som de casussen op (zonder persoonsgegevens)."""
    engine = state.engine()
    actor = actor or _default_reader(engine)
    emit_each(  # printed as they stream in: a country's list in the memory of one case
        engine.iter_cases(actor=actor, school=school, state=state_name),
        lambda r: (f"{r['case_id']:<12} {r['school']:<14} groep {r['group'] or '-':<2} "
                   f"{r['state']:<16} niveau {r['level'] if r['level'] is not None else '-'}"
                   + (f"  ({r['close_reason']})" if r["close_reason"] else "")),
        "geen casussen")


def _default_reader(engine: Any) -> str:
    users = [u.id for u in engine.config.users.values() if "*" in u.schools]
    if len(users) != 1:
        raise nl.UsageProblem("geef --actor: welke gebruiker vraagt dit?")
    return str(users[0])


@case.command("show")
@click.argument("case_id", metavar="CASUS")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="Wie kijkt (een gebruiker uit config.toml).")
@click.option("--purpose", default=None, metavar="TEKST", help="Waarom u kijkt (komt in het inzagelog).")
@click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WIE",
              help="Namens wie u kijkt (komt in het inzagelog).")
@json_option
@click.pass_obj
def show(state: State, case_id: str, actor: str, purpose: str | None, on_behalf_of: str | None) -> None:
    """Toon een casus en de stappen die vanaf hier kunnen.

    Status, niveau, termijnen, bewijs, en elke stap die vanaf hier kan, met alles wat daarvoor
    nog ontbreekt.
    """
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


@case.command("fire")
@click.argument("case_id", metavar="CASUS")
@click.argument("trigger", metavar="STAP")
@actor_option
@click.option("--outcome", default=None, metavar="UITKOMST", help="De uitkomst (bij de stap bot_outcome).")
@click.option("--reason", default=None, metavar="REDEN", help="De reden (bij de stap close).")
@click.option("--param", "extra", multiple=True, metavar="NAAM=WAARDE",
              help="Een andere waarde die de stap vraagt (mag vaker).")
@click.option("--expect-version", type=int, default=None, metavar="VERSIE",
              help="Weiger (code 4) als de casus veranderd is sinds u deze versie zag.")
@click.option("--dry-run", is_flag=True, help="Alleen de voorwaarden nagaan; niets opslaan.")
@json_option
@click.pass_obj
def fire(state: State, case_id: str, trigger: str, actor: str, outcome: str | None,
         reason: str | None, extra: tuple[str, ...], expect_version: int | None,
         dry_run: bool) -> None:
    """Zet een casus een stap verder.

    STAP is de naam of het label van de stap, zoals case show het toont. Alleen als aan elke
    voorwaarde is voldaan; anders noemt passend elke reden (code 3).
    """
    params: dict[str, str] = {}
    if outcome is not None:
        params["outcome"] = outcome
    if reason is not None:
        params["reason"] = reason
    for item in extra:
        if "=" not in item:
            raise nl.BadValue(f"'{item}' heeft niet de vorm NAAM=WAARDE", param_hint="--param")
        k, val = item.split("=", 1)
        params[k] = val
    engine = state.engine()
    trigger = _trigger_id(engine, trigger)
    r = engine.fire(case_id, trigger, actor=actor, params=params, dry_run=dry_run,
                    expected_version=expect_version)
    d = engine.definition
    source = d.states[r["source"]].label if r["source"] in d.states else r["source"]
    if dry_run:
        text = f"{r['trigger_label']} is toegestaan: {source} -> {r['dest_label']} (niets opgeslagen)"
    else:
        text = f"{case_id}: {r['trigger_label']}: {source} -> {r['dest_label']} (versie {r['version']})"
    emit(r, text)


@case.command("erase")
@click.argument("case_id", metavar="[CASUS]", required=False)
@click.option("--actor", default=None, metavar="GEBRUIKER",
              help="Wie wist (een gebruiker uit config.toml); nodig om te wissen.")
@click.option("--reason", default=None, metavar="REDEN",
              help="Waarom (zonder persoonsgegevens), bijvoorbeeld 'bewaartermijn verstreken'; nodig om te wissen.")
@click.option("--due", is_flag=True, help="Toon alleen de gesloten casussen waarvan de bewaartermijn voorbij is.")
@click.option("--school", default=None, metavar="SCHOOL", help="Met --due: alleen deze school.")
@json_option
@click.pass_obj
def erase(state: State, case_id: str | None, actor: str | None, reason: str | None, due: bool,
          school: str | None) -> None:
    """Wis een gesloten casus na de bewaartermijn.

    De sleutel van de casus wordt vernietigd, zodat de persoonsgegevens niet meer te lezen zijn;
    het bewijs van het proces blijft. Voor het eind van de bewaartermijn: code 3.
    """
    engine = state.engine()
    if due:
        if case_id is not None:
            raise nl.UsageProblem("geef een CASUS of --due, niet allebei")
        from workflow.service_layer.erasure import cases_due_for_erasure

        if school is not None and school not in engine.config.schools:
            raise nl.BadValue(f"onbekende school '{school}'", param_hint="--school")
        rows = cases_due_for_erasure(engine, school=school)
        text = "\n".join(
            f"{r['case_id']:<12} {r['school']:<14} gesloten {r['closed_at'][:10]} ({r['close_reason']}), "
            f"wissen vanaf {r['due']}"
            for r in rows
        ) or "geen casussen om te wissen"
        emit(rows, text)
        return
    if case_id is None:
        raise nl.UsageProblem("geef de CASUS die gewist wordt, of --due voor wat gewist mag worden")
    missing = [name for name, value in (("--actor", actor), ("--reason", reason)) if value is None]
    if actor is None or reason is None:
        raise nl.UsageProblem(f"wissen vraagt ook {' en '.join(missing)}")
    r = engine.erase(case_id, actor=actor, reason=reason)
    emit(r, f"{case_id}: sleutel vernietigd, persoonsgegevens gewist (gebeurtenis {r['seq']})")


@case.command("import")
@click.argument("file", metavar="[BESTAND.csv]", required=False)
@click.option("--pupil", default=None, metavar="KENMERK", help="Zonder bestand: het kenmerk van de leerling.")
@click.option("--school", default=None, metavar="SCHOOL", help="Zonder bestand: de school.")
@click.option("--state", "state_name", default=None, metavar="STATUS",
              help="Zonder bestand: de status of het niveau, bijvoorbeeld niveau_3, 3 of opp_vastgesteld.")
@click.option("--since", default=None, metavar="DATUM", help="Zonder bestand: de dag waarop het niveau begon.")
@click.option("--opp-adopted-on", "opp_adopted_on", default=None, metavar="DATUM",
              help="Zonder bestand: de dag waarop het OPP is vastgesteld (bij een vastgesteld OPP).")
@click.option("--rod-start-registered-on", "rod_start_registered_on", default=None, metavar="DATUM",
              help="Zonder bestand: de dag waarop de begindatum van het OPP in ROD is geregistreerd.")
@click.option("--reason", default=None, metavar="REDEN",
              help="Zonder bestand: waarom de casus wordt ingevoerd (zonder persoonsgegevens).")
@click.option("--name", default=None, metavar="NAAM", help="Zonder bestand: de naam van de leerling.")
@click.option("--group", default=None, metavar="GROEP", help="Zonder bestand: de groep van de leerling.")
@click.option("--dry-run", is_flag=True, help="Alleen nagaan; niets invoeren.")
@actor_option
@json_option
@click.pass_obj
def import_(state: State, file: str | None, pupil: str | None, school: str | None, state_name: str | None,
            since: str | None, opp_adopted_on: str | None, rod_start_registered_on: str | None,
            reason: str | None, name: str | None, group: str | None, dry_run: bool, actor: str) -> None:
    """Voer bestaande casussen in: op een niveau of met een OPP, met de datum waarop het begon.

    Uit een CSV-bestand (kolommen: pupil, school, state, since, reason en naar keuze
    opp_adopted_on, rod_start_registered_on, name, group), of een enkele casus met de opties.
    Eerst wordt elke regel nagegaan: een fout noemt het regelnummer en dan wordt niets ingevoerd.
    """
    from pathlib import Path

    from workflow.service_layer import imports

    engine = state.engine()
    single = {"pupil": pupil, "school": school, "state": state_name, "since": since, "reason": reason,
              "opp_adopted_on": opp_adopted_on, "rod_start_registered_on": rod_start_registered_on,
              "name": name, "group": group}
    if file is not None:
        given = [k for k, v in single.items() if v is not None]
        if given:
            raise nl.UsageProblem(f"geef een BESTAND of de opties van één casus, niet allebei (--{given[0]})")
        r = imports.import_csv(engine, Path(file), actor=actor, dry_run=dry_run)
    else:
        if pupil is None:
            raise nl.UsageProblem("geef een BESTAND.csv, of --pupil, --school, --state, --since en --reason")
        if dry_run:
            raise nl.UsageProblem("--dry-run hoort bij een BESTAND")
        r = imports.import_one(engine, actor=actor, **{k: v for k, v in single.items() if v is not None})
    if r["dry_run"]:
        emit(r, f"{r['cases']} casussen nagegaan: alles in orde (niets ingevoerd)")
    else:
        emit(r, f"{r['cases']} casussen ingevoerd: " + ", ".join(r["case_ids"][:10])
             + (" ..." if len(r["case_ids"]) > 10 else ""))

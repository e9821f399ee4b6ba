"""`passend case open | list | show | fire | erase`."""

from __future__ import annotations

from typing import Any

import click

from workflow.entrypoints.cli.main import State, emit, emit_each, json_option

actor_option = click.option("--actor", required=True, metavar="USER",
                            help="Who does this (a user id from config.toml).")


@click.group()
def case() -> None:
    """Open, list, show and move cases."""


@case.command("open")
@click.option("--pupil", required=True, metavar="REF", help="The school's pupil reference.")
@click.option("--school", required=True, metavar="SCHOOL")
@click.option("--name", default=None, help="Pupil's name (stored encrypted).")
@click.option("--group", type=click.IntRange(1, 8), default=None, help="Groep 1-8.")
@actor_option
@json_option
@click.pass_obj
def open_(state: State, pupil: str, school: str, name: str | None, group: int | None,
          actor: str) -> None:
    """Open a case for a pupil; it starts at the process's first level."""
    r = state.engine().open_case(pupil=pupil, school=school, actor=actor, name=name, group=group)
    emit(r, f"{r['case_id']} geopend in {r['state']}")


@case.command("list")
@click.option("--school", default=None)
@click.option("--state", "state_name", default=None, help="Only cases in this state.")
@click.option("--actor", default=None, metavar="USER",
              help="Whose view (default: the only user with access to every school).")
@json_option
@click.pass_obj
def list_(state: State, school: str | None, state_name: str | None, actor: str | None) -> None:
    """List cases (no personal data)."""
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
        raise click.UsageError("--actor is required (which user is asking?)")
    return str(users[0])


@case.command("show")
@click.argument("case_id", metavar="CASE")
@click.option("--actor", required=True, metavar="USER")
@click.option("--purpose", default=None, metavar="TEXT", help="Why you look (kept in the access log).")
@click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WHO",
              help="On whose behalf (kept in the access log).")
@json_option
@click.pass_obj
def show(state: State, case_id: str, actor: str, purpose: str | None, on_behalf_of: str | None) -> None:
    """State, level, evidence, and every trigger possible from here with its reasons."""
    v = state.engine().case(case_id, actor=actor, purpose=purpose, on_behalf_of=on_behalf_of)
    emit(v, render_case(v))


def render_case(v: dict[str, Any]) -> str:
    lines = [
        f"Casus {v['case_id']}  school {v['school']}, groep {v['group'] or '-'}",
        f"Leerling: {v['pupil']}" + (f"  ({v['name']})" if v["name"] else ""),
        f"Status:   {v['state']}: {v['state_label']}  (niveau {v['level'] if v['level'] is not None else '-'}, "
        f"versie {v['version']}, proces {v['process']})",
    ]
    if v["closed_at"]:
        lines.append(f"Gesloten: {v['closed_at'][:10]} ({v['close_reason']})")
    for d in v.get("deadlines", []):
        lines.append(f"Termijn:  {d['name']} op {d['due']} ({d['status']})")
    lines.append("Bewijs:")
    if not v["evidence"]:
        lines.append("  (nog niets vastgelegd)")
    for e in v["evidence"]:
        detail = ", ".join(f"{k}={val}" for k, val in e["fields"].items())
        lines.append(f"  #{e['seq']:<3} {e['date']} {e['kind']:<10} niveau {e['level']}: {detail}")
    lines.append("Mogelijke stappen:")
    if not v["options"]:
        lines.append("  (geen)")
    for o in v["options"]:
        mark = "ja " if o["allowed"] else "nee"
        params = " ".join(f"--{k} {val}" for k, val in o["params"].items())
        lines.append(f"  [{mark}] {o['trigger']} {params}".rstrip() + f" -> {o['dest']}")
        lines.extend(f"        - {r}" for r in o["reasons"])
    return "\n".join(lines)


@case.command("fire")
@click.argument("case_id", metavar="CASE")
@click.argument("trigger")
@actor_option
@click.option("--outcome", default=None, help="Outcome parameter (bot_outcome).")
@click.option("--reason", default=None, help="Reason parameter (close).")
@click.option("--param", "extra", multiple=True, metavar="NAME=VALUE",
              help="Any other trigger parameter.")
@click.option("--expect-version", type=int, default=None,
              help="Refuse (exit 4) if the case changed since you saw this version.")
@click.option("--dry-run", is_flag=True, help="Check the guards; store nothing.")
@json_option
@click.pass_obj
def fire(state: State, case_id: str, trigger: str, actor: str, outcome: str | None,
         reason: str | None, extra: tuple[str, ...], expect_version: int | None,
         dry_run: bool) -> None:
    """Move a case along TRIGGER if every guard holds; otherwise print every reason (exit 3)."""
    params: dict[str, str] = {}
    if outcome is not None:
        params["outcome"] = outcome
    if reason is not None:
        params["reason"] = reason
    for item in extra:
        if "=" not in item:
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--param")
        k, val = item.split("=", 1)
        params[k] = val
    r = state.engine().fire(case_id, trigger, actor=actor, params=params, dry_run=dry_run,
                            expected_version=expect_version)
    if dry_run:
        text = f"{trigger} is toegestaan: {r['source']} -> {r['dest']} (niets opgeslagen)"
    else:
        text = f"{case_id}: {r['source']} -> {r['state']} (versie {r['version']})"
    emit(r, text)


@case.command("erase")
@click.argument("case_id", metavar="CASE", required=False)
@click.option("--actor", default=None, metavar="USER", help="Who erases (a user id from config.toml).")
@click.option("--reason", default=None, help="Why (no personal data), e.g. 'bewaartermijn verstreken'.")
@click.option("--due", is_flag=True, help="Only list the closed cases whose retention period has passed.")
@click.option("--school", default=None, help="With --due: only this school.")
@json_option
@click.pass_obj
def erase(state: State, case_id: str | None, actor: str | None, reason: str | None, due: bool,
          school: str | None) -> None:
    """Destroy a closed case's key after its retention period (exit 3 before); the proof stays."""
    engine = state.engine()
    if due:
        if case_id is not None:
            raise click.UsageError("give either CASE or --due, not both")
        from workflow.service_layer.erasure import cases_due_for_erasure

        if school is not None and school not in engine.config.schools:
            raise click.BadParameter(f"unknown school '{school}'", param_hint="--school")
        rows = cases_due_for_erasure(engine, school=school)
        text = "\n".join(
            f"{r['case_id']:<12} {r['school']:<14} gesloten {r['closed_at'][:10]} ({r['close_reason']}), "
            f"wissen vanaf {r['due']}"
            for r in rows
        ) or "geen casussen om te wissen"
        emit(rows, text)
        return
    if case_id is None:
        raise click.UsageError("give a CASE to erase, or --due to list what is due")
    if actor is None or reason is None:
        raise click.UsageError("erasing needs --actor and --reason")
    r = engine.erase(case_id, actor=actor, reason=reason)
    emit(r, f"{case_id}: sleutel vernietigd, persoonsgegevens gewist (gebeurtenis {r['seq']})")

"""`passend process show | migrate`."""

from __future__ import annotations

import json
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, json_option


@click.group(cls=nl.Group, help="cli.process.help")
def process() -> None:
    pass


@process.command("show", help="cli.process.show.help")
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "json"]), default="text",
              show_default=True, help="cli.process.show.option.format")
@click.option("--version", "version", type=int, default=None, metavar="VERSIE",
              help="cli.process.show.option.version")
@json_option
@click.pass_obj
def show(state: State, fmt: str, version: int | None) -> None:
    from workflow.adapters.config import load_config
    from workflow.domain.definition import DefinitionRegistry
    from workflow.messages import with_text

    cfg = load_config(state.config)
    reg = DefinitionRegistry.from_folder(cfg.definitions_folder, cfg.definition_file)
    d = reg.active if version is None else reg.get(reg.active.id, version)
    if fmt == "mermaid" and not state.json:
        from workflow.domain.machine import mermaid

        click.echo(mermaid(d))
        return
    data: dict[str, Any] = {
        "id": d.id, "version": d.version, "title": d.title, "initial": d.initial,
        "states": {s.name: {"level": s.level, "label": s.label, "final": s.final,
                            "pauses_deadlines": s.pauses_deadlines} for s in d.states.values()},
        "transitions": [
            {"trigger": t.trigger, "source": t.source, "dest": t.dest, "roles": list(t.roles),
             "when": {k: list(v) for k, v in t.when.items()},
             "label": d.triggers[t.trigger].label,
             "guards": [with_text(g.explain({k: v[0] for k, v in t.when.items()}, t.source), d)
                        for g in t.guards]}
            for t in d.transitions
        ],
    }
    if fmt == "json" or state.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    lines = [f"{d.title} ({d.id}, versie {d.version})", ""]
    for t in data["transitions"]:
        when = ", ".join(k + "=" + "/".join(v) for k, v in t["when"].items())
        when = f" [{when}]" if when else ""
        roles = ", ".join(t["roles"])
        lines.append(f"{t['trigger']}{when}: {t['source']} -> {t['dest']}  ({t['label']}; rollen: {roles})")
        lines.extend(f"    - {g['text']}" for g in t["guards"])
    click.echo("\n".join(lines))


@process.command("migrate", help="cli.process.migrate.help")
@click.option("--to", "to", type=int, required=True, metavar="VERSIE",
              help="cli.process.migrate.option.to")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.process.migrate.option.school")
@click.option("--case", "case_id", default=None, metavar="CASUS", help="cli.process.migrate.option.case")
@click.option("--dry-run", is_flag=True, help="cli.process.migrate.option.dry_run")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.process.migrate.option.actor")
@json_option
@click.pass_obj
def migrate(state: State, to: int, school: str | None, case_id: str | None, dry_run: bool, actor: str) -> None:
    from workflow.entrypoints.cli.app import emit
    from workflow.service_layer.migrate import migrate as service

    r = service(state.engine(), to=to, actor=actor, school=school, dry_run=dry_run, case_id=case_id)
    lines = []
    for c in r["cases"]:
        what = f"{c['source']} -> {c['dest']}" if c["ok"] else nl.say("cli.process.migrate.refused",
                                                                        problem=c["problem"])
        lines.append(nl.say("cli.process.migrate.line", case_id=c["case_id"], school=c["school"], source=c["from"][1],
                            dest=c["to"][1], what=what))
    if r["dry_run"]:
        lines.append(nl.say("cli.process.migrate.checked", cases=len(r["cases"]), version=r["from"],
                            refused=r["refused"]))
    else:
        lines.append(nl.say("cli.process.migrate.done", moved=r["moved"], version=r["to"]))
    emit(r, "\n".join(lines))

"""`passend rod list | mark`: the OPP dates due for the Register Onderwijsdeelnemers (ROD)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option

COLUMNS = ("case_id", "school", "which", "opp_date", "due", "status", "registered_on", "closed")
STATUS = {"registered": "cli.rod.status.registered", "open": "cli.rod.status.open", "overdue": "cli.rod.status.overdue"}


@click.group(cls=nl.Group, help="cli.rod.help")
def rod() -> None:
    pass


@rod.command("list", help="cli.rod.list.help")
@click.option("--unregistered", is_flag=True, help="cli.rod.list.option.unregistered")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True,
              help="cli.rod.list.option.format")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.rod.list.option.school")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.rod.list.option.actor")
@json_option
@click.pass_obj
def list_(state: State, unregistered: bool, fmt: str, school: str | None, actor: str) -> None:
    from workflow.service_layer.rod import rod_list

    rows = list(rod_list(state.engine(), actor=actor, school=school, unregistered=unregistered))
    if fmt == "json" or state.json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["ja" if r[c] is True else "nee" if r[c] is False else r[c] or "" for c in COLUMNS])
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo(nl.say("cli.rod.list.none.unregistered" if unregistered else "cli.rod.list.none"))
        return
    for r in rows:
        done = nl.say("cli.rod.list.registered", date=r["registered_on"]) if r["registered_on"] else \
            nl.say("cli.rod.list.due", status=nl.say(STATUS[r["status"]]), due=r["due"])
        click.echo(f"{r['case_id']:<12} {r['school']:<14} {r['which_label']:<10} {r['opp_date']}  {done}")


@rod.command("mark", help="cli.rod.mark.help")
@click.argument("case_id", metavar="CASUS")
@click.option("--start", "which", flag_value="start", default=None, help="cli.rod.mark.option.start")
@click.option("--end", "which", flag_value="end", help="cli.rod.mark.option.end")
@click.option("--registered-on", "registered_on", required=True, metavar="DATUM",
              help="cli.rod.mark.option.registered_on")
@click.option("--opp-date", "opp_date", default=None, metavar="DATUM",
              help="cli.rod.mark.option.opp_date")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.rod.mark.option.actor")
@json_option
@click.pass_obj
def mark(state: State, case_id: str, which: str | None, registered_on: str, opp_date: str | None,
         actor: str) -> None:
    from workflow.service_layer.rod import mark as service

    if which is None:
        raise nl.UsageProblem(nl.say("cli.rod.mark.start_or_end"))
    r: dict[str, Any] = service(state.engine(), case_id, actor=actor, which=which, registered_on=registered_on,
                                opp_date=opp_date)
    emit(r, nl.say("cli.rod.mark.done", case=case_id,
                   which=nl.say("cli.rod.mark.start" if which == "start" else "cli.rod.mark.end"),
                   opp_date=r["opp_date"], registered_on=r["registered_on"], seq=r["seq"]))

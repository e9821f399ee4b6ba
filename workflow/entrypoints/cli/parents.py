"""`passend parent add | remove | list`: the parents and guardians on a case.

Inviting a parent (a sign-in link by e-mail) is done on the case page of the web app, which
knows the address the link must point to; see docs/parents.md.
"""

from __future__ import annotations

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


@click.group(cls=nl.Group, help="cli.parent.help")
def parent() -> None:
    pass


@parent.command("add", help="cli.parent.add.help")
@click.argument("case_id", metavar="CASUS")
@click.option("--name", required=True, metavar="NAAM", help="cli.parent.add.option.name")
@click.option("--email", required=True, metavar="ADRES", help="cli.parent.add.option.email")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.parent.add.option.actor")
@json_option
@click.pass_obj
def add(state: State, case_id: str, name: str, email: str, actor: str) -> None:
    from workflow.service_layer import parents

    parents.add(state.engine(), case_id, actor=actor, name=name, email=email)
    emit({"case_id": case_id, "added": True}, nl.say("cli.parent.add.done", case=case_id))


@parent.command("remove", help="cli.parent.remove.help")
@click.argument("case_id", metavar="CASUS")
@click.option("--email", required=True, metavar="ADRES", help="cli.parent.remove.option.email")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.parent.remove.option.actor")
@json_option
@click.pass_obj
def remove(state: State, case_id: str, email: str, actor: str) -> None:
    from workflow.domain.errors import NotFound
    from workflow.service_layer import parents

    engine = state.engine()
    wanted = email.strip().lower()
    found = [p for p in parents.listing(engine, case_id, actor=actor) if p.email == wanted]
    if not found:
        raise NotFound(nl.say("cli.parents.remove.unknown", case=case_id))
    parents.remove(engine, case_id, found[0].id, actor=actor)
    emit({"case_id": case_id, "removed": True}, nl.say("cli.parent.remove.done", case=case_id))


@parent.command("list", help="cli.parent.list.help")
@click.argument("case_id", metavar="CASUS")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.parent.list.option.actor")
@json_option
@click.pass_obj
def list_(state: State, case_id: str, actor: str) -> None:
    from workflow.service_layer import parents

    rows = parents.listing(state.engine(), case_id, actor=actor)
    emit([{"name": p.name, "email": p.email, "added_at": p.added_at.isoformat()} for p in rows],
         "\n".join(nl.say("cli.parent.list.line", name=p.name, email=p.email, since=p.added_at.date().isoformat())
                   for p in rows)
         or nl.say("cli.parent.list.none", case=case_id))

"""`passend token add | list | revoke`: the JSON API's bearer tokens, one per integration.

The operator's tool for which of a school's own systems may use the API, as which role and for
which schools. `add` prints the secret once: only its keyed hash is stored, so a lost secret is
revoked and replaced, never shown again. A revoked token is refused by every running `passend
web` from that moment. Exit codes as everywhere: 0 done; 2 bad input (a name in use or unknown,
an unknown role or school); 1 other.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


def _operator() -> str:
    """Who made the token: the operating-system account that ran the command."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "onbekend"
    return ("cli:" + name)[:128]


@click.group("token", cls=nl.Group, help="cli.token.help")
def token() -> None:
    pass


@token.command("add", help="cli.token.add.help")
@click.argument("name", metavar="NAAM")
@click.option("--role", required=True, metavar="ROL", help="cli.token.add.option.role")
@click.option("--school", "schools", multiple=True, required=True, metavar="SCHOOL",
              help="cli.token.add.option.school")
@json_option
@click.pass_obj
def add(state: State, name: str, role: str, schools: tuple[str, ...]) -> None:
    from workflow.service_layer import tokens

    engine = state.engine()
    record, secret = tokens.add(engine, name=name, role=role, schools=schools, roles=engine.definition.roles,
                                known_schools=engine.config.schools, created_by=_operator())
    emit({**record.as_dict(), "secret": secret},
         nl.say("cli.token.add.done", name=record.name, role=record.role, schools=", ".join(record.schools),
                secret=secret))


@token.command("list", help="cli.token.list.help")
@json_option
@click.pass_obj
def list_(state: State) -> None:
    from workflow.service_layer import tokens

    records = [r.as_dict() for r in tokens.all_tokens(state.engine())]
    emit(records, "\n".join(_line(r) for r in records) or nl.say("cli.token.list.none"))


@token.command("revoke", help="cli.token.revoke.help")
@click.argument("name", metavar="NAAM")
@json_option
@click.pass_obj
def revoke(state: State, name: str) -> None:
    from workflow.service_layer import tokens

    record, changed = tokens.revoke(state.engine(), name)
    emit({**record.as_dict(), "changed": changed},
         nl.say("cli.token.revoke.done" if changed else "cli.token.revoke.already", name=record.name))


def _line(t: dict[str, Any]) -> str:
    status = nl.say("cli.token.list.revoked" if t["revoked_at"] else "cli.token.list.active")
    used = t["last_used_at"][:16] if t["last_used_at"] else nl.say("cli.token.list.never")
    return nl.say("cli.token.list.line", name=t["name"], role=t["role"], schools=",".join(t["schools"]),
                  status=status, created=t["created_at"][:10], by=t["created_by"], used=used)

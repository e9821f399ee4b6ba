"""`passend user add | disable | enable | list | reset-code`: the users in the database.

The operator's tool for who may sign in. Exit codes as everywhere: 0 done; 2 bad input (an
unknown role, school or user, an id or address already in use, an invalid address); 1 other.
"""

from __future__ import annotations

from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


@click.group("user", cls=nl.Group, help="cli.user.help")
def user() -> None:
    pass


@user.command("add", help="cli.user.add.help")
@click.argument("user_id", metavar="ID")
@click.option("--role", required=True, metavar="ROL", help="cli.user.add.option.role")
@click.option("--school", "schools", multiple=True, required=True, metavar="SCHOOL",
              help="cli.user.add.option.school")
@click.option("--name", default="", metavar="NAAM", help="cli.user.add.option.name")
@click.option("--email", default=None, metavar="ADRES", help="cli.user.add.option.email")
@json_option
@click.pass_obj
def add(state: State, user_id: str, role: str, schools: tuple[str, ...], name: str, email: str | None) -> None:
    engine = state.engine()
    record = engine.users.add(
        user_id=user_id, role=role, schools=schools, name=name, email=email,
        roles=engine.definition.roles, known_schools=engine.config.schools, now=engine.clock())
    emit(record.as_dict(), nl.say("cli.user.add.done", user=record.id, role=record.role,
                                  schools=", ".join(record.schools)))


@user.command("disable", help="cli.user.disable.help")
@click.argument("user_id", metavar="ID")
@json_option
@click.pass_obj
def disable(state: State, user_id: str) -> None:
    engine = state.engine()
    record, changed = engine.users.set_disabled(user_id, True, now=engine.clock())
    emit({**record.as_dict(), "changed": changed},
         nl.say("cli.user.disable.done" if changed else "cli.user.disable.already", user=record.id))


@user.command("enable", help="cli.user.enable.help")
@click.argument("user_id", metavar="ID")
@json_option
@click.pass_obj
def enable(state: State, user_id: str) -> None:
    engine = state.engine()
    record, changed = engine.users.set_disabled(user_id, False, now=engine.clock())
    emit({**record.as_dict(), "changed": changed},
         nl.say("cli.user.enable.done" if changed else "cli.user.enable.already", user=record.id))


@user.command("reset-code", help="cli.user.reset_code.help")
@click.argument("user_id", metavar="ID")
@json_option
@click.pass_obj
def reset_code(state: State, user_id: str) -> None:
    engine = state.engine()
    record = engine.users.reset_totp(user_id, now=engine.clock())
    emit(record.as_dict(), nl.say("cli.user.reset_code.done", user=record.id))


@user.command("list", help="cli.user.list.help")
@json_option
@click.pass_obj
def list_(state: State) -> None:
    records = state.engine().users.all()
    emit([r.as_dict() for r in records], "\n".join(_line(r.as_dict()) for r in records)
         or nl.say("cli.user.list.none"))


def _line(u: dict[str, Any]) -> str:
    status = nl.say("cli.user.list.active" if u["active"] else "cli.user.list.disabled")
    code = nl.say("cli.user.list.code" if u["totp"] else "cli.user.list.no_code")
    return (f"{u['id']:<16} {u['role']:<11} {','.join(u['schools']):<20} {u['email'] or '-':<34} "
            f"{status:<13} {code:<18} ({u['managed']})")

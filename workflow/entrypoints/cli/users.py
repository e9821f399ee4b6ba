"""`passend user add | disable | enable | list | reset-code`: the users in the database.

The operator's tool for who may sign in. Exit codes as everywhere: 0 done; 2 bad input (an
unknown role, school or user, an id or address already in use, an invalid address); 1 other.
"""

from __future__ import annotations

from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


@click.group("user", cls=nl.Group)
def user() -> None:
    """Gebruikers: toevoegen, uitschakelen, weer aanzetten, tonen.

    Gebruikers uit config.toml komen erin met 'passend init'; het bestand bepaalt hun rol,
    scholen en e-mailadres. Een uitgeschakelde gebruiker blijft uitgeschakeld, ook na init.
    """


@user.command("add")
@click.argument("user_id", metavar="ID")
@click.option("--role", required=True, metavar="ROL", help="De rol, bijvoorbeeld ib, leerkracht, directeur of auditor.")
@click.option("--school", "schools", multiple=True, required=True, metavar="SCHOOL",
              help="Een school waarvoor de gebruiker werkt (mag vaker; * is alle scholen).")
@click.option("--name", default="", metavar="NAAM", help="De naam die de web-app toont.")
@click.option("--email", default=None, metavar="ADRES", help="Het e-mailadres waarmee de gebruiker inlogt.")
@json_option
@click.pass_obj
def add(state: State, user_id: str, role: str, schools: tuple[str, ...], name: str, email: str | None) -> None:
    """Voeg een gebruiker toe (exit 2 als id of adres al bestaat)."""
    engine = state.engine()
    record = engine.users.add(
        user_id=user_id, role=role, schools=schools, name=name, email=email,
        roles=engine.definition.roles, known_schools=engine.config.schools, now=engine.clock())
    emit(record.as_dict(), f"gebruiker {record.id} toegevoegd ({record.role}, {', '.join(record.schools)})")


@user.command("disable")
@click.argument("user_id", metavar="ID")
@json_option
@click.pass_obj
def disable(state: State, user_id: str) -> None:
    """Schakel een gebruiker uit: hij kan niets meer, zijn sessies in de web-app eindigen meteen."""
    engine = state.engine()
    record, changed = engine.users.set_disabled(user_id, True, now=engine.clock())
    emit({**record.as_dict(), "changed": changed},
         f"gebruiker {record.id} " + ("uitgeschakeld" if changed else "was al uitgeschakeld"))


@user.command("enable")
@click.argument("user_id", metavar="ID")
@json_option
@click.pass_obj
def enable(state: State, user_id: str) -> None:
    """Zet een uitgeschakelde gebruiker weer aan."""
    engine = state.engine()
    record, changed = engine.users.set_disabled(user_id, False, now=engine.clock())
    emit({**record.as_dict(), "changed": changed},
         f"gebruiker {record.id} " + ("weer aangezet" if changed else "stond al aan"))


@user.command("reset-code")
@click.argument("user_id", metavar="ID")
@json_option
@click.pass_obj
def reset_code(state: State, user_id: str) -> None:
    """Vergeet de authenticator-app van een gebruiker (telefoon kwijt): bij de volgende
    inlog met een link stelt hij een nieuwe in. Zijn sessies eindigen."""
    engine = state.engine()
    record = engine.users.reset_totp(user_id, now=engine.clock())
    emit(record.as_dict(), f"gebruiker {record.id}: de code-app is vergeten; bij de volgende inlog stelt hij een "
                           "nieuwe in")


@user.command("list")
@json_option
@click.pass_obj
def list_(state: State) -> None:
    """Toon alle gebruikers: rol, scholen, e-mail, aan of uit, en of de code-app is ingesteld."""
    records = state.engine().users.all()
    emit([r.as_dict() for r in records], "\n".join(_line(r.as_dict()) for r in records) or "geen gebruikers")


def _line(u: dict[str, Any]) -> str:
    status = "actief" if u["active"] else "uitgeschakeld"
    code = "code-app ingesteld" if u["totp"] else "geen code-app"
    return (f"{u['id']:<16} {u['role']:<11} {','.join(u['schools']):<20} {u['email'] or '-':<34} "
            f"{status:<13} {code:<18} ({u['managed']})")

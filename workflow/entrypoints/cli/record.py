"""`passend record KIND CASE --actor USER [fields]`: one sub-command per evidence kind.

The sub-commands, their options and their Dutch help are generated from the evidence kinds of
the active process definition (the built-in kinds and any the definition declares), so the CLI
can never drift from what the engine validates. Required fields are marked in the help but not
enforced by click: the engine names every missing field in one message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from workflow.domain.errors import PassendError
from workflow.domain.evidence import BUILTIN_KINDS, EvidenceKind, FieldSpec
from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


def _active_kinds(ctx: click.Context) -> tuple[Mapping[str, EvidenceKind], PassendError | None]:
    """The evidence kinds of the active definition (config.toml's [process]); the built-in
    ones, and why, when the config or definition cannot be read (help must still work)."""
    cached = ctx.meta.get("passend.kinds")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from workflow.adapters.config import definition_file_of
    from workflow.domain.definition import load_definition

    state = ctx.find_object(State)
    try:
        got: tuple[Mapping[str, EvidenceKind], PassendError | None] = (
            load_definition(definition_file_of(state.config if state is not None else None)).evidence_kinds, None)
    except PassendError as exc:
        got = (BUILTIN_KINDS, exc)
    ctx.meta["passend.kinds"] = got
    return got


class KindsGroup(nl.Group):
    """The `record` group: a command for every evidence kind the active definition knows."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_active_kinds(ctx)[0])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        kinds, problem = _active_kinds(ctx)
        kind = kinds.get(cmd_name)
        if kind is None and problem is not None:
            raise problem  # an unknown kind may be one the unreadable definition declares
        return None if kind is None else _make(kind)


@click.group(cls=KindsGroup, help="cli.record.help")
def record() -> None:
    pass


def _option(spec: FieldSpec) -> Any:
    name = "--" + spec.name.replace("_", "-")
    help_text = (spec.help or spec.title)[:1].upper() + (spec.help or spec.title)[1:]
    if spec.secret:
        help_text += " " + nl.say("cli.record.field.secret")
    if spec.required:
        help_text += " " + nl.say(nl.REQUIRED)
    if spec.type == "bool":
        return click.option(f"{name}/--no-{spec.name.replace('_', '-')}", spec.name, default=None,
                            help=help_text)
    if spec.choices:
        help_text += f" [{' | '.join(spec.choices)}]"
    metavar = {"date": "JJJJ-MM-DD", "int": "NUMMER", "choice": "KEUZE"}.get(spec.type, "TEKST")
    # Validation (and its Dutch message) happens in the engine, the one place that knows the rules.
    return click.option(name, spec.name, default=None, metavar=metavar, help=help_text)


def _make(kind: EvidenceKind) -> click.Command:
    def run(state: State, case_id: str, actor: str, expect_version: int | None,
            **fields: Any) -> None:
        r = state.engine().record(kind.name, case_id, actor=actor, expected_version=expect_version,
                                  **fields)
        emit(r, nl.say("cli.record.done", case=case_id, kind=kind.label, seq=r["seq"], version=r["version"]))

    cmd: Any = run
    for spec in reversed(kind.fields):
        cmd = _option(spec)(cmd)
    cmd = click.option("--expect-version", type=int, default=None, metavar="VERSIE",
                       help="cli.record.option.expect_version")(cmd)
    cmd = click.option("--actor", required=True, metavar="GEBRUIKER",
                       help="cli.record.option.actor")(cmd)
    cmd = click.argument("case_id", metavar="CASUS")(cmd)
    cmd = json_option(cmd)
    cmd = click.pass_obj(cmd)
    return click.command(kind.name, cls=nl.Command, help=kind.help, short_help=kind.label)(cmd)

"""`passend record KIND CASE --actor USER [fields]`: one sub-command per evidence kind.

The options are generated from the evidence schema, so the CLI can never drift from what the
engine validates.
"""

from __future__ import annotations

from typing import Any

import click

from workflow.domain.evidence import EVIDENCE_KINDS, FieldSpec
from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.main import State, emit, json_option

KIND_HELP = {
    "signal": "Een signaal dat de leerling meer ondersteuning nodig heeft.",
    "plan": "Een handelingsplan voor een periode.",
    "evaluation": "De evaluatie van een planperiode of van het OPP.",
    "consent": "Het besluit van de ouders over een toestemming. Gegeven, geweigerd of ingetrokken.",
    "view": "De mening van ouders of leerling (of waarom niet gehoord).",
    "meeting": "Een overleg: OOGO, BOT, deskundige, leerlingbespreking.",
    "contact": "Contact met de ouders (ouders geïnformeerd).",
}


@click.group(cls=nl.Group)
def record() -> None:
    """Leg bewijs vast bij een casus: één opdracht per soort bewijs.

    `passend record SOORT --help` noemt de velden van die soort.
    """


def _option(spec: FieldSpec) -> Any:
    name = "--" + spec.name.replace("_", "-")
    help_text = spec.help or spec.name
    if spec.secret:
        help_text += " (stored encrypted)"
    if spec.type == "bool":
        return click.option(f"{name}/--no-{spec.name.replace('_', '-')}", spec.name, default=None,
                            help=help_text)
    if spec.choices:
        help_text += f" [{' | '.join(spec.choices)}]"
    # Validation (and its Dutch message) happens in the engine, the one place that knows the rules.
    return click.option(name, spec.name, default=None, metavar=spec.type.upper(), help=help_text)


def _make(kind: str) -> click.Command:
    def run(state: State, case_id: str, actor: str, expect_version: int | None,
            **fields: Any) -> None:
        r = state.engine().record(kind, case_id, actor=actor, expected_version=expect_version,
                                  **fields)
        emit(r, f"{case_id}: {kind} vastgelegd als #{r['seq']} (versie {r['version']})")

    cmd: Any = run
    for spec in reversed(EVIDENCE_KINDS[kind]):
        cmd = _option(spec)(cmd)
    cmd = click.option("--expect-version", type=int, default=None,
                       help="Refuse (exit 4) if the case changed since this version.")(cmd)
    cmd = click.option("--actor", required=True, metavar="USER")(cmd)
    cmd = click.argument("case_id", metavar="CASE")(cmd)
    cmd = json_option(cmd)
    cmd = click.pass_obj(cmd)
    return click.command(kind, help=KIND_HELP[kind])(cmd)


for _kind in EVIDENCE_KINDS:
    record.add_command(_make(_kind))

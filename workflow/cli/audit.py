"""`passend audit verify | replay | timeline | export | compliance | access`.

Thin shells over workflow.audit: each sub-command imports only the module it needs. A broken
chain is not an error of the command: the report is printed, then the exit code is 5.
"""

from __future__ import annotations

from typing import Any

import click

from .main import State, emit, json_option

AUDIT_FAILED = 5


def _reader(engine: Any, actor: str | None) -> str:
    """The asking user; defaults to the only user who may see every school (the auditor)."""
    if actor:
        engine.user(actor)
        return actor
    users = [u.id for u in engine.config.users.values() if "*" in u.schools]
    if len(users) != 1:
        raise click.UsageError("--actor is required (which user is asking?)")
    return str(users[0])


actor_option = click.option("--actor", default=None, metavar="USER",
                            help="Who asks (default: the only user with access to every school).")
purpose_option = click.option("--purpose", default=None, metavar="TEXT",
                              help="Why the data is read (kept in the access log).")
behalf_option = click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WHO",
                             help="On whose behalf (kept in the access log).")


@click.group()
def audit() -> None:
    """Verify, replay, show and export case history; check the legal rules."""


@audit.command("verify")
@json_option
@click.pass_obj
def verify_cmd(state: State) -> None:
    """Walk every case's hash chain; exit 5 if anything was edited, removed, moved or added."""
    from ..audit.progress import Progress
    from ..audit.verify import verify

    engine = state.engine()
    bar = Progress("verify")
    with engine.db.connect() as conn:
        report = verify(conn, progress=bar.advance)
    bar.close()
    d = report.as_dict()
    if report.ok:
        text = (f"intact: {d['cases']} casussen, {d['events']} gebeurtenissen "
                f"({d['seconds']} s)")
    else:
        lines = [f"NIET intact: {len(report.problems)} van {d['cases']} casussen gebroken "
                 f"({d['events']} gebeurtenissen gelezen)"]
        for p in report.problems:
            where = f"gebeurtenis {p.seq}" if p.seq is not None else "casus"
            lines.append(f"  {p.case_id}  {where}: {p.kind}: {p.detail}")
        text = "\n".join(lines)
    emit(d, text)
    if not report.ok:
        raise click.exceptions.Exit(AUDIT_FAILED)

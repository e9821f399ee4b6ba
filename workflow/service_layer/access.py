"""The access log: who read or exported which case, when, for what purpose (NEN 7513 fields).

Normenkader IBP SM.04 asks schools to log access to pupil data; NEN 7513's minimum fields are
the template: what (action), when (at), which pupil (case id: the pupil reference itself is
never written here), which user (actor, role), on whose behalf / why (on_behalf_of, purpose),
and from where (source). Records are the system's writes, made even for a read-only auditor,
and the table is append-only by database triggers (migration 0003_audit).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Connection, Index, MetaData, String, Table, insert, select

from workflow.adapters.store.db import begin_write
from workflow.adapters.store.types import BigId, UTCDateTime
from workflow.domain.errors import BadInput, NotFound
from workflow.service_layer.audit import access_chain

if TYPE_CHECKING:
    from workflow.service_layer.engine import Engine

access_log = Table(
    "access_log", MetaData(),
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("case_id", String(40)),
    Column("school", String(64)),
    Column("purpose", String(200), nullable=False),
    Column("on_behalf_of", String(128)),
    Column("source", String(32), nullable=False),
    # The hash chain over the log (migration 0008; workflow.service_layer.audit.access_chain).
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Index("ix_access_log_prev_hash", "prev_hash", unique=True),
)

# Default purposes per action, in the words a school uses; `--purpose` overrides them.
DEFAULT_PURPOSE = {
    "case.show": "begeleiding leerling",
    "audit.timeline": "verantwoording en toezicht",
    "audit.export": "verantwoording en toezicht",
    "audit.replay": "verantwoording en toezicht",
    "case.erase": "bewaartermijn verstreken",
}
PURPOSE_LIMIT = 200


def clean_purpose(purpose: str | None, action: str) -> str:
    if purpose is None:
        return DEFAULT_PURPOSE.get(action, "inzage")
    text = " ".join(purpose.split())
    if not text or len(text) > PURPOSE_LIMIT:
        raise BadInput(f"--purpose: een doel van 1-{PURPOSE_LIMIT} tekens")
    return text


def clean_behalf(on_behalf_of: str | None) -> str | None:
    if on_behalf_of is None:
        return None
    text = on_behalf_of.strip()
    if not text or len(text) > 128:
        raise BadInput("--on-behalf-of: 1-128 tekens (een gebruiker, instantie of rol)")
    return text


def log_access(
    conn: Connection, *, actor: str, role: str, action: str, cases: Iterable[tuple[str, str | None]],
    purpose: str | None, on_behalf_of: str | None = None, at: dt.datetime, source: str = "passend",
) -> int:
    """Append one access record per (case_id, school); returns how many were written.

    `cases` may be a stream (an export of a whole region): it is written 1 000 records at a time,
    never held whole. Each record is sealed into the log's hash chain (access_chain), under the
    append lock the caller's writing transaction holds until it ends."""
    p = clean_purpose(purpose, action)
    b = clean_behalf(on_behalf_of)
    written = 0
    it = iter(cases)
    head: str | None = None
    while chunk := [
        {"at": at, "actor": actor, "role": role, "action": action, "case_id": cid, "school": school,
         "purpose": p, "on_behalf_of": b, "source": source}
        for cid, school in itertools.islice(it, 1000)
    ]:
        head = access_chain.seal(chunk, access_chain.locked_head(conn) if head is None else head)
        conn.execute(insert(access_log), chunk)
        written += len(chunk)
    return written


def record_access(
    engine: Engine, *, actor: str, action: str, cases: Sequence[tuple[str, str | None]],
    purpose: str | None = None, on_behalf_of: str | None = None,
) -> int:
    """Write access records in their own short transaction (reads stay read-only); on SQLite it
    begins IMMEDIATE, as every writer does, since it reads the chain's head before it appends."""
    user = engine.user(actor)
    with begin_write(engine.db) as conn:
        return log_access(conn, actor=actor, role=user.role, action=action, cases=cases,
                          purpose=purpose, on_behalf_of=on_behalf_of, at=engine.clock())


def access_records(engine: Engine, case_id: str, *, actor: str) -> list[dict[str, Any]]:
    """Who read or exported `case_id`, oldest first. Needs access to the case's school."""
    from workflow.adapters.store.tables import cases

    user = engine.user(actor)
    with engine.db.connect() as conn:
        row = conn.execute(select(cases.c.school).where(cases.c.case_id == case_id)).first()
        if row is None:
            raise NotFound(f"casus '{case_id}' bestaat niet")
        if not user.serves(row.school):
            from workflow.domain.errors import Refused

            raise Refused(f"{actor} werkt niet voor school '{row.school}'",
                          reasons=[f"gebruiker '{actor}' heeft geen toegang tot school '{row.school}'"])
        rows = conn.execute(
            select(access_log).where(access_log.c.case_id == case_id).order_by(access_log.c.at, access_log.c.id)
        )
        return [
            {"at": r.at.isoformat(), "actor": r.actor, "role": r.role, "action": r.action,
             "case_id": r.case_id, "school": r.school, "purpose": r.purpose,
             "on_behalf_of": r.on_behalf_of, "source": r.source}
            for r in rows
        ]

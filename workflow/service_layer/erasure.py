"""Erasure: destroy a closed case's data key once its retention period has passed.

Personal data (names, notes, views) is stored only as ciphertext under the case's own key, so
destroying that one wrapped key makes it unreadable for good, while every event, and so every
hash, stays exactly as it was: `audit verify` still passes and the timeline still shows the
structure of the process. A `case_erased` tombstone event records who erased, when and why.

To make "for good" true on disk, SQLite overwrites freed content (`secure_delete`) and the WAL
is checkpointed and truncated; PostgreSQL vacuums `case_keys` so the old row version goes.
Backups still hold the key until they expire: rotate them within the retention period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text, update

from workflow.adapters.store.tables import case_keys, cases
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.service_layer.audit.access import log_access
from workflow.service_layer.audit.retention import policy_of

if TYPE_CHECKING:
    from workflow.service_layer.engine import Engine

REASON_LIMIT = 200


def erase_case(engine: Engine, case_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Erase one case's personal data (exit 3 if it is open or still within its retention)."""
    user = engine.user(actor)
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_LIMIT:
        raise BadInput(f"--reason: een reden van 1-{REASON_LIMIT} tekens (zonder persoonsgegevens)")
    policy = policy_of(engine)
    now = engine.clock()
    with engine.uow() as uow:
        case = uow.store.load(case_id)
        if case is None:
            raise NotFound(f"casus '{case_id}' bestaat niet")
        if not user.serves(case.school):
            raise Refused("geweigerd", reasons=[f"gebruiker '{actor}' heeft geen toegang tot school '{case.school}'"])
        d = engine.definition_of(case)
        if user.role in d.read_only_roles or user.role not in policy.erase_roles:
            raise Refused("geweigerd", reasons=[
                f"rol '{user.role}' mag geen casus wissen (wel: {', '.join(policy.erase_roles)})"])
        if case.erased or uow.store.wrapped_key(case_id) is None:
            raise Refused("geweigerd", reasons=[f"casus {case_id} is al gewist"])
        if case.closed_at is None:
            raise Refused("geweigerd", reasons=[
                f"casus {case_id} is nog open; alleen een gesloten casus kan gewist worden"])
        due = policy.due_date(case.closed_at, case.close_reason)
        today = engine.today()
        if today < due:
            raise Refused("geweigerd", reasons=[
                f"de bewaartermijn van casus {case_id} loopt tot {due.isoformat()} "
                f"({policy.years_for(case.close_reason)} jaar na sluiten op {case.closed_at.date().isoformat()})"])
        ev = case.next_event(
            type="case_erased",
            payload={"reason": reason, "retention_years": policy.years_for(case.close_reason),
                     "due": due.isoformat(), "key_destroyed": True},
            actor=actor, role=user.role, recorded_at=now, process=d,
        )
        expected = case.version
        case.apply(ev)
        conn = uow.connection
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        uow.store.append(case, [ev], expected_version=expected, now=now)
        conn.execute(update(case_keys).where(case_keys.c.case_id == case_id)
                     .values(wrapped=None, destroyed_at=now))
        conn.execute(update(cases).where(cases.c.case_id == case_id).values(pupil_index=None))
        log_access(conn, actor=actor, role=user.role, action="case.erase",
                   cases=[(case_id, case.school)], purpose=None, at=now)
        uow.commit()
    _scrub(engine)
    return {"case_id": case_id, "erased": True, "seq": ev.seq, "version": case.version,
            "due": due.isoformat(), "erased_at": now.isoformat()}


def _scrub(engine: Engine) -> None:
    """Push the old key bytes out of the WAL / dead row versions now, not some day."""
    if engine.db.dialect.name == "sqlite":
        with engine.db.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with engine.db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM case_keys"))

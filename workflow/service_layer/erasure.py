"""Erasure: destroy a closed case's data key once its retention period has passed.

Personal data (names, notes, views) is stored only as ciphertext under the case's own key, so
destroying that one wrapped key makes it unreadable for good, while every event, and so every
hash, stays exactly as it was: `audit verify` still passes and the timeline still shows the
structure of the process. A `case_erased` tombstone event records who erased, when and why.

To make "for good" true on disk, the store overwrites and pushes out the old bytes (SQLite:
`secure_delete` and a truncated WAL; PostgreSQL: `VACUUM case_keys`; `Store.scrub`). Backups
still hold the key until they expire: rotate them within the retention period.

`cases_due_for_erasure` is the one list the CLI (`case erase --due`) and the reminder digest
share, so both always agree on what is due.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from workflow.adapters.logs import get_logger
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.messages import text
from workflow.service_layer.access import log_access
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.retention import add_years

log = get_logger("passend.engine")
REASON_LIMIT = 200


def erase_case(ctx: ServiceContext, case_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Erase one case's personal data (exit 3 if it is open or still within its retention)."""
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="case.erase")
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_LIMIT:
        raise BadInput(text("svc.erasure.reason", limit=REASON_LIMIT))
    policy = ctx.retention
    now = ctx.clock()
    with ctx.uow() as uow:
        case = uow.store.load(case_id)
        if case is None:
            raise NotFound(text("svc.context.unknown_case", case=case_id))
        if not user.serves(case.school):
            raise Refused(text("svc.refused"), reasons=[text("no_school_access", user=actor, school=case.school)])
        d = ctx.definition_of(case)
        if user.role in d.read_only_roles or user.role not in policy.erase_roles:
            raise Refused(text("svc.refused"), reasons=[
                text("svc.erasure.role_may_not_erase", role=user.role, roles=", ".join(policy.erase_roles))])
        if case.erased or uow.store.wrapped_key(case_id) is None:
            raise Refused(text("svc.refused"), reasons=[text("svc.erasure.already_erased", case=case_id)])
        if case.closed_at is None:
            raise Refused(text("svc.refused"), reasons=[text("svc.erasure.still_open", case=case_id)])
        due = policy.due_date(case.closed_at, case.close_reason)
        today = ctx.today()
        if today < due:
            raise Refused(text("svc.refused"), reasons=[text(
                "svc.erasure.retention_runs", case=case_id, due=due.isoformat(),
                years=policy.years_for(case.close_reason), closed=case.closed_at.date().isoformat())])
        ev = case.next_event(
            type="case_erased",
            payload={"reason": reason, "retention_years": policy.years_for(case.close_reason),
                     "due": due.isoformat(), "key_destroyed": True},
            actor=actor, role=user.role, recorded_at=now, process=d,
        )
        expected = case.version
        case.apply(ev)
        uow.store.destroy_key(case_id, now)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.cases.forget_pupil(case_id)
        for parent in uow.parents.of_case(case_id):  # their rows are sealed with the destroyed key
            uow.parents.remove(parent.id, now)  # and their links and sessions end with the case
        log_access(uow, actor=actor, role=user.role, action="case.erase",
                   cases=[(case_id, case.school)], purpose=None, at=now)
        uow.commit()
    ctx.store.scrub()
    log.info("case.erased", seq=ev.seq)
    return {"case_id": case_id, "erased": True, "seq": ev.seq, "version": case.version,
            "due": due.isoformat(), "erased_at": now.isoformat()}


def cases_due_for_erasure(
    ctx: ServiceContext, *, today: dt.date | None = None, school: str | None = None,
) -> list[dict[str, Any]]:
    """Closed, not yet erased cases whose retention period has passed, oldest due first.

    Each item: case_id, school, closed_at (ISO), close_reason, due (ISO date), years. No personal
    data, so the list may go into the IB's reminder digest as is.
    """
    policy = ctx.retention
    today = today or ctx.today()
    # Only a case closed at least the shortest retention period ago can be due: read those (an
    # index range), with two days to spare for the school's time zone and 29 February.
    shortest = min([policy.years, *policy.by_reason.values()])
    cutoff = dt.datetime.combine(add_years(today, -shortest) + dt.timedelta(days=2), dt.time(), dt.UTC)
    out: list[dict[str, Any]] = []
    with ctx.uow(write=False) as uow:
        for r in uow.cases.closed_unerased(school=school, closed_before=cutoff):
            due = policy.due_date(r.closed_at, r.close_reason)
            if due <= today:
                out.append({
                    "case_id": r.case_id, "school": r.school, "closed_at": r.closed_at.isoformat(),
                    "close_reason": r.close_reason, "due": due.isoformat(),
                    "years": policy.years_for(r.close_reason),
                })
    out.sort(key=lambda d: (d["due"], d["case_id"]))
    return out

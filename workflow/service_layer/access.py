"""The access log: who read or exported which case, when, for what purpose (NEN 7513 fields).

Normenkader IBP SM.04 asks schools to log access to pupil data; NEN 7513's minimum fields are
the template: what (action), when (at), which pupil (case id: the pupil reference itself is
never written here), which user (actor, role), on whose behalf / why (on_behalf_of, purpose),
and from where (source). Records are the system's writes, made even for a read-only auditor;
the store keeps them append-only and hash-chained (the `AccessLog` port).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.messages import text
from workflow.service_layer.context import ServiceContext

if TYPE_CHECKING:
    from workflow.adapters.config import User
    from workflow.adapters.ports import UnitOfWork
    from workflow.adapters.readmodels import AccessRecord

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
    cleaned = " ".join(purpose.split())
    if not cleaned or len(cleaned) > PURPOSE_LIMIT:
        raise BadInput(text("svc.access.purpose", limit=PURPOSE_LIMIT))
    return cleaned


def clean_behalf(on_behalf_of: str | None) -> str | None:
    if on_behalf_of is None:
        return None
    cleaned = on_behalf_of.strip()
    if not cleaned or len(cleaned) > 128:
        raise BadInput(text("svc.access.on_behalf_of"))
    return cleaned


def _records(*, actor: str, role: str, action: str, cases: Iterable[tuple[str, str | None]],
             purpose: str | None, on_behalf_of: str | None, at: dt.datetime,
             source: str = "passend") -> Iterator[dict[str, Any]]:
    p = clean_purpose(purpose, action)
    b = clean_behalf(on_behalf_of)
    for cid, school in cases:
        yield {"at": at, "actor": actor, "role": role, "action": action, "case_id": cid,
               "school": school, "purpose": p, "on_behalf_of": b, "source": source}


def log_access(
    uow: UnitOfWork, *, actor: str, role: str, action: str, cases: Iterable[tuple[str, str | None]],
    purpose: str | None, on_behalf_of: str | None = None, at: dt.datetime, source: str = "passend",
) -> int:
    """Append one access record per (case_id, school) in `uow`'s transaction; returns how many.

    `cases` may be a stream (an export of a whole region): the log takes it a chunk at a time,
    never whole. Each record is sealed into the log's hash chain under the append lock, which the
    unit holds until it ends (it must be a writing unit)."""
    clean_purpose(purpose, action)
    clean_behalf(on_behalf_of)
    return uow.access_log.append(_records(actor=actor, role=role, action=action, cases=cases, purpose=purpose,
                                          on_behalf_of=on_behalf_of, at=at, source=source))


def access_ready(ctx: ServiceContext) -> None:
    """Refuse (exit 3) a read of personal data whose access record could not be written: a store
    that cannot be written (a read-only copy) and no `--access-log` file. Asked before anything
    is read, so nothing is shown (or exported) unrecorded."""
    if ctx.access_file is None and ctx.store.read_only:
        raise Refused(text("svc.access.read_only"))


def write_access(
    ctx: ServiceContext, *, actor: str, role: str, action: str, cases: Iterable[tuple[str, str | None]],
    purpose: str | None = None, on_behalf_of: str | None = None, at: dt.datetime | None = None,
    source: str = "passend",
) -> int:
    """Write access records: to the `--access-log` file when one is named (workflow.adapters.
    access_file), else to the store's log in their own short transaction, so the reads they
    record stay read-only (on SQLite the unit begins IMMEDIATE, as every writer does, since it
    reads the chain's head before it appends)."""
    access_ready(ctx)
    when = at or ctx.clock()
    if ctx.access_file is not None:
        return ctx.access_file.append(_records(actor=actor, role=role, action=action, cases=cases,
                                               purpose=purpose, on_behalf_of=on_behalf_of, at=when,
                                               source=source))
    with ctx.uow() as uow:
        n = log_access(uow, actor=actor, role=role, action=action, cases=cases,
                       purpose=purpose, on_behalf_of=on_behalf_of, at=when, source=source)
        uow.commit()
    return n


SOURCES = ("passend", "web", "api")  # where a read came from: the command line and Python API, the web
# app's pages, its JSON API (/api/v1)


def record_access(
    ctx: ServiceContext, *, actor: str, action: str, cases: Iterable[tuple[str, str | None]],
    purpose: str | None = None, on_behalf_of: str | None = None, source: str = "passend",
    user: User | None = None,
) -> int:
    """Write the acting user's access records (write_access). `source`: "web" for a page of the
    web app, "api" for its JSON API. `user`: the acting user, when the caller has read it already
    (a case page reads it once, not twice)."""
    if source not in SOURCES:
        raise ValueError(f"unknown access source {source!r}")
    if user is None or user.id != actor:
        user = ctx.user(actor)
    return write_access(ctx, actor=actor, role=user.role, action=action, cases=cases,
                        purpose=purpose, on_behalf_of=on_behalf_of, source=source)


def access_records(ctx: ServiceContext, case_id: str, *, actor: str) -> list[AccessRecord]:
    """Who read or exported `case_id`, oldest first. Needs access to the case's school."""
    user = ctx.user(actor)
    with ctx.uow(write=False) as uow:
        row = uow.cases.get(case_id)
        if row is None:
            raise NotFound(text("svc.context.unknown_case", case=case_id))
        if not user.serves(row.school):
            raise Refused(text("svc.context.not_your_school", user=actor, school=row.school),
                          reasons=[text("no_school_access", user=actor, school=row.school)])
        return uow.access_log.of_case(case_id)


"""The SQL outbox (the `Outbox` port): one row per message that is due, keyed so it can never
be planned twice.

Planning inserts rows (a unique `key`: kind, case, deadline, clock start, due date, offset,
recipient); dispatching claims them. A claim marks rows `sending` with a random token and a
lease, inside one transaction: on PostgreSQL with `SELECT ... FOR UPDATE SKIP LOCKED`, so two
services take different rows; on SQLite under `BEGIN IMMEDIATE`, the single writer lock. A
sender renews its lease before each send and marks the row sent only with its own token. A
process that dies between send and mark leaves the row `sending`; when the lease runs out
another claim sends it again, with the same Message-ID, stored in the row at planning time.

A claim returns each row's head (what the dispatcher decides, logs and marks by, and the mail
headers) without its subject, texts and attachment: a digest is up to 1.2 MB of text and as much
HTML, so a batch of 50 whole rows held every digest of the day in memory at once while the first
was sent. The sender loads one row's body (`load_body`) right before sending it, and only while
the row is still claimed with its token.

Every function here is one transaction of its own on a SQLAlchemy Engine (the port says why);
`SqlOutbox` is the port over them, which the composition root hands the reminder service.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from workflow.adapters.host import this_host
from workflow.adapters.ports import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    Claim,
    Holder,
    OutboxBody,
    OutboxHead,
    PlannedRow,
)
from workflow.adapters.store.db import begin_write, is_sqlite
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import OUTBOX_BODY_KEPT as _BODY_KEPT
from workflow.adapters.store.tables import cases
from workflow.adapters.store.tables import reminder_outbox as outbox

if TYPE_CHECKING:
    from workflow.adapters.readmodels import OutboxMessage



# A claimed row's head: enough to decide, log, mark and address it. The body columns stay in the
# table until `load_body` fetches one row's worth just before its send.
HEAD = (outbox.c.id, outbox.c.kind, outbox.c.case_id, outbox.c.deadline, outbox.c.to_addrs,
        outbox.c.message_id, outbox.c.attempts, outbox.c.created_at, outbox.c.sender)
BODY = (outbox.c.subject, outbox.c.body_text, outbox.c.body_html, outbox.c.ics)
# What `rows` lists: every column but the texts and the claim's token.
LISTED = tuple(c for c in outbox.c if c.name not in {"subject", "body_text", "body_html", "ics",
                                                        "claim_token", "claimed_until", "claim_host",
                                                        "claim_pid"})


def this_process() -> Holder:
    """The holder this process's claims name."""
    return this_host(), os.getpid()


def existing_keys(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    """key -> status for the keys already in the outbox, through the driver (`Driver.rows_in`:
    `reminders due` asks about every item it lists)."""
    return dict(Driver.of(conn).rows_in(f"SELECT key, status FROM {outbox.name} WHERE key IN ({{ids}})", keys))


def open_window_rows(conn: Connection, today: dt.date) -> list[PlannedRow]:
    """Outbox.open_window_rows: one pass over the outbox's rows, joined to the open cases."""
    o = outbox.c
    q = (select(o.case_id, o.kind, o.key, o.school, o.send_on, o.due_on)
         .select_from(outbox.join(cases, cases.c.case_id == o.case_id))
         .where(cases.c.closed_at.is_(None),
                or_(o.kind == "escalation", and_(o.kind == "reminder", o.due_on >= today)))
         .order_by(o.case_id, o.id))
    return [PlannedRow(*r) for r in conn.execute(q)]


def insert_new(db: Engine, rows: Iterable[dict[str, Any]], now: dt.datetime) -> int:
    """Insert the rows whose key is not in the outbox yet; returns how many were new."""
    rows = list(rows)
    if not rows:
        return 0
    base = {"status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
    values = [{**base, **r} for r in rows]
    if is_sqlite(db):
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    n = 0
    with begin_write(db) as conn:
        have = existing_keys(conn, [v["key"] for v in values])
        fresh = [v for v in values if v["key"] not in have]
        for i in range(0, len(fresh), 500):
            stmt = (dialect_insert(outbox).values(fresh[i:i + 500])
                    .on_conflict_do_nothing(index_elements=["key"]).returning(outbox.c.id))
            n += len(conn.execute(stmt).all())
    return n


def claim(db: Engine, *, now: dt.datetime, batch: int, lease: dt.timedelta,
          cutoff: dt.datetime | None = None, holder: Holder | None = None) -> Claim:
    """Take up to `batch` rows that are due by `cutoff` (or whose sender's lease ran out).

    Returns their heads only; see the module docstring for why the bodies stay behind. The rows
    name their holder (host and process id), for `release_orphans`.
    """
    host, pid = holder or this_process()
    token = secrets.token_hex(16)
    until = now + lease
    due = or_(
        and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= (cutoff or now)),
        and_(outbox.c.status == SENDING, outbox.c.claimed_until < now),
    )
    with begin_write(db) as conn:
        q = select(outbox.c.id).where(due).order_by(outbox.c.id).limit(batch)
        if not is_sqlite(db):
            q = q.with_for_update(skip_locked=True)
        ids = [r.id for r in conn.execute(q)]
        if not ids:
            return Claim(token, [], until)
        conn.execute(
            update(outbox).where(outbox.c.id.in_(ids)).values(
                status=SENDING, claim_token=token, claimed_until=until, attempts=outbox.c.attempts + 1,
                claim_host=host, claim_pid=pid,
            )
        )
        rows = [OutboxHead(*r) for r in conn.execute(select(*HEAD).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))]
    return Claim(token, rows, until)


def load_body(db: Engine, row_id: int, token: str) -> OutboxBody | None:
    """One claimed row's subject, texts and attachment, or None when the claim is no longer ours.

    Checked against the token in the same statement, so a sender whose lease ran out and whose
    row another claim took over (or that was marked meanwhile) gets nothing to send: the row then
    goes out once, from its new claimant. A plain read, without the write lock: the token only
    changes under a claim's write, and a claim taken over after this read is the lease's case,
    which the dispatcher guards by renewing before each send, as before.
    """
    with db.connect() as conn:
        row = conn.execute(
            select(*BODY).where(outbox.c.id == row_id, outbox.c.claim_token == token,
                                outbox.c.status == SENDING)
        ).first()
    return None if row is None else OutboxBody(*row)


def renew(db: Engine, row_id: int, token: str, until: dt.datetime) -> bool:
    """Extend our lease on one row; False when another sender has taken it over."""
    with begin_write(db) as conn:
        r = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.claim_token == token, outbox.c.status == SENDING)
            .values(claimed_until=until)
        )
        return bool(r.rowcount == 1)


def renew_all(db: Engine, token: str, until: dt.datetime) -> int:
    """Extend the lease of every row this claim still holds."""
    with begin_write(db) as conn:
        r = conn.execute(
            update(outbox).where(outbox.c.claim_token == token, outbox.c.status == SENDING)
            .values(claimed_until=until)
        )
        return int(r.rowcount or 0)


def release(db: Engine, token: str) -> int:
    """Hand back the rows of a claim that were not tried: pending again, no attempt counted."""
    with begin_write(db) as conn:
        r = conn.execute(
            update(outbox).where(outbox.c.claim_token == token, outbox.c.status == SENDING)
            .values(status=PENDING, claim_token=None, claimed_until=None, attempts=outbox.c.attempts - 1)
        )
        return int(r.rowcount or 0)


def release_orphans(db: Engine, host: str, alive: Callable[[int], bool]) -> int:
    """Claims left by a process of `host` that is gone (a service killed or crashed) back to
    pending now, instead of when their lease runs out. Their attempt stays counted: the message
    may have been sent just before the process died (it goes again with the same Message-ID).
    The pid is checked here, in the process that runs on that host; rows of other hosts wait
    for their lease as before."""
    with db.connect() as conn:
        pids = [r.claim_pid for r in conn.execute(
            select(outbox.c.claim_pid).distinct().where(outbox.c.status == SENDING, outbox.c.claim_host == host))]
    gone = [int(pid) for pid in pids if pid is not None and not alive(int(pid))]
    if not gone:
        return 0
    with begin_write(db) as conn:
        r = conn.execute(
            update(outbox).where(outbox.c.status == SENDING, outbox.c.claim_host == host,
                                 outbox.c.claim_pid.in_(gone))
            .values(status=PENDING, claim_token=None, claimed_until=None, claim_host=None, claim_pid=None)
        )
        return int(r.rowcount or 0)


def mark_sent(db: Engine, row_id: int, token: str, now: dt.datetime) -> bool:
    with begin_write(db) as conn:
        r = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.claim_token == token)
            .values(status=SENT, sent_at=now, claim_token=None, claimed_until=None, last_error=None)
        )
        return bool(r.rowcount == 1)


def mark_failed(db: Engine, row_id: int, token: str, *, error: str, retry_at: dt.datetime | None) -> bool:
    """Back to pending with a later attempt time, or `failed` when retry_at is None."""
    with begin_write(db) as conn:
        r = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.claim_token == token)
            .values(
                status=FAILED if retry_at is None else PENDING,
                next_attempt_at=retry_at if retry_at is not None else outbox.c.next_attempt_at,
                claim_token=None, claimed_until=None, last_error=error[:300],
            )
        )
        return bool(r.rowcount == 1)


def retry_failed(db: Engine, now: dt.datetime, ids: Sequence[int] | None = None, *,
                 actor: str | None = None) -> int:
    """Failed rows (all, or those in `ids`) become pending again with a fresh attempt count,
    noting who retried them and when.

    With `ids`, every one must be a failed message, or nothing changes (BadInput).
    """
    from workflow.domain.errors import BadInput, Said

    with begin_write(db) as conn:
        q = update(outbox).where(outbox.c.status == FAILED)
        if ids:
            wanted = sorted(set(ids))
            found = {r.id for r in conn.execute(
                select(outbox.c.id).where(outbox.c.id.in_(wanted), outbox.c.status == FAILED))}
            missing = [i for i in wanted if i not in found]
            if missing:
                raise BadInput(Said("store.outbox.not_failed", numbers=", ".join(f"#{i}" for i in missing)))
            q = q.where(outbox.c.id.in_(wanted))
        r = conn.execute(q.values(status=PENDING, attempts=0, next_attempt_at=now, last_error=None,
                                  retried_by=actor, retried_at=now))
        return int(r.rowcount or 0)


CLEAR_LIMIT = 1000


def clear_sent_bodies(db: Engine, *, before: dt.datetime, limit: int = CLEAR_LIMIT) -> int:
    """Clear the subject, texts and calendar file of up to `limit` messages sent before
    `before`, oldest first; returns how many were cleared.

    Why: a digest is kilobytes to megabytes, sent every school day to every IB, so the outbox
    would grow by gigabytes a year at a region's scale with text nobody reads again. The row
    itself stays for good: its key is what stops the planner from planning the message again,
    and its kind, case, deadline, recipient, sent_at and message_id are the record that the
    message went out. Rows still pending, being sent or failed keep their bodies. Nothing is
    locked when nothing is due to be cleared; two services clearing at once clear each row once
    (the UPDATE rechecks the body).
    """
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute(
            select(outbox.c.id).where(_BODY_KEPT, outbox.c.sent_at < before)
            .order_by(outbox.c.sent_at).limit(limit))]
    if not ids:
        return 0
    with begin_write(db) as conn:
        r = conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.status == SENT, _BODY_KEPT)
                         .values(subject="", body_text="", body_html=None, ics=None))
        return int(r.rowcount)


def rows(db: Engine, *, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
    """The newest rows first, without their texts (a digest's are megabytes)."""
    from workflow.adapters.readmodels import OutboxMessage

    q = select(*LISTED).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        q = q.where(outbox.c.status == status)
    with db.connect() as conn:
        return [OutboxMessage(**r._asdict()) for r in conn.execute(q)]


def counts(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {r[0]: int(r[1]) for r in conn.execute(
            select(outbox.c.status, func.count()).group_by(outbox.c.status))}


class SqlOutbox:
    """The `Outbox` port on a SQLAlchemy Engine: each method is one of the functions above, so
    each is its own transaction."""

    def __init__(self, db: Engine) -> None:
        self.db = db

    def insert_new(self, rows: Iterable[dict[str, Any]], now: dt.datetime) -> int:
        return insert_new(self.db, rows, now)

    def existing_keys(self, keys: Sequence[str]) -> dict[str, str]:
        with self.db.connect() as conn:
            return existing_keys(conn, keys)

    def open_window_rows(self, today: dt.date) -> list[PlannedRow]:
        with self.db.connect() as conn:
            return open_window_rows(conn, today)

    def claim(self, *, now: dt.datetime, batch: int, lease: dt.timedelta,
              cutoff: dt.datetime | None = None, holder: Holder | None = None) -> Claim:
        return claim(self.db, now=now, batch=batch, lease=lease, cutoff=cutoff, holder=holder)

    def release_orphans(self, host: str, alive: Callable[[int], bool]) -> int:
        return release_orphans(self.db, host, alive)

    def load_body(self, row_id: int, token: str) -> OutboxBody | None:
        return load_body(self.db, row_id, token)

    def renew(self, row_id: int, token: str, until: dt.datetime) -> bool:
        return renew(self.db, row_id, token, until)

    def renew_all(self, token: str, until: dt.datetime) -> int:
        return renew_all(self.db, token, until)

    def release(self, token: str) -> int:
        return release(self.db, token)

    def mark_sent(self, row_id: int, token: str, now: dt.datetime) -> bool:
        return mark_sent(self.db, row_id, token, now)

    def mark_failed(self, row_id: int, token: str, *, error: str, retry_at: dt.datetime | None) -> bool:
        return mark_failed(self.db, row_id, token, error=error, retry_at=retry_at)

    def retry_failed(self, now: dt.datetime, ids: Sequence[int] | None = None, *, actor: str | None = None) -> int:
        return retry_failed(self.db, now, ids, actor=actor)

    def clear_sent_bodies(self, *, before: dt.datetime, limit: int = CLEAR_LIMIT) -> int:
        return clear_sent_bodies(self.db, before=before, limit=limit)

    def rows(self, *, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        return rows(self.db, status=status, limit=limit)

    def counts(self) -> dict[str, int]:
        return counts(self.db)

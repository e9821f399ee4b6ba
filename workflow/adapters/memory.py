"""The in-memory fake of every storage port: the same contract as the SQL store, in a dict.

For the service layer's unit tests (no database, milliseconds a test) and for trying passend out
(`memory://` as the database URL: nothing survives the process). It is a fake, not a mock: it
keeps what the services write and answers the same questions the SQL store answers, with the same
refusals: a stale expected version or a second open case for a pupil is a Conflict, an outbox key
is never stored twice, a claim holds its rows under a token until its lease runs out, and the
access log is sealed into the same hash chain (tests/test_port_contracts.py runs the same
assertions against this fake, SQLite and PostgreSQL).

Events are kept in their stored form (the time as the stored text, the payload as its JSON
text), so loading a case, `audit verify`, `replay` and `export` read exactly what they read from
a database. A unit of work holds the store's lock from start to end (one writer, as on SQLite)
and keeps an undo journal: leaving it without `commit()` puts everything back.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from workflow.adapters import access_chain
from workflow.adapters.codec import restore_row, stored_time
from workflow.adapters.ports import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    CaseHead,
    Claim,
    ClosedCase,
    Mark,
    NewCase,
    OutboxBody,
    OutboxHead,
    Projection,
    RawEvent,
)
from workflow.adapters.projection import fold, projection_values
from workflow.domain.case import Case
from workflow.domain.errors import BadInput, Conflict
from workflow.domain.events import GENESIS_HASH, Event

if TYPE_CHECKING:
    from workflow.adapters.access_chain import AccessChainReport
    from workflow.adapters.readmodels import AccessRecord, CaseSummary, OutboxMessage

_LOST = "een andere schrijver was eerder; er is niets opgeslagen"
BATCH = 2_000
CLEAR_LIMIT = 1000
_MISSING: Any = object()


class MemoryDatabase:
    """The tables, as dicts and lists, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.events: dict[str, list[RawEvent]] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.outbox: dict[int, dict[str, Any]] = {}
        self.outbox_keys: dict[str, int] = {}
        self.access: list[dict[str, Any]] = []


class _Journal:
    """The undo steps of one unit of work, newest last."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        table[key] = value
        self.steps.append(lambda: table.__setitem__(key, old) if old is not _MISSING else table.pop(key, None))

    def update(self, row: dict[str, Any], **values: Any) -> None:
        old = {k: row[k] for k in values}
        row.update(values)
        self.steps.append(lambda: row.update(old))

    def append(self, items: list[Any], item: Any) -> None:
        items.append(item)
        self.steps.append(items.pop)

    def undo(self) -> None:
        while self.steps:
            self.steps.pop()()


def _raw(ev: Event) -> RawEvent:
    return (ev.case_id, ev.seq, ev.type, ev.process_id, ev.process_version, ev.actor, ev.role,
            stored_time(ev.recorded_at), ev.payload_text, ev.prev_hash, ev.hash)


class MemoryEventStore:
    def __init__(self, db: MemoryDatabase, journal: _Journal) -> None:
        self._db, self._j = db, journal

    def events_of(self, case_id: str) -> list[Event]:
        return [restore_row(row) for row in self._db.events.get(case_id, ())]

    def load(self, case_id: str) -> Case | None:
        return fold(case_id, self.events_of)

    def append(self, case: Case, new: Sequence[Event], *, expected_version: int,
               pupil_index: str | None = None, now: dt.datetime) -> None:
        if not new:
            return
        db, j = self._db, self._j
        values = projection_values(case, now)
        if expected_version == 0:
            if case.case_id in db.cases or case.case_id in db.events:
                raise Conflict(_LOST)
            if pupil_index is not None and any(
                    r["pupil_index"] == pupil_index and r["closed_at"] is None for r in db.cases.values()):
                raise Conflict(_LOST)  # the partial unique index of migration 0004
            j.put(db.events, case.case_id, [_raw(e) for e in new])
            j.put(db.cases, case.case_id, {**values, "pupil_index": pupil_index})
            return
        row = db.cases.get(case.case_id)
        stored = db.events.get(case.case_id, [])
        if row is None or row["version"] != expected_version or (stored and stored[-1][1] >= new[0].seq):
            raise Conflict(
                f"casus {case.case_id} is intussen gewijzigd door een ander; laad opnieuw en probeer het weer")
        for e in new:
            j.append(stored, _raw(e))
        j.update(row, **values)

    def put_key(self, case_id: str, wrapped: bytes, now: dt.datetime) -> None:
        if case_id in self._db.keys:
            raise Conflict(_LOST)
        self._j.put(self._db.keys, case_id, {"wrapped": wrapped, "created_at": now, "destroyed_at": None})

    def wrapped_key(self, case_id: str) -> bytes | None:
        row = self._db.keys.get(case_id)
        return None if row is None else row["wrapped"]

    def destroy_key(self, case_id: str, now: dt.datetime) -> None:
        row = self._db.keys.get(case_id)
        if row is not None:
            self._j.update(row, wrapped=None, destroyed_at=now)

    def import_new_cases(self, batch: Sequence[NewCase]) -> None:
        for c in batch:
            self.put_key(c.case.case_id, c.wrapped_key, c.case.opened_at)
            if c.case.case_id in self._db.cases:
                raise Conflict(_LOST)
            self._j.put(self._db.events, c.case.case_id, [_raw(e) for e in c.case.events])
            self._j.put(self._db.cases, c.case.case_id, {
                **projection_values(c.case, c.case.events[-1].recorded_at), "pupil_index": c.pupil_index})

    def raw_batches(self, *, schools: Sequence[str] | None = None, case_id: str | None = None,
                    case_ids: Sequence[str] | None = None, since: dt.datetime | None = None,
                    as_bytes: bool = False) -> Iterator[list[RawEvent]]:
        db = self._db
        ids = sorted(db.events) if case_id is None else [case_id]
        if case_ids is not None:
            only = set(case_ids)
            ids = [cid for cid in ids if cid in only]
        wanted = None if schools is None else set(schools)
        cutoff = stored_time(since)
        batch: list[RawEvent] = []
        for cid in ids:
            if wanted is not None and db.cases.get(cid, {}).get("school") not in wanted:
                continue
            for row in db.events.get(cid, ()):
                if cutoff is None or row[7] >= cutoff:
                    batch.append(row)
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
        if batch:
            yield batch


def _projection(row: dict[str, Any]) -> Projection:
    return Projection(*(row[name] for name in Projection._fields))


class MemoryCases:
    def __init__(self, db: MemoryDatabase, journal: _Journal) -> None:
        self._db, self._j = db, journal

    def find_open(self, pupil_index: str) -> str | None:
        return next((cid for cid, r in self._db.cases.items()
                     if r["pupil_index"] == pupil_index and r["closed_at"] is None), None)

    def get(self, case_id: str) -> Projection | None:
        row = self._db.cases.get(case_id)
        return None if row is None else _projection(row)

    def summaries(self, *, schools: Sequence[str] | None, state: str | None) -> Iterator[CaseSummary]:
        from workflow.adapters.readmodels import CaseSummary

        rows = [r for r in self._db.cases.values()
                if (schools is None or r["school"] in schools) and (state is None or r["state"] == state)]
        for r in sorted(rows, key=lambda r: (r["school"], r["opened_at"], r["case_id"])):
            yield CaseSummary(
                case_id=r["case_id"], school=r["school"], group=r["school_group"], state=r["state"],
                level=r["level"], version=r["version"], opened_at=r["opened_at"], closed_at=r["closed_at"],
                close_reason=r["close_reason"], process=f"{r['process_id']}@{r['process_version']}")

    def projections(self, schools: Sequence[str] | None) -> Iterator[Projection]:
        for cid in sorted(self._db.cases):
            row = self._db.cases[cid]
            if schools is None or row["school"] in schools:
                yield _projection(row)

    def heads(self) -> Iterator[tuple[str, int, str]]:
        for cid in sorted(self._db.cases):
            row = self._db.cases[cid]
            yield cid, row["version"], row["head_hash"]

    def heads_of(self, case_ids: Sequence[str]) -> dict[str, CaseHead]:
        return {cid: CaseHead(r["school"], r["version"], r["head_hash"])
                for cid in case_ids if (r := self._db.cases.get(cid)) is not None}

    def open_ids(self, *, after: str, size: int) -> list[str]:
        return sorted(cid for cid, r in self._db.cases.items() if r["closed_at"] is None and cid > after)[:size]

    def due_by_next_action(self, *, through: dt.date, after: tuple[dt.date, str], size: int
                           ) -> list[tuple[dt.date, str]]:
        keys = [(r["next_action_on"], cid) for cid, r in self._db.cases.items()
                if r["next_action_on"] is not None and r["next_action_on"] <= through]
        return sorted(k for k in keys if k > after)[:size]

    def due_by_planned(self, *, today: dt.date, through: dt.date, after: tuple[dt.date, str], size: int
                       ) -> list[tuple[dt.date, str]]:
        keys = [(r["planned_on"], cid) for cid, r in self._db.cases.items()
                if r["planned_on"] is not None and r["planned_on"] > today
                and (r["next_action_on"] is None or r["next_action_on"] > through)]
        return sorted(k for k in keys if k > after)[:size]

    def due_ids(self, *, through: dt.date, today: dt.date | None = None) -> list[str]:
        day = today or through
        return sorted(cid for cid, r in self._db.cases.items()
                      if (r["next_action_on"] is not None and r["next_action_on"] <= through)
                      or (r["planned_on"] is not None and r["planned_on"] > day))

    def due_among(self, case_ids: Sequence[str], *, through: dt.date, today: dt.date) -> set[str]:
        due = set(self.due_ids(through=through, today=today))
        return {cid for cid in case_ids if cid in due}

    def write_back(self, marks: Sequence[Mark]) -> int:
        n = 0
        for m in marks:
            row = self._db.cases.get(m.case_id)
            if row is None or row["version"] != m.version:
                continue
            if row["planned_on"] is not None and row["planned_on"] > m.planned_on:
                continue
            self._j.update(row, next_action_on=m.next_action_on, planned_on=m.planned_on)
            n += 1
        return n

    def closed_unerased(self, *, school: str | None = None) -> Iterator[ClosedCase]:
        rows = [r for cid, r in self._db.cases.items()
                if r["closed_at"] is not None and (school is None or r["school"] == school)
                and self._db.keys.get(cid, {}).get("destroyed_at") is None]
        for r in sorted(rows, key=lambda r: (r["closed_at"], r["case_id"])):
            yield ClosedCase(r["case_id"], r["school"], r["closed_at"], r["close_reason"])

    def forget_pupil(self, case_id: str) -> None:
        row = self._db.cases.get(case_id)
        if row is not None:
            self._j.update(row, pupil_index=None)

    def id_prefix_taken(self, prefix: str) -> bool:
        return any(cid.startswith(prefix) for cid in self._db.cases)


class MemoryAccessLog:
    def __init__(self, db: MemoryDatabase, journal: _Journal) -> None:
        self._db, self._j = db, journal

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        log = self._db.access
        head = log[-1]["hash"] if log else GENESIS_HASH
        n = 0
        for r in records:
            record = {k: r.get(k) for k in access_chain.FIELDS}
            head = access_chain.seal([record], head)
            record["id"] = (log[-1]["id"] + 1) if log else 1
            self._j.append(log, record)
            n += 1
        return n

    def of_case(self, case_id: str) -> list[AccessRecord]:
        from workflow.adapters.readmodels import AccessRecord

        rows = sorted((r for r in self._db.access if r["case_id"] == case_id), key=lambda r: (r["at"], r["id"]))
        return [AccessRecord(**{k: r[k] for k in ("id", *access_chain.FIELDS)}) for r in rows]

    def head(self) -> dict[str, Any]:
        log = self._db.access
        return {"records": len(log), "head_hash": log[-1]["hash"] if log else GENESIS_HASH}

    def walk(self, *, progress: Callable[[int], None] | None = None,
             anchor: str | None = None) -> AccessChainReport:
        rows = [(r["id"], stored_time(r["at"]), *(r[k] for k in access_chain.FIELDS[1:]), r["prev_hash"], r["hash"])
                for r in self._db.access]
        return access_chain.check([rows] if rows else [], progress=progress, anchor=anchor)


class MemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase, *, write: bool = True) -> None:
        self._db = db
        self.write = write
        self._journal = _Journal()
        self.store = MemoryEventStore(db, self._journal)
        self.cases = MemoryCases(db, self._journal)
        self.access_log = MemoryAccessLog(db, self._journal)

    def __enter__(self) -> MemoryUnitOfWork:
        self._db.lock.acquire()
        return self

    def commit(self) -> None:
        self._journal.steps.clear()

    def rollback(self) -> None:
        self._journal.undo()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._journal.undo()
        finally:
            self._db.lock.release()


class MemoryOutbox:
    """The outbox; every method is one atomic step under the store's lock, like a transaction."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def _rows(self) -> list[dict[str, Any]]:
        return [self._db.outbox[i] for i in sorted(self._db.outbox)]

    def insert_new(self, rows: Iterable[dict[str, Any]], now: dt.datetime) -> int:
        n = 0
        with self._db.lock:
            for r in rows:
                if r["key"] in self._db.outbox_keys:
                    continue
                rid = max(self._db.outbox, default=0) + 1
                self._db.outbox[rid] = {
                    "id": rid, "case_id": None, "deadline": None, "school": None, "due_on": None,
                    "body_html": None, "ics": None, **r, "status": PENDING, "attempts": 0,
                    "next_attempt_at": now, "claim_token": None, "claimed_until": None, "last_error": None,
                    "created_at": now, "sent_at": None,
                }
                self._db.outbox_keys[r["key"]] = rid
                n += 1
        return n

    def existing_keys(self, keys: Sequence[str]) -> dict[str, str]:
        with self._db.lock:
            return {k: self._db.outbox[self._db.outbox_keys[k]]["status"] for k in keys if k in self._db.outbox_keys}

    def claim(self, *, now: dt.datetime, batch: int, lease: dt.timedelta,
              cutoff: dt.datetime | None = None) -> Claim:
        token, until = secrets.token_hex(16), now + lease
        heads = []
        with self._db.lock:
            due = [r for r in self._rows()
                   if (r["status"] == PENDING and r["next_attempt_at"] <= (cutoff or now))
                   or (r["status"] == SENDING and r["claimed_until"] < now)][:batch]
            for r in due:
                r.update(status=SENDING, claim_token=token, claimed_until=until, attempts=r["attempts"] + 1)
                heads.append(OutboxHead(*(r[f] for f in OutboxHead._fields)))
        return Claim(token, heads, until)

    def _held(self, row_id: int, token: str) -> dict[str, Any] | None:
        r = self._db.outbox.get(row_id)
        return r if r is not None and r["claim_token"] == token and r["status"] == SENDING else None

    def load_body(self, row_id: int, token: str) -> OutboxBody | None:
        with self._db.lock:
            r = self._held(row_id, token)
            return None if r is None else OutboxBody(*(r[f] for f in OutboxBody._fields))

    def renew(self, row_id: int, token: str, until: dt.datetime) -> bool:
        with self._db.lock:
            r = self._held(row_id, token)
            if r is not None:
                r["claimed_until"] = until
            return r is not None

    def renew_all(self, token: str, until: dt.datetime) -> int:
        with self._db.lock:
            held = [r for r in self._db.outbox.values() if r["claim_token"] == token and r["status"] == SENDING]
            for r in held:
                r["claimed_until"] = until
            return len(held)

    def release(self, token: str) -> int:
        with self._db.lock:
            held = [r for r in self._db.outbox.values() if r["claim_token"] == token and r["status"] == SENDING]
            for r in held:
                r.update(status=PENDING, claim_token=None, claimed_until=None, attempts=r["attempts"] - 1)
            return len(held)

    def mark_sent(self, row_id: int, token: str, now: dt.datetime) -> bool:
        with self._db.lock:
            r = self._db.outbox.get(row_id)
            if r is None or r["claim_token"] != token:
                return False
            r.update(status=SENT, sent_at=now, claim_token=None, claimed_until=None, last_error=None)
            return True

    def mark_failed(self, row_id: int, token: str, *, error: str, retry_at: dt.datetime | None) -> bool:
        with self._db.lock:
            r = self._db.outbox.get(row_id)
            if r is None or r["claim_token"] != token:
                return False
            r.update(status=FAILED if retry_at is None else PENDING,
                     next_attempt_at=retry_at if retry_at is not None else r["next_attempt_at"],
                     claim_token=None, claimed_until=None, last_error=error[:300])
            return True

    def retry_failed(self, now: dt.datetime, ids: Sequence[int] | None = None) -> int:
        with self._db.lock:
            failed = [r for r in self._rows() if r["status"] == FAILED]
            if ids:
                wanted = sorted(set(ids))
                found = {r["id"] for r in failed}
                missing = [i for i in wanted if i not in found]
                if missing:
                    raise BadInput(f"geen mislukt bericht: {', '.join(f'#{i}' for i in missing)} "
                                   "(zie passend reminders list --failed); er is niets veranderd")
                failed = [r for r in failed if r["id"] in set(wanted)]
            for r in failed:
                r.update(status=PENDING, attempts=0, next_attempt_at=now, last_error=None)
            return len(failed)

    def clear_sent_bodies(self, *, before: dt.datetime, limit: int = CLEAR_LIMIT) -> int:
        with self._db.lock:
            kept = [r for r in self._db.outbox.values()
                    if r["sent_at"] is not None and r["body_text"] != "" and r["sent_at"] < before]
            kept.sort(key=lambda r: r["sent_at"])
            n = 0
            for r in kept[:limit]:
                if r["status"] == SENT:
                    r.update(subject="", body_text="", body_html=None, ics=None)
                    n += 1
            return n

    def rows(self, *, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        from workflow.adapters.readmodels import OutboxMessage

        with self._db.lock:
            rows = [r for r in reversed(self._rows()) if status is None or r["status"] == status][:limit]
            return [OutboxMessage(**{k: r[k] for k in OutboxMessage.model_fields}) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._db.lock:
            out: dict[str, int] = {}
            for r in self._db.outbox.values():
                out[r["status"]] = out.get(r["status"], 0) + 1
            return out


class MemoryStore:
    """The `Store` port in memory (`memory://`)."""

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.data = db or MemoryDatabase()
        self.outbox = MemoryOutbox(self.data)

    def uow(self, *, write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.data, write=write)

    def init(self) -> list[str]:
        return []  # nothing to migrate: the dicts are the schema

    def scrub(self) -> None:
        """Nothing to push out: a destroyed key is gone from the dict (Python may still hold
        the bytes in freed memory until it reuses it; the fake is not for real pupils' data)."""

    def dispose(self) -> None:
        """Nothing to close."""

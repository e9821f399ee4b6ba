"""The fake's event store: events kept in their stored form, appends checked like the SQL store's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from workflow.adapters.codec import restore_row, stored_time
from workflow.adapters.memory.database import BATCH, LOST, Journal, MemoryDatabase
from workflow.adapters.ports import Derive, NewCase, RawEvent
from workflow.adapters.projection import fold, projection_values
from workflow.domain.errors import Conflict, Said
from workflow.domain.events import Event

if TYPE_CHECKING:
    from workflow.domain.case import Case


def _raw(ev: Event) -> RawEvent:
    return (ev.case_id, ev.seq, ev.type, ev.process_id, ev.process_version, ev.actor, ev.role,
            stored_time(ev.recorded_at), ev.payload_text, ev.prev_hash, ev.hash)


class MemoryEventStore:
    def __init__(self, db: MemoryDatabase, journal: Journal, derive: Derive | None = None) -> None:
        self._db, self._j = db, journal
        self._derive = derive

    def refresh_worklist(self, case: Case) -> None:
        if self._derive is None:
            return
        new = self._derive(case)
        if new.deadlines or new.waiting:
            if self._db.worklists.get(case.case_id) != (case.school, new):
                self._j.put(self._db.worklists, case.case_id, (case.school, new))
        else:
            self._j.pop(self._db.worklists, case.case_id)

    def events_of(self, case_id: str) -> list[Event]:
        return [restore_row(row) for row in self._db.events.get(case_id, ())]

    def load(self, case_id: str, *, first: Callable[[], object] | None = None) -> Case | None:
        if first is not None:
            first()
        return fold(case_id, self.events_of)

    def append(self, case: Case, new: Sequence[Event], *, expected_version: int,
               pupil_index: str | None = None, now: dt.datetime) -> None:
        if not new:
            return
        db, j = self._db, self._j
        values = projection_values(case, now, self._derive(case) if self._derive is not None else None)
        if expected_version == 0:
            if case.case_id in db.cases or case.case_id in db.events:
                raise Conflict(LOST)
            if pupil_index is not None and any(
                    r["pupil_index"] == pupil_index and r["closed_at"] is None for r in db.cases.values()):
                raise Conflict(LOST)  # the partial unique index of migration 0004
            j.put(db.events, case.case_id, [_raw(e) for e in new])
            j.put(db.cases, case.case_id, {**values, "pupil_index": pupil_index})
            self.refresh_worklist(case)
            return
        row = db.cases.get(case.case_id)
        stored = db.events.get(case.case_id, [])
        if row is None or row["version"] != expected_version or (stored and stored[-1][1] >= new[0].seq):
            raise Conflict(Said("store.conflict.case_changed", case_id=case.case_id))
        for e in new:
            j.append(stored, _raw(e))
        j.update(row, **values)
        self.refresh_worklist(case)

    def put_key(self, case_id: str, wrapped: bytes, now: dt.datetime) -> None:
        if case_id in self._db.keys:
            raise Conflict(LOST)
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
                raise Conflict(LOST)
            self._j.put(self._db.events, c.case.case_id, [_raw(e) for e in c.case.events])
            self._j.put(self._db.cases, c.case.case_id, {
                **projection_values(c.case, c.case.events[-1].recorded_at,
                                    self._derive(c.case) if self._derive is not None else None),
                "pupil_index": c.pupil_index})
            self.refresh_worklist(c.case)

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

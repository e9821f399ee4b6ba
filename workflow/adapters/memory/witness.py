"""The fake's witness log: the same roots, leaves and timestamps as the SQL store's, in lists."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from workflow.adapters.memory.database import LOST, Journal, MemoryDatabase
from workflow.adapters.ports import WitnessLeaf, WitnessRoot, WitnessTimestamp
from workflow.domain.errors import Conflict


class MemoryWitnessLog:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def add(self, root: WitnessRoot, changed: Iterable[WitnessLeaf]) -> int:
        if any(r.day == root.day for r in self._db.witness):
            raise Conflict(LOST)  # the unique day of migration 0013
        wid = (self._db.witness[-1].id or 0) + 1 if self._db.witness else 1
        self._j.append(self._db.witness, dataclasses.replace(root, id=wid))
        for cid, seq, h in changed:
            rows = self._db.witness_leaves.get(cid)
            if rows is None:
                self._j.put(self._db.witness_leaves, cid, [(wid, seq, h)])
            else:
                self._j.append(rows, (wid, seq, h))
        return wid

    def latest(self) -> WitnessRoot | None:
        return self._db.witness[-1] if self._db.witness else None

    def of_day(self, day: dt.date) -> WitnessRoot | None:
        return next((r for r in self._db.witness if r.day == day), None)

    def leaves(self, witness_id: int) -> Iterator[WitnessLeaf]:
        for cid in sorted(self._db.witness_leaves):
            held = [r for r in self._db.witness_leaves[cid] if r[0] <= witness_id]
            if held and held[-1][1] > 0:  # seq 0: not in that root
                _, seq, h = held[-1]
                yield WitnessLeaf(cid, seq, h)

    def event_hashes(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        out: dict[tuple[str, int], str] = {}
        for cid, seq in pairs:
            for row in self._db.events.get(cid, ()):
                if row[1] == seq:
                    out[(cid, seq)] = row[10]
        return out

    def cases_with_events(self, case_ids: Sequence[str]) -> set[str]:
        return {cid for cid in case_ids if self._db.events.get(cid)}

    def access_hash_at(self, position: int) -> str | None:
        log = self._db.access
        return str(log[position - 1]["hash"]) if 1 <= position <= len(log) else None

    def add_timestamp(self, stamp: WitnessTimestamp) -> None:
        if stamp.witness_id in self._db.witness_timestamps:
            raise Conflict(LOST)
        self._j.put(self._db.witness_timestamps, stamp.witness_id, stamp)

    def timestamp(self, witness_id: int) -> WitnessTimestamp | None:
        found = self._db.witness_timestamps.get(witness_id)
        return found if isinstance(found, WitnessTimestamp) else None

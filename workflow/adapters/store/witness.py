"""The SQL witness log (the `WitnessLog` port): the daily roots, their leaves, their timestamps.

A root's leaves are not stored whole each day: `witness_leaves` holds only the leaves that
changed since the root before (every leaf for the first root), so the table grows with the
store's writes, not with its size times the days. The leaves of root k are, per case, its row
with the highest witness id at or before k; one index range per case (the primary key is
(case_id, witness_id)), streamed in case id order (bytewise, as the heads are). A row with seq 0
says the case was not in that root (gone from the projection).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_

from workflow.adapters.ports import WitnessLeaf, WitnessRoot, WitnessTimestamp
from workflow.adapters.store import chains
from workflow.adapters.store.tables import access_log, events, witness, witness_leaves, witness_timestamps

CHUNK = 1000
_LEAVES_SQL = (
    "SELECT case_id, seq, head_hash FROM witness_leaves l WHERE seq > 0 AND witness_id = "
    "(SELECT max(l2.witness_id) FROM witness_leaves l2 WHERE l2.case_id = l.case_id AND l2.witness_id <= :k) "
    "ORDER BY case_id"
)


def _root(row: Any) -> WitnessRoot:
    return WitnessRoot(day=row.day, at=row.at, tree=row.tree, root=row.root, cases=int(row.cases),
                       events=int(row.events), access_records=int(row.access_records),
                       access_head=row.access_head, id=int(row.id))


class SqlWitnessLog:
    """The witness log in one unit of work's transaction."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect

    def add(self, root: WitnessRoot, changed: Iterable[WitnessLeaf]) -> int:
        conn = self._connect()
        values = {k: getattr(root, k) for k in ("day", "at", "tree", "root", "cases", "events",
                                                 "access_records", "access_head")}
        wid = int(conn.execute(insert(witness).values(**values).returning(witness.c.id)).scalar_one())
        it = iter(changed)
        while chunk := list(itertools.islice(it, CHUNK)):
            conn.execute(insert(witness_leaves), [{"case_id": c, "witness_id": wid, "seq": s, "head_hash": h}
                                                  for c, s, h in chunk])
        return wid

    def latest(self) -> WitnessRoot | None:
        row = self._connect().execute(select(witness).order_by(witness.c.id.desc()).limit(1)).first()
        return None if row is None else _root(row)

    def of_day(self, day: Any) -> WitnessRoot | None:
        row = self._connect().execute(select(witness).where(witness.c.day == day)).first()
        return None if row is None else _root(row)

    def leaves(self, witness_id: int) -> Iterator[WitnessLeaf]:
        for cid, seq, h in chains.fetch(self._connect(), _LEAVES_SQL, {"k": witness_id}):
            yield WitnessLeaf(cid, seq, h)

    def event_hashes(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        conn = self._connect()
        out: dict[tuple[str, int], str] = {}
        for i in range(0, len(pairs), 500):
            part = list(pairs[i:i + 500])
            q = select(events.c.case_id, events.c.seq, events.c.hash).where(
                tuple_(events.c.case_id, events.c.seq).in_(part))
            for cid, seq, h in conn.execute(q):
                out[(cid, seq)] = h
        return out

    def cases_with_events(self, case_ids: Sequence[str]) -> set[str]:
        conn = self._connect()
        found: set[str] = set()
        for i in range(0, len(case_ids), 500):
            q = select(events.c.case_id).where(events.c.case_id.in_(list(case_ids[i:i + 500]))).distinct()
            found.update(r[0] for r in conn.execute(q))
        return found

    def access_hash_at(self, position: int) -> str | None:
        if position < 1:
            return None
        q = select(access_log.c.hash).order_by(access_log.c.id).offset(position - 1).limit(1)
        row = self._connect().execute(q).first()
        return None if row is None else row[0]

    def add_timestamp(self, stamp: WitnessTimestamp) -> None:
        self._connect().execute(insert(witness_timestamps).values(**stamp._asdict()))

    def timestamp(self, witness_id: int) -> WitnessTimestamp | None:
        t = witness_timestamps
        row = self._connect().execute(select(t).where(t.c.witness_id == witness_id)).first()
        if row is None:
            return None
        return WitnessTimestamp(int(row.witness_id), row.tsa_url, bytes(row.token), row.gen_time, row.received_at)

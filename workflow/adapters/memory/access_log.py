"""The fake's access log: records sealed into the same hash chain as the SQL store's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from workflow.adapters import access_chain
from workflow.adapters.codec import stored_time
from workflow.adapters.memory.database import Journal, MemoryDatabase
from workflow.domain.events import GENESIS_HASH

if TYPE_CHECKING:
    from workflow.adapters.access_chain import AccessChainReport
    from workflow.adapters.readmodels import AccessRecord


class MemoryAccessLog:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
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

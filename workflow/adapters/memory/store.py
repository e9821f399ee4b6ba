"""The fake's unit of work and store."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from workflow.adapters.memory.access_log import MemoryAccessLog
from workflow.adapters.memory.cases import MemoryCases
from workflow.adapters.memory.database import Journal, MemoryDatabase
from workflow.adapters.memory.eventstore import MemoryEventStore
from workflow.adapters.memory.outbox import MemoryOutbox
from workflow.domain.errors import BadInput


class MemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase, *, write: bool = True) -> None:
        self._db = db
        self.write = write
        self._journal = Journal()
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


class MemoryStore:
    """The `Store` port in memory (`memory://`)."""

    read_only = False  # dicts can always be written

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.data = db or MemoryDatabase()
        self.outbox = MemoryOutbox(self.data)

    def uow(self, *, write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.data, write=write)

    def init(self) -> list[str]:
        return []  # nothing to migrate: the dicts are the schema

    def check(self) -> None:
        """Always at this version's schema: the dicts are made by this version."""

    def scrub(self) -> None:
        """Nothing to push out: a destroyed key is gone from the dict (Python may still hold
        the bytes in freed memory until it reuses it; the fake is not for real pupils' data)."""

    def events_appended(self) -> int:
        with self.uow(write=False) as uow:
            return sum(1 for batch in uow.store.raw_batches() for _ in batch)

    def backup(self, target: Path, files: Any) -> None:
        raise BadInput("de opslag in het geheugen (memory://) verdwijnt met het proces: er is niets te bewaren")

    def dispose(self) -> None:
        """Nothing to close."""

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
from workflow.adapters.memory.parents import MemoryParents
from workflow.adapters.memory.signin import MemoryOidcFlows, MemorySigninLinks, MemoryThrottle, MemoryWebSessions
from workflow.adapters.memory.tokens import MemoryApiTokens
from workflow.adapters.memory.users import MemoryUserLookup, MemoryUsers
from workflow.adapters.memory.witness import MemoryWitnessLog
from workflow.adapters.ports import Derive
from workflow.domain.errors import BadInput, Said


class MemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase, *, write: bool = True, derive: Derive | None = None) -> None:
        self._db = db
        self.write = write
        self._journal = Journal()
        self.store = MemoryEventStore(db, self._journal, derive)
        self.cases = MemoryCases(db, self._journal)
        self.access_log = MemoryAccessLog(db, self._journal)
        self.users = MemoryUsers(db, self._journal)
        self.web_sessions = MemoryWebSessions(db, self._journal)
        self.signin_links = MemorySigninLinks(db, self._journal)
        self.oidc_flows = MemoryOidcFlows(db, self._journal)
        self.throttle = MemoryThrottle(db, self._journal)
        self.witness = MemoryWitnessLog(db, self._journal)
        self.parents = MemoryParents(db, self._journal)
        self.api_tokens = MemoryApiTokens(db, self._journal)

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

    def __init__(self, db: MemoryDatabase | None = None, derive: Derive | None = None) -> None:
        self.data = db or MemoryDatabase()
        self.outbox = MemoryOutbox(self.data)
        self.derive = derive  # the work list of a case (domain.worklist.Deriver); None: not kept
        self.users = MemoryUserLookup(self.data)

    def uow(self, *, write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.data, write=write, derive=self.derive)

    def group_commit(self) -> bool:
        return False  # one process's dicts: every unit of work is already one step under a lock

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
        raise BadInput(Said("store.memory.no_backup"))

    def dispose(self) -> None:
        """Nothing to close."""

"""The SQL store (the `Store` port) on SQLite or PostgreSQL: one SQLAlchemy Engine, its units of
work, the outbox, the acting user's lookup, the schema's migrations and the upkeep after an erasure.

`workflow.bootstrap` makes one from the configured database URL; nothing else opens a database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from workflow.adapters.ports import Derive
from workflow.adapters.store.db import Timeouts, is_sqlite, open_engine
from workflow.adapters.store.outbox import SqlOutbox
from workflow.adapters.store.reserve import Reserve
from workflow.adapters.store.uow import SqlUnitOfWork
from workflow.adapters.store.users import SqlUserLookup
from workflow.domain.errors import BadInput

if TYPE_CHECKING:
    from workflow.adapters.files import PrivateFiles
    from workflow.adapters.store.group import GroupCommit


class SqlStore:
    def __init__(self, db: Engine, derive: Derive | None = None, *, read_only: bool = False) -> None:
        self.db = db
        self.read_only = read_only  # a file passend may not write: reads that log must refuse
        # How a case's work list is computed (workflow.domain.worklist.Deriver; the bootstrap
        # wires it): every append keeps the rows. None: no work list is kept (bare tools).
        self.derive = derive
        # See store.reserve for why (on PostgreSQL with a ping after an idle time).
        self.reserve = Reserve(db)
        self.outbox = SqlOutbox(db)
        self.users = SqlUserLookup(db, reserve=self.reserve)
        self.group: GroupCommit | None = None  # group commit of writing units (group_commit())

    @classmethod
    def connect(cls, url: str, derive: Derive | None = None, *, timeouts: Timeouts | None = None,
                existing: bool = False, **kwargs: Any) -> SqlStore:
        """The store of `url`. `existing`: it must be there and at this version's schema (every
        command but `init` and `demo`): a missing SQLite file is never created, and a database
        not set up, older or newer than this version is refused before anything is read."""
        from workflow.adapters.store import problems

        problems.remember(url)
        db, read_only = open_engine(url, timeouts=timeouts, existing=existing, **kwargs)
        store = cls(db, derive, read_only=read_only)
        if existing:
            try:
                store.check()
            except BaseException:
                db.dispose()
                raise
        return store

    def check(self) -> None:
        """Refuse a database whose schema is not this version's (workflow.adapters.store.schema),
        with the one line that says what to do; any other failure to open it, too."""
        from workflow.adapters.store import problems
        from workflow.adapters.store.schema import schema_state

        try:
            state = schema_state(self.db)
        except Exception as exc:
            found = problems.database_problem(exc)
            if found is None:
                raise
            raise found from None
        problems.refuse_schema(state)

    def uow(self, *, write: bool = True) -> SqlUnitOfWork:
        if write and self.group is not None:
            return self.group.unit(self.derive)
        return SqlUnitOfWork(self.db, write=write, reserve=self.reserve, derive=self.derive)

    def group_commit(self) -> bool:
        """From now on, this process's writing units of work share SQLite transactions and their
        fsync with the writers queued beside them (workflow.adapters.store.group): for the
        long-running processes, whose threads write concurrently. Not on PostgreSQL, which
        groups concurrent commits itself. Returns whether it is on."""
        if not is_sqlite(self.db) or self.read_only:
            return False
        if self.group is None:
            from workflow.adapters.store.group import GroupCommit

            self.group = GroupCommit(self.db, self.reserve)
        return True

    def init(self) -> list[str]:
        from workflow.adapters.store.migrate import upgrade

        return upgrade(self.db)

    def scrub(self) -> None:
        """Push a destroyed key's old bytes out of the WAL (SQLite) or out of dead row versions
        (PostgreSQL) now, not at some later checkpoint or autovacuum."""
        if is_sqlite(self.db):
            with self.db.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        with self.db.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM case_keys"))

    def events_appended(self) -> int:
        """The highest event id: an index's last entry, not a count of a table of millions. On
        PostgreSQL a number taken by a transaction that lost a conflict is skipped."""
        with self.db.connect() as conn:
            return int(conn.execute(text("SELECT max(id) FROM events")).scalar() or 0)

    def backup(self, target: Path, files: PrivateFiles) -> None:
        """A consistent copy of the whole database in the new file `target` (SQLite's online
        backup API, while others go on writing); on PostgreSQL: how to with pg_dump (exit 2)."""
        from workflow.adapters.store.backup import PG_GUIDANCE, copy_database

        if not is_sqlite(self.db):
            raise BadInput(PG_GUIDANCE)
        fairy = self.db.raw_connection()
        try:
            copy_database(fairy.driver_connection, target, files)  # type: ignore[arg-type]
        finally:
            fairy.close()

    def dispose(self) -> None:
        self.db.dispose()

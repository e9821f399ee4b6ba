"""The SQL store (the `Store` port) on SQLite or PostgreSQL: one SQLAlchemy Engine, its units of
work, the outbox, the acting user's lookup, the schema's migrations and the upkeep after an erasure.

`workflow.bootstrap` makes one from the configured database URL; nothing else opens a database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from workflow.adapters.ports import Derive
from workflow.adapters.store.db import is_sqlite, make_engine
from workflow.adapters.store.outbox import SqlOutbox
from workflow.adapters.store.reserve import Reserve
from workflow.adapters.store.uow import SqlUnitOfWork
from workflow.adapters.store.users import SqlUserLookup


class SqlStore:
    def __init__(self, db: Engine, derive: Derive | None = None) -> None:
        self.db = db
        # How a case's work list is computed (workflow.domain.worklist.Deriver; the bootstrap
        # wires it): every append keeps the rows. None: no work list is kept (bare tools).
        self.derive = derive
        # SQLite only: see store.reserve for why, and why not PostgreSQL.
        self.reserve = Reserve(db) if is_sqlite(db) else None
        self.outbox = SqlOutbox(db)
        self.users = SqlUserLookup(db, reserve=self.reserve)

    @classmethod
    def connect(cls, url: str, derive: Derive | None = None, **kwargs: Any) -> SqlStore:
        return cls(make_engine(url, **kwargs), derive)

    def uow(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, write=write, reserve=self.reserve, derive=self.derive)

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

    def dispose(self) -> None:
        self.db.dispose()

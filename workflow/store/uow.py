"""The unit of work: one command, one transaction, all or nothing.

Database errors that mean "someone else wrote first" become a Conflict; everything else rolls
back and propagates. Nothing a failed command did is left behind.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import Conflict
from .db import is_sqlite
from .eventstore import EventStore


class UnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._conn: Connection | None = None
        self.store: EventStore

    def __enter__(self) -> UnitOfWork:
        engine = self._engine
        try:
            self._conn = engine.connect()
            if self._write and is_sqlite(engine):
                # On this connection only (cheaper than an engine view per command).
                self._conn.execution_options(sqlite_begin="IMMEDIATE")
            self._conn.begin()
        except OperationalError as exc:
            if self._conn is not None:
                self._conn.close()
            if _is_lock(exc):
                raise Conflict("de database is bezet door een andere schrijver; probeer het opnieuw") from None
            raise
        self.store = EventStore(self._conn)
        return self

    @property
    def connection(self) -> Connection:
        assert self._conn is not None
        return self._conn

    def commit(self) -> None:
        try:
            self.connection.commit()
        except (IntegrityError, OperationalError) as exc:
            self.connection.rollback()
            if isinstance(exc, IntegrityError) or _is_lock(exc):
                raise Conflict("een andere schrijver was eerder; er is niets opgeslagen") from None
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
        if isinstance(exc, IntegrityError):
            raise Conflict("een andere schrijver was eerder; er is niets opgeslagen") from None
        if isinstance(exc, OperationalError) and _is_lock(exc):
            raise Conflict("de database is bezet door een andere schrijver; probeer het opnieuw") from None


def _is_lock(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else ""
    return "locked" in text or "busy" in text or "could not serialize" in text

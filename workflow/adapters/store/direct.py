"""The read of one case on a SQLite file, straight through the driver: `case show` without
SQLAlchemy (issue 17).

Why: `passend case show` is a new process each time, and SQLAlchemy's import alone (0.2 s) was
four times a plain sqlite3 loop reading the same rows. A read of one case needs only a few
statements: the schema's revisions, the acting user, the case's events and key row, and the
access record it leaves. This store runs exactly those on one sqlite3 connection, opened as the
SQL store opens the file (store.sqlitefile: never created, read-only when it cannot be written,
the same pragmas), with the same rows and statements (store.rows, codec), and the access record
sealed into the same hash chain under the same lock (a writer's BEGIN IMMEDIATE), so
`passend audit verify` cannot tell which path wrote it.

It is the part of the `Store` port such a read uses (`users.acting`, `read_only`, `check`, and
units of work with `store.load`/`wrapped_key`/`events_of` and `access_log.append`); anything
else is the SQL store's (workflow.bootstrap.reader picks). PostgreSQL always goes the SQL
store's way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from workflow.adapters import access_chain
from workflow.adapters.codec import CASE_EVENTS_SQL, CASE_KEY_SQL, restore_case_rows
from workflow.adapters.port_values import Acting
from workflow.adapters.projection import fold
from workflow.adapters.store import problems, rows
from workflow.adapters.store.sqlitefile import BUSY_TIMEOUT_MS, existing_file, prepare
from workflow.domain.errors import Conflict

if TYPE_CHECKING:
    from workflow.adapters.ports import TokenRecord
    from workflow.domain.case import Case
    from workflow.domain.events import Event

PREFIX = "sqlite:///"


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (`sqlite:///path`, no query, no escapes), as SQLAlchemy
    reads it; None for anything else, which the SQL store handles."""
    if not url.startswith(PREFIX) or "?" in url or "%" in url:
        return None
    name = url[len(PREFIX):]
    return None if not name or name == ":memory:" else Path(name)


class DirectStore:
    """One case's read on a SQLite file through one sqlite3 connection (see the module)."""

    def __init__(self, url: str, path: Path, *, lock_seconds: float = BUSY_TIMEOUT_MS / 1000) -> None:
        problems.remember(url)
        self._uri, self.read_only = existing_file(path)
        self._busy_ms = int(lock_seconds * 1000)
        self._conn: sqlite3.Connection | None = None
        self.users = self  # the `UserLookup` port

    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._uri, uri=True, timeout=self._busy_ms / 1000, check_same_thread=False)
            try:
                prepare(conn, self._busy_ms, self.read_only)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def check(self) -> None:
        """As SqlStore.check: refuse a file whose schema is not this version's, or that is no
        database at all, with its one line."""
        from workflow.adapters.store.schema import judge

        try:
            conn = self.connection()
            has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                               ).fetchone()
            revisions = None if has is None else [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        except sqlite3.Error as exc:
            found = problems.database_problem(exc)
            if found is None:
                raise
            raise found from None
        state = judge(revisions)
        problems.refuse_schema(state)

    def acting(self, user_id: str) -> Acting | None:
        return rows.acting(user_id, self.connection().execute(rows.ACTING_SQL, (user_id,)).fetchone())

    def token(self, token_hash: str) -> TokenRecord | None:
        return rows.token(self.connection().execute(rows.TOKEN_BY_HASH_SQL, (token_hash,)).fetchone())

    def uow(self, *, write: bool = True) -> DirectUnit:
        return DirectUnit(self.connection(), write=write)

    def dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class DirectUnit:
    """A unit of work on the store's connection: BEGIN (a reader) or BEGIN IMMEDIATE (a writer,
    which holds the write lock from its first statement, as the access log's append needs);
    rolled back unless committed; a lock not got or a writer first is a Conflict (exit 4), as
    in store.uow."""

    def __init__(self, conn: sqlite3.Connection, *, write: bool) -> None:
        self._conn = conn
        self._write = write
        self.store = DirectEvents(conn)
        self.access_log = DirectAccessLog(conn)

    def __enter__(self) -> DirectUnit:
        try:
            self._conn.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.OperationalError as exc:
            if problems.is_lock(exc):
                raise Conflict(problems.BUSY) from None
            raise
        return self

    def commit(self) -> None:
        try:
            self._conn.commit()
        except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
            self._conn.rollback()
            if isinstance(exc, sqlite3.IntegrityError) or problems.is_lock(exc):
                raise Conflict(problems.LOST) from None
            raise

    def rollback(self) -> None:
        self._conn.rollback()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._conn.in_transaction:
            self._conn.rollback()
        if isinstance(exc, sqlite3.IntegrityError):
            raise Conflict(problems.LOST) from None
        if isinstance(exc, sqlite3.OperationalError) and problems.is_lock(exc):
            raise Conflict(problems.BUSY) from None


class DirectEvents:
    """The event store's reads of one case (store.eventstore.EventStore's, same statements)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def events_of(self, case_id: str) -> list[Event]:
        return restore_case_rows(case_id, self._conn.execute(CASE_EVENTS_SQL, (case_id,)).fetchall())

    def load(self, case_id: str) -> Case | None:
        return fold(case_id, self.events_of)

    def wrapped_key(self, case_id: str) -> bytes | None:
        row = self._conn.execute(CASE_KEY_SQL, (case_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])


class DirectAccessLog:
    """The access log's append (store.access_log.SqlAccessLog's): each chunk sealed onto the
    newest hash, read once under the writer's lock, and inserted in the same columns."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        written = 0
        for chunk in access_chain.sealed_chunks(records, self._head):
            self._conn.executemany(rows.ACCESS_INSERT_SQL, [rows.access_values(r) for r in chunk])
            written += len(chunk)
        return written

    def _head(self) -> str:
        return rows.head_hash(self._conn.execute(rows.ACCESS_HEAD_SQL).fetchone())

"""Connections: SQLite made durable (WAL, synchronous=FULL) and transactional, or PostgreSQL.

pysqlite by default opens transactions lazily and never for reads, so SQLite gets explicit
BEGIN statements; a writing unit of work begins IMMEDIATE so two writers queue instead of one
failing halfway. Parameters are hidden from error messages: they may hold personal data.

Waiting is bounded on both: SQLite's busy timeout and PostgreSQL's `lock_timeout` are
`[database] lock_timeout_seconds` (15 s), and PostgreSQL's `statement_timeout` is
`statement_timeout_seconds` (300 s; 0: none), set on every session. A command that runs out of
either is a conflict (exit 4; workflow.adapters.store.problems), and nothing of it is stored.

`existing=True` (every command but `passend init` and `passend demo`) opens a SQLite file that
must already be there: SQLite's `mode=rw`, so a read never creates an empty database. A file
passend cannot write (a copy on read-only media, or a file of another user) is opened read-only
(`mode=ro`; on a read-only file system also `immutable=1`, as nobody can write it there), and
the store says so (`read_only`), so a read that must write its access record can refuse clearly
before it reads anything.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from workflow.adapters.store.sqlitefile import BUSY_TIMEOUT_MS, existing_file, prepare
from workflow.domain.errors import ConfigError, Said, StoreProblem

_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")}


@dataclass(frozen=True)
class Timeouts:
    """How long a session waits: for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout)
    and for one statement (PostgreSQL's statement_timeout; 0: no limit)."""

    lock_seconds: float = BUSY_TIMEOUT_MS / 1000
    statement_seconds: float = 300.0


def normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database, or SQLite in memory)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite") or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str, *, timeouts: Timeouts | None = None, **kwargs: Any) -> Engine:
    """An Engine for `url`, creating a SQLite file that is not there yet (`passend init`)."""
    return open_engine(url, timeouts=timeouts, **kwargs)[0]


def open_engine(url: str, *, timeouts: Timeouts | None = None, existing: bool = False,
                **kwargs: Any) -> tuple[Engine, bool]:
    """An Engine for `url`, and whether it is read-only. `existing`: a SQLite file must be there
    already (never created), and is opened read-only when it cannot be written."""
    t = timeouts or Timeouts()
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True, **kwargs)
        _bound_waits(engine, t)
        _ping_when_idle(engine)
        _own_begin(engine)
        return engine, False
    busy_ms = int(t.lock_seconds * 1000)
    path = sqlite_path(url)
    read_only = False
    if path is not None and path.is_dir():
        raise ConfigError(Said("store.file.is_folder", path=str(path)))
    if not existing and path is not None and not path.parent.exists():
        try:  # `passend init` makes the database's folder, for the owner only
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreProblem(Said("store.file.cannot_make_folder", folder=str(path.parent),
                                    reason=exc.strerror or type(exc).__name__)) from None
    if not existing and path is not None and not path.exists():
        try:  # a new database file for the owner only (SQLite gives -wal and -shm the same mode)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreProblem(Said("store.file.cannot_create", path=str(path),
                                    reason=exc.strerror or type(exc).__name__)) from None
    if existing and path is not None:
        uri, read_only = existing_file(path)

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=busy_ms / 1000, check_same_thread=False)

        kwargs.setdefault("creator", connect)
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": busy_ms / 1000}, **kwargs)
    _make_sqlite_durable(engine, busy_ms, read_only)
    return engine, read_only


def _make_sqlite_durable(engine: Engine, busy_ms: int = BUSY_TIMEOUT_MS, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        prepare(dbapi_conn, busy_ms, read_only)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: this runs for every command, and SQLAlchemy's statement
        # machinery around a bare BEGIN cost more than SQLite taking the lock.
        # A unit of work has usually begun already on the driver connection (store.uow), and
        # a Connection wrapped around it later joins that transaction.
        dbapi = conn.connection.driver_connection
        if not dbapi.in_transaction:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            dbapi.execute(_BEGIN[mode])


def _bound_waits(engine: Engine, t: Timeouts) -> None:
    """Every PostgreSQL session waits at most lock_timeout for a lock and statement_timeout for
    a statement (set per session, so a search_path in the URL's options stays as it is)."""
    lock_ms, stmt_ms = int(t.lock_seconds * 1000), int(t.statement_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {lock_ms}")
            cur.execute(f"SET statement_timeout = {stmt_ms}")
        dbapi_conn.commit()
        # The unit of work's statements are prepared by store.pgwire, not psycopg (whose ROLLBACK
        # would deallocate them all): only where pgwire runs them (libpq 14 and later). Without
        # pipelines the unit of work uses psycopg's cursors, and psycopg keeps preparing.
        from workflow.adapters.store.eventstore import pipelines

        if pipelines():
            from workflow.adapters.store.pgwire import take_over_preparing

            take_over_preparing(dbapi_conn, record.info)


# A pooled PostgreSQL connection that sat unused longer than this is pinged before it is handed
# out (a server restart or an idle timeout may have closed it); one in steady use is not.
IDLE_PING_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping` costs a round trip (SELECT 1) before every unit of work: on
    one client's durable command, a quarter of the time the server takes for the command itself.
    Only a connection that has been idle can have been closed under us unnoticed, so only that
    one is pinged; a dead one is replaced (DisconnectionError makes the pool take another)."""
    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["passend_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("passend_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as e:  # any failure of the ping: a new connection instead
            raise exc.DisconnectionError() from e


def _own_begin(engine: Engine) -> None:
    """A unit of work's event store sends BEGIN itself on PostgreSQL, with its first statement,
    and so puts the connection in psycopg's autocommit mode (store.eventstore.Driver). A
    SQLAlchemy transaction on such a connection outside a transaction block gets psycopg's own
    BEGIN back (else its statements would each commit alone); inside one, begun by the driver, it
    joins it. A connection leaves the pool in psycopg's usual mode."""
    idle = 0  # libpq's PQTRANS_IDLE

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        dbapi = conn.connection.driver_connection
        if dbapi.autocommit and dbapi.pgconn.transaction_status == idle \
                and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            dbapi.autocommit = False

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_conn.autocommit and dbapi_conn.pgconn.transaction_status == idle:
            dbapi_conn.autocommit = False


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def begin_write(engine: Engine) -> Any:
    """A transaction that will write: on SQLite begun IMMEDIATE, so it holds the write lock from
    its first statement and a read it makes first (a chain's head, a row to claim) cannot be
    overtaken by another writer before its own write."""
    return (engine.execution_options(sqlite_begin="IMMEDIATE") if is_sqlite(engine) else engine).begin()

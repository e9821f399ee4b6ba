"""Connections: SQLite made durable (WAL, synchronous=FULL) and transactional, or PostgreSQL.

pysqlite by default opens transactions lazily and never for reads, so SQLite gets explicit
BEGIN statements; a writing unit of work begins IMMEDIATE so two writers queue instead of one
failing halfway. Parameters are hidden from error messages: they may hold personal data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 15_000
_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")}


def normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True,
                               connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _make_sqlite_durable(engine)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, **kwargs)


def _make_sqlite_durable(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

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


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def begin_write(engine: Engine) -> Any:
    """A transaction that will write: on SQLite begun IMMEDIATE, so it holds the write lock from
    its first statement and a read it makes first (a chain's head, a row to claim) cannot be
    overtaken by another writer before its own write."""
    return (engine.execution_options(sqlite_begin="IMMEDIATE") if is_sqlite(engine) else engine).begin()

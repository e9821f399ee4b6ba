"""One idle connection kept checked out between units of work.

Why: every command checks a connection out of SQLAlchemy's pool and back in, and on the hot path
(`fire`, `record`) that is more Python than SQLite's own BEGIN: a proxy object, a weakref
finaliser, a queue under a condition variable, a reset on return. It also runs right after the
COMMIT's fsync, when the CPU's caches have gone cold, so it costs several times what it costs in
a tight loop (BENCHMARKS.md, fire). A unit of work that ends cleanly leaves its connection here
instead, and the next one takes it back.

On PostgreSQL too (BENCHMARKS.md, 13: the pool's check-out and check-in were a tenth of a
`fire`'s client CPU once its statements went through libpq directly). A connection held idle
there can be dropped by the server (a restart, an idle timeout), so, as the pool does at
check-out (store.db: `IDLE_PING_SECONDS`), a connection kept longer than that is pinged when it
is taken and, when the ping fails, given up for one from the pool.

A kept connection has no transaction open (the unit of work committed or rolled back), so it
holds no snapshot and no lock: it does not stop a checkpoint or another writer.
`Engine.dispose()` closes it; a forked child never uses its parent's.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, NamedTuple

from sqlalchemy import Engine, event

from workflow.adapters.store import db as _db


class Kept(NamedTuple):
    """A checked-out connection: the pool's proxy, the pool it came from, and the driver's
    connection under it (looked up once: SQLAlchemy's property chain to it costs more than
    SQLite's BEGIN)."""

    fairy: Any
    pool: Any
    dbapi: Any


class Reserve:
    """At most one idle pooled connection of `engine`, with the pool it came from."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._idle: list[Kept] = []  # at most one
        self._since = 0.0  # PostgreSQL: when the kept connection was given back
        self._lock = threading.Lock()
        # Through a weak reference: the engine must not keep its reserve alive. A checked-out
        # connection's finalizer (weakref.finalize, a global registry) holds the pool, whose
        # listeners hold the engine; an engine holding the reserve, and so the kept connection,
        # made that a cycle through a root, and an engine nobody disposed of (a command run in
        # process, as the tests do) never gave its connection back: on PostgreSQL a server
        # connection each.
        me = weakref.ref(self)

        def on_dispose(_engine: Engine) -> None:
            reserve = me()
            if reserve is not None:
                reserve.clear()

        event.listen(engine, "engine_disposed", on_dispose)
        _RESERVES.add(self)

    def take(self) -> Kept:
        """A checked-out connection: the kept one, else a new one from the pool."""
        with self._lock:
            kept = self._idle.pop() if self._idle else None
            since = self._since
        if kept is not None and (self._sqlite or _alive(kept, since)):
            return kept
        pool = self._engine.pool
        fairy = pool.connect()
        return Kept(fairy, pool, fairy.driver_connection)

    def give(self, kept: Kept) -> None:
        """Keep the connection for the next unit of work, or hand it back to its pool.

        Kept only when it has no transaction open and its pool is still the engine's (a
        dispose in between replaced the pool), and when no other connection is kept already
        (two threads finishing together: the second goes back to the pool).
        """
        if kept.pool is self._engine.pool and _no_transaction(kept.dbapi, self._sqlite):
            with self._lock:
                if not self._idle:
                    self._idle.append(kept)
                    self._since = time.monotonic()
                    return
        kept.fairy.close()

    def clear(self) -> None:
        """Hand the kept connection back to its pool, which closes it if it was disposed."""
        with self._lock:
            idle, self._idle = self._idle, []
        for kept in idle:
            kept.fairy.close()
            if kept.pool is not self._engine.pool:
                kept.pool.dispose()  # the engine disposed of this pool while ours was still out

    def _forget_after_fork(self) -> None:
        # The child must not use, close or even roll back the parent's SQLite connection
        # (SQLite forbids carrying one across fork); it is parked, untouched, for good.
        _ORPHANS.extend(self._idle)
        self._idle = []
        self._lock = threading.Lock()


def _no_transaction(dbapi: Any, sqlite: bool) -> bool:
    """No transaction open. (A PostgreSQL connection stays in the autocommit mode a unit's driver
    put it in, store.eventstore.Driver; the unit of work puts it back in psycopg's usual mode
    before SQLAlchemy is given it, as the pool's check-out does.)"""
    if sqlite:
        return not dbapi.in_transaction
    return not dbapi.closed and dbapi.pgconn.transaction_status == 0  # libpq's PQTRANS_IDLE


def _alive(kept: Kept, since: float) -> bool:
    """A PostgreSQL connection, kept for less than the pool's idle time or answering a ping; one
    that does not answer is invalidated (the pool closes it and will not hand it out again).
    (`_db` is imported with this module: an import statement here ran for every command.)"""
    if time.monotonic() - since < _db.IDLE_PING_SECONDS and not kept.dbapi.closed:
        return True
    try:
        with kept.dbapi.cursor() as cur:
            cur.execute("SELECT 1")
        kept.dbapi.rollback()
        return True
    except Exception:  # any failure of the ping: a connection from the pool instead
        kept.fairy.invalidate()
        return False


_RESERVES: weakref.WeakSet[Reserve] = weakref.WeakSet()
_ORPHANS: list[Kept] = []


def _after_fork_in_child() -> None:
    for reserve in list(_RESERVES):
        reserve._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

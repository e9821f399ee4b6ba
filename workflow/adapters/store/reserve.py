"""One idle SQLite connection kept checked out between units of work.

Why: every command checks a connection out of SQLAlchemy's pool and back in, and on the hot path
(`fire`, `record`) that is more Python than SQLite's own BEGIN: a proxy object, a weakref
finaliser, a queue under a condition variable, a reset on return. It also runs right after the
COMMIT's fsync, when the CPU's caches have gone cold, so it costs several times what it costs in
a tight loop (BENCHMARKS.md, fire). A unit of work that ends cleanly leaves its connection here
instead, and the next one takes it back.

Only for SQLite. A PostgreSQL connection held idle can be dropped by the server, and the pool's
pre-ping at check-out is what notices that. A kept connection has no transaction open (the unit
of work committed or rolled back), so it holds no snapshot and no lock: it does not stop a
checkpoint or another writer. `Engine.dispose()` closes it; a forked child never uses its
parent's.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, NamedTuple

from sqlalchemy import Engine, event


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
        self._idle: list[Kept] = []  # at most one
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", self._on_dispose)
        _RESERVES.add(self)

    def take(self) -> Kept:
        """A checked-out connection: the kept one, else a new one from the pool."""
        with self._lock:
            kept = self._idle.pop() if self._idle else None
        if kept is not None:
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
        if kept.pool is self._engine.pool and not kept.dbapi.in_transaction:
            with self._lock:
                if not self._idle:
                    self._idle.append(kept)
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

    def _on_dispose(self, _engine: Engine) -> None:
        self.clear()

    def _forget_after_fork(self) -> None:
        # The child must not use, close or even roll back the parent's SQLite connection
        # (SQLite forbids carrying one across fork); it is parked, untouched, for good.
        _ORPHANS.extend(self._idle)
        self._idle = []
        self._lock = threading.Lock()


_RESERVES: weakref.WeakSet[Reserve] = weakref.WeakSet()
_ORPHANS: list[Kept] = []


def _after_fork_in_child() -> None:
    for reserve in list(_RESERVES):
        reserve._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

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
from typing import Any

from sqlalchemy import Engine, event


class Reserve:
    """At most one idle pooled connection of `engine`, with the pool it came from."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[tuple[Any, Any]] = []  # [(fairy, its pool)]: at most one
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", self._on_dispose)
        _RESERVES.add(self)

    def take(self) -> tuple[Any, Any]:
        """(a checked-out connection, the pool it belongs to): the kept one, else the pool's."""
        with self._lock:
            kept = self._idle.pop() if self._idle else None
        if kept is not None:
            return kept
        pool = self._engine.pool
        return pool.connect(), pool

    def give(self, fairy: Any, pool: Any) -> None:
        """Keep `fairy` for the next unit of work, or hand it back to its pool.

        Kept only when it has no transaction open and its pool is still the engine's (a
        dispose in between replaced the pool), and when no other connection is kept already
        (two threads finishing together: the second goes back to the pool).
        """
        if pool is self._engine.pool and not fairy.driver_connection.in_transaction:
            with self._lock:
                if not self._idle:
                    self._idle.append((fairy, pool))
                    return
        fairy.close()

    def clear(self) -> None:
        """Hand the kept connection back to its pool, which closes it if it was disposed."""
        with self._lock:
            idle, self._idle = self._idle, []
        for fairy, pool in idle:
            fairy.close()
            if pool is not self._engine.pool:
                pool.dispose()  # the engine disposed of this pool while ours was still out

    def _on_dispose(self, _engine: Engine) -> None:
        self.clear()

    def _forget_after_fork(self) -> None:
        # The child must not use, close or even roll back the parent's SQLite connection
        # (SQLite forbids carrying one across fork); it is parked, untouched, for good.
        _ORPHANS.extend(self._idle)
        self._idle = []
        self._lock = threading.Lock()


_RESERVES: weakref.WeakSet[Reserve] = weakref.WeakSet()
_ORPHANS: list[tuple[Any, Any]] = []


def _after_fork_in_child() -> None:
    for reserve in list(_RESERVES):
        reserve._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

"""One kept autocommit connection for the one-row reads every command makes (PostgreSQL).

Why: `Engine.user` reads the acting user on every command. Through the pool that read costs
PostgreSQL three round trips (the pool's pre-ping, the SELECT, the rollback on return): about
0.85 ms on the benchmark machine, half a `fire`. On a connection of its own in autocommit mode it
is one round trip. The connection is taken out of the pool for good (detached), used under a lock
by one thread at a time, reopened once when the server dropped it, never used in a forked child,
and closed when the engine is disposed. SQLite does not need this: its reads go through the
engine's kept connection (store.reserve), where a read by primary key costs microseconds.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from sqlalchemy import Engine, event


class KeptReader:
    """Runs single-row SELECTs on one detached, autocommit driver connection of `engine`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._fairy: Any = None
        self._driver: Any = None
        self._pid = os.getpid()
        event.listen(engine, "engine_disposed", lambda _e: self.close())

    def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        operational = self._engine.dialect.loaded_dbapi.OperationalError
        with self._lock:
            for attempt in (1, 2):
                driver = self._connection()
                try:
                    cur = driver.execute(sql, params)
                    return cur.fetchone()  # type: ignore[no-any-return]
                except operational:
                    self._drop()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def _connection(self) -> Any:
        if self._fairy is not None and self._pid != os.getpid():
            self._fairy = None  # the parent's: never touched in a child, not even to close it
        if self._fairy is None:
            fairy = self._engine.raw_connection()
            driver: Any = fairy.driver_connection
            fairy.detach()
            driver.rollback()
            driver.autocommit = True
            self._fairy, self._driver, self._pid = fairy, driver, os.getpid()
        return self._driver

    def _drop(self) -> None:
        fairy, self._fairy = self._fairy, None
        if fairy is not None:
            with contextlib.suppress(Exception):  # a connection the server dropped may fail to close
                fairy.close()

    def close(self) -> None:
        with self._lock:
            self._drop()

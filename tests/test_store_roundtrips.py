"""PostgreSQL's write path: how many round trips a command costs, which statements stay prepared,
and the event store's deferred writes (store.eventstore.Driver: BEGIN with the first statement,
an append's statements together, the work list's changed rows with the COMMIT).

Round trips are counted, not timed: libpq's trace of every connection the engine opens, where
each Sync (extended protocol) or Query (simple protocol) the client sends is one wait for the
server. The deferred writes are checked on both databases: on SQLite they run at once.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from psycopg.pq import Trace
from sqlalchemy import event

from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"
_WAIT = re.compile(r"^F\s+\d+\s+(Sync|Query)\b", re.MULTILINE)


def _postgres(engine: Engine) -> None:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("round trips and prepared statements: PostgreSQL only (PASSEND_TEST_POSTGRES_URL)")


def _with_clock(engine: Engine, cid: str) -> None:
    """A plan starts a clock: the case gets a row in the work list's case_deadlines."""
    today = engine.clock().date()
    engine.record("plan", cid, actor=LK, start=today, end=today + dt.timedelta(days=20),
                  goals="g", who="w", frequency="2x")


def _deadline_rows(conn: Any, cid: str) -> int:
    sql = "SELECT count(*) FROM case_deadlines WHERE case_id = " + ("?" if conn.dialect.name == "sqlite" else "%s")
    return int(conn.exec_driver_sql(sql, (cid,)).scalar_one())


class _Traces:
    """libpq's trace of every connection opened from now on (the engine's pool is emptied and its
    kept connection (store.reserve) closed first, so the connections of the next commands are all new). libpq
    buffers the trace: `waits` stops tracing (which flushes it), counts, and traces on."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._traced: list[tuple[Any, Path, Any]] = []
        engine.db.dispose()

        def on_connect(dbapi: Any, _record: Any) -> None:
            path = folder / f"trace{len(self._traced)}.txt"
            f = path.open("w")
            self._traced.append((dbapi, path, f))
            dbapi.pgconn.trace(f.fileno())
            dbapi.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

        event.listen(engine.db, "connect", on_connect)

    def waits(self) -> int:
        total = 0
        for dbapi, path, f in self._traced:
            if dbapi.closed:
                continue
            dbapi.pgconn.untrace()
            total += len(_WAIT.findall(path.read_text()))
            dbapi.pgconn.trace(f.fileno())
            dbapi.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        return total

    def close(self) -> None:
        for dbapi, _path, f in self._traced:
            if not dbapi.closed:
                dbapi.pgconn.untrace()
            f.close()


def test_a_fire_costs_three_round_trips(engine: Engine, tmp_path: Path) -> None:
    """BEGIN with the acting user's read and the case's events; the event, the projection and
    the work list's read; the work list's changed row with the COMMIT. Before: seven or eight,
    then four (the acting user's read a round trip of its own)."""
    _postgres(engine)
    cids = [str(engine.open_case(pupil=f"RT-{i}", school="de-linde", actor=IB)["case_id"]) for i in range(3)]
    for cid in cids:
        _with_clock(engine, cid)
    traces = _Traces(engine, tmp_path)
    try:
        engine.fire(cids[0], "close", actor=IB, params={"reason": "verhuisd"})  # connects: not counted
        with engine.uow(write=False) as uow:
            assert _deadline_rows(uow.connection, cids[0]) == 0
        before = traces.waits()
        engine.fire(cids[1], "close", actor=IB, params={"reason": "verhuisd"})
        assert traces.waits() - before == 3
    finally:
        traces.close()
    with engine.uow(write=False) as uow:
        assert _deadline_rows(uow.connection, cids[1]) == 0 and _deadline_rows(uow.connection, cids[2]) == 1


def test_the_hot_statements_stay_prepared_on_a_pooled_connection(engine: Engine) -> None:
    _postgres(engine)
    cid = str(engine.open_case(pupil="RT-P", school="de-linde", actor=IB)["case_id"])
    _with_clock(engine, cid)
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    with engine.uow(write=False) as uow:  # one client: the pool hands out the same connection
        found = [s for (s,) in uow.connection.exec_driver_sql("SELECT statement FROM pg_prepared_statements")]
    for start in ("SELECT seq, type", "INSERT INTO events", "UPDATE cases SET", "SELECT deadline, anchor"):
        assert any(s.startswith(start) for s in found), (start, found)


def test_deferred_writes_go_before_core_and_the_commit_and_not_after_a_rollback(engine: Engine) -> None:
    cid = str(engine.open_case(pupil="RT-D", school="de-linde", actor=IB)["case_id"])
    _with_clock(engine, cid)
    delete = "DELETE FROM case_deadlines WHERE case_id = ?"
    with engine.uow() as uow:
        uow.store.load(cid)
        uow.store.driver.defer(delete, (cid,))
        assert _deadline_rows(uow.connection, cid) == 0  # Core sees it: it went first
        uow.rollback()
        assert _deadline_rows(uow.connection, cid) == 1
    with engine.uow() as uow:
        uow.store.load(cid)
        uow.store.driver.defer(delete, (cid,))
        uow.rollback()  # dropped with its transaction, not sent with the next one
        uow.store.load(cid)
        uow.commit()
    with engine.uow(write=False) as uow:
        assert _deadline_rows(uow.connection, cid) == 1
    with engine.uow() as uow:
        uow.store.load(cid)
        uow.store.driver.defer(delete, (cid,))
        uow.commit()  # with the COMMIT
    with engine.uow(write=False) as uow:
        assert _deadline_rows(uow.connection, cid) == 0


def test_a_unit_that_began_with_the_driver_gives_core_its_transaction(engine: Engine) -> None:
    """Core's statements after the driver's BEGIN join its transaction; after a commit, Core's
    next statement is in a transaction of its own again (not committed one by one)."""
    cid = str(engine.open_case(pupil="RT-C", school="de-linde", actor=IB)["case_id"])
    _with_clock(engine, cid)
    delete = "DELETE FROM case_deadlines WHERE case_id = " + ("?" if engine.db.dialect.name == "sqlite" else "%s")
    with engine.uow() as uow:
        uow.store.load(cid)
        uow.connection.exec_driver_sql(delete, (cid,))
        uow.rollback()
        uow.connection.exec_driver_sql(delete, (cid,))
        uow.rollback()
    with engine.uow(write=False) as uow:
        assert _deadline_rows(uow.connection, cid) == 1

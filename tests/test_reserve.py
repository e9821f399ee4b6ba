"""The connection reserve: one idle connection kept between units of work.

What it must keep: the next unit of work gets the same driver connection; a kept connection
holds no transaction (another writer and a checkpoint go ahead); a unit that failed on a database
error, or that wrapped SQLAlchemy around its connection, hands it back to the pool; dispose closes
it; threads share it safely; a forked child never touches its parent's; PostgreSQL keeps one too
(and pings it after an idle time: tests/test_store_reconnect.py).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.conftest import write_config
from tests.engine_support import in_threads
from workflow.adapters.store.tables import events
from workflow.bootstrap import bootstrap
from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_url: str) -> Iterator[Engine]:
    e = bootstrap(write_config(tmp_path, sqlite_url), create_key=True)
    e.init()
    yield e
    e.db.dispose()


def _open(engine: Engine, pupil: str = "LL-RES") -> str:
    return str(engine.open_case(pupil=pupil, school="de-linde", actor=IB)["case_id"])


def _driver(engine: Engine) -> Any:
    with engine.uow(write=False) as uow:
        return uow.store.driver.dbapi


def _kept(engine: Engine) -> list[Any]:
    assert engine.store.reserve is not None
    return [kept.fairy for kept in engine.store.reserve._idle]


def test_the_next_unit_of_work_gets_the_same_connection(sqlite_engine: Engine) -> None:
    cid = _open(sqlite_engine)
    first = _driver(sqlite_engine)
    sqlite_engine.record("signal", cid, actor=LK, area="lezen", note="n")
    assert _kept(sqlite_engine)[0].driver_connection is first  # record: no Core, so kept
    sqlite_engine.fire(cid, "escalate", actor=LK)
    assert _driver(sqlite_engine) is first
    assert len(_kept(sqlite_engine)) == 1
    assert sqlite_engine.db.pool.checkedout() == 1  # the kept one, and nothing else out


def test_a_kept_connection_holds_no_transaction(sqlite_engine: Engine, tmp_path: Path) -> None:
    cid = _open(sqlite_engine)
    sqlite_engine.record("signal", cid, actor=LK, area="lezen", note="n")
    sqlite_engine.fire(cid, "escalate", actor=LK)  # a lean unit of work: it ends in the reserve
    (kept,) = _kept(sqlite_engine)
    assert not kept.driver_connection.in_transaction
    other = sqlite3.connect(tmp_path / "passend.db", isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # would raise 'database is locked' if ours held a lock
        other.execute("ROLLBACK")
        busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0  # no reader pins an old snapshot
    finally:
        other.close()
    assert (tmp_path / "passend.db-wal").stat().st_size == 0
    sqlite_engine.record("contact", cid, actor=LK, method="telefoon")  # the kept one still works


def test_a_database_error_hands_the_connection_back_to_the_pool(sqlite_engine: Engine) -> None:
    _open(sqlite_engine)
    before = _driver(sqlite_engine)
    with pytest.raises(Exception, match="syntax error"), sqlite_engine.uow() as uow:
        uow.store.driver.execute("SELEKT 1", ())
    assert _kept(sqlite_engine) == []
    assert sqlite_engine.db.pool.checkedout() == 0
    after = _driver(sqlite_engine)  # still usable: the pool judged it and handed it out again
    assert after is before
    assert after.execute("SELECT count(*) FROM events").fetchone()[0] >= 1


def test_a_refused_or_conflicting_command_keeps_the_connection(sqlite_engine: Engine) -> None:
    from workflow.domain.errors import Conflict, Refused

    cid = _open(sqlite_engine)
    conn = _driver(sqlite_engine)
    with pytest.raises(Refused):
        sqlite_engine.fire(cid, "start_opp", actor=IB)
    with pytest.raises(Conflict):
        sqlite_engine.record("signal", cid, actor=LK, area="lezen", note="n", expected_version=99)
    assert _kept(sqlite_engine)[0].driver_connection is conn
    assert not conn.in_transaction


def test_a_unit_that_used_core_returns_its_connection_to_the_pool(sqlite_engine: Engine) -> None:
    _open(sqlite_engine)
    with sqlite_engine.uow(write=False) as uow:
        uow.connection.execute(select(events.c.id)).all()
    assert _kept(sqlite_engine) == []
    assert sqlite_engine.db.pool.checkedout() == 0
    with sqlite_engine.db.connect() as conn:  # the pool's connection works as before
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() >= 1


def test_dispose_closes_the_kept_connection(sqlite_engine: Engine) -> None:
    _open(sqlite_engine)
    _driver(sqlite_engine)
    (kept,) = _kept(sqlite_engine)
    dbapi = kept.driver_connection
    sqlite_engine.db.dispose()
    assert _kept(sqlite_engine) == []
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        dbapi.execute("SELECT 1")
    assert sqlite_engine.list_cases(actor=IB)  # a fresh connection from the new pool


def test_a_connection_out_during_a_dispose_is_not_kept(sqlite_engine: Engine) -> None:
    _open(sqlite_engine)
    with sqlite_engine.uow(write=False) as uow:
        dbapi = uow.store.driver.dbapi
        sqlite_engine.db.dispose()  # e.g. another thread, while this unit is still working
    assert _kept(sqlite_engine) == []
    assert _driver(sqlite_engine) is not dbapi  # the new pool's connection


def test_only_a_connection_without_a_transaction_is_kept(sqlite_engine: Engine) -> None:
    from workflow.adapters.store.reserve import Reserve

    reserve = Reserve(sqlite_engine.db)
    kept = reserve.take()
    kept.dbapi.execute("BEGIN")
    reserve.give(kept)  # handed back to the pool, which rolls it back
    assert reserve._idle == []
    again = reserve.take()
    assert not again.dbapi.in_transaction
    reserve.give(again)
    assert reserve._idle == [again]
    reserve.clear()
    assert sqlite_engine.db.pool.checkedout() == 0


def test_threads_share_the_reserve_safely(sqlite_engine: Engine) -> None:
    cases = [_open(sqlite_engine, pupil=f"LL-T{i}") for i in range(4)]

    def work(cid: str) -> None:
        for _ in range(15):
            sqlite_engine.record("signal", cid, actor=LK, area="lezen", note="n")

    errors = in_threads(work, cases)
    assert errors == []
    assert len(_kept(sqlite_engine)) <= 1
    with sqlite_engine.db.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM events WHERE type = 'evidence_recorded'")).scalar_one()
    assert n == 4 * 15
    assert sqlite_engine.db.pool.checkedout() == len(_kept(sqlite_engine))


def _child(engine: Engine, cid: str, out: Any) -> None:
    reserve = engine.store.reserve
    assert reserve is not None
    out.put((len(reserve._idle), id(_driver(engine))))
    engine.record("signal", cid, actor=LK, area="lezen", note="child")
    out.put("done")


def test_a_forked_child_does_not_use_its_parents_connection(sqlite_engine: Engine) -> None:
    cid = _open(sqlite_engine)
    parent_conn = _driver(sqlite_engine)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    p = ctx.Process(target=_child, args=(sqlite_engine, cid, out))
    p.start()
    kept_in_child, child_conn_id = out.get(timeout=30)
    assert out.get(timeout=30) == "done"
    p.join(30)
    assert p.exitcode == 0
    assert kept_in_child == 0  # the parent's kept connection was parked in the child
    # A different object: the parent's is still alive in the child (parked), so no id reuse.
    assert child_conn_id != id(parent_conn)
    # The parent's connection is untouched and still works, and sees the child's write.
    assert _driver(sqlite_engine) is parent_conn
    sqlite_engine.fire(cid, "escalate", actor=LK)


def test_both_databases_keep_a_connection(engine: Engine) -> None:
    """PostgreSQL too since issue 17 (BENCHMARKS.md, 13): a driver-only unit's connection is
    kept; one around which SQLAlchemy was wrapped (opening a case) goes back to the pool."""
    assert engine.store.reserve is not None
    cid = _open(engine)
    assert engine.db.pool.checkedout() == 0 and _kept(engine) == []
    first = _driver(engine)
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    assert _driver(engine) is first and len(_kept(engine)) == 1
    assert engine.db.pool.checkedout() == 1  # the kept one, out of the pool
    engine.db.dispose()
    assert _kept(engine) == [] and engine.db.pool.checkedout() == 0

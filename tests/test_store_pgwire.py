"""A unit's statements on PostgreSQL through libpq's pipeline mode (store.pgwire): the values
are psycopg's, an error of one statement is raised once its batch has been read back and leaves
the connection usable, prepared statements are kept only when their PREPARE succeeded, and
survive a ROLLBACK (psycopg, which would deallocate them all, no longer prepares on the engine's
connections). PostgreSQL only."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import PG_ENV
from workflow.adapters.store.pgwire import Wire
from workflow.domain.errors import Refused
from workflow.service_layer.engine import Engine

IB = "ib.jansen"


@pytest.fixture
def conn() -> Iterator[Any]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    c = psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    c.execute("CREATE TEMP TABLE t (id int PRIMARY KEY, at timestamptz, note text)")
    yield c
    c.close()


def _prepared(c: Any) -> set[str]:
    return {n for (n,) in c.execute("SELECT name FROM pg_prepared_statements") if n.startswith("passend_")}


def test_a_batch_gives_psycopgs_values_and_rowcounts(conn: Any) -> None:
    wire = Wire(conn)
    at = dt.datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=dt.UTC)
    ins, upd, sel = wire.result(), wire.result(), wire.result()
    wire.run([("INSERT INTO t VALUES (?, ?, ?)", (1, at, "één"), ins, True),
              ("UPDATE t SET note = ? WHERE id = ?", ("twee", 1), upd, True),
              ("SELECT id, at, note FROM t WHERE id = ?", (1,), sel, True)])
    assert ins.rowcount == 1 and upd.rowcount == 1
    assert sel.fetchall() == [conn.execute("SELECT id, at, note FROM t").fetchone()] == [(1, at, "twee")]
    assert len(_prepared(conn)) == 3


def test_an_error_is_raised_after_the_batch_and_the_connection_goes_on(conn: Any) -> None:
    wire = Wire(conn)
    wire.run([("INSERT INTO t VALUES (?, NULL, NULL)", (1,), None, True)])
    first, after = wire.result(), wire.result()
    with pytest.raises(psycopg.errors.UniqueViolation):
        wire.run([("SELECT count(*) FROM t WHERE id = ?", (1,), first, True),
                  ("INSERT INTO t VALUES (?, NULL, NULL)", (1,), None, True),
                  ("SELECT count(*) FROM t WHERE id > ?", (0,), after, True)])
    assert first.fetchall() == [(1,)] and after.fetchall() == []  # skipped by the server
    assert not conn.closed and conn.pgconn.pipeline_status == 0
    again = wire.result()
    wire.run([("SELECT count(*) FROM t WHERE id > ?", (0,), again, True)])
    assert again.fetchone() == (1,)


def test_a_prepare_that_failed_is_not_kept_and_deallocated_ones_are_made_again(conn: Any) -> None:
    wire = Wire(conn)
    with pytest.raises(psycopg.errors.UndefinedTable):
        wire.run([("SELECT * FROM nowhere WHERE id = ?", (1,), None, True)])
    assert _prepared(conn) == set()
    r = wire.result()
    wire.run([("SELECT note FROM t WHERE id = ?", (1,), r, True)])
    assert len(_prepared(conn)) == 1
    conn.execute("DEALLOCATE ALL")  # someone else's doing (a pooler, a tool)
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        wire.run([("SELECT note FROM t WHERE id = ?", (1,), None, True)])
    wire.run([("SELECT note FROM t WHERE id = ?", (1,), None, True)])  # prepared anew
    assert len(_prepared(conn)) == 1


def test_nothing_is_prepared_when_psycopg_was_told_not_to(conn: Any) -> None:
    wire = Wire(conn, prepares=False)
    r = wire.result()
    wire.run([("SELECT count(*) FROM t WHERE id > ?", (0,), r, True)])
    assert r.fetchone() == (0,) and _prepared(conn) == set()


def test_the_hot_statements_survive_a_rollback(engine: Engine) -> None:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    for i in range(7):  # SQLAlchemy's statements used often enough for psycopg to prepare them
        cid = str(engine.open_case(pupil=f"PW-{i}", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor=IB, area="lezen", note="n")
    with engine.uow(write=False) as uow:
        before = set(uow.connection.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE starts_with(name, 'passend_')").scalars())
    with pytest.raises(Refused):  # refused after its reads: the unit rolls back
        engine.fire(cid, "close", actor="lk.devries", params={"reason": "verhuisd"})
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    with engine.uow(write=False) as uow:
        after = set(uow.connection.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE starts_with(name, 'passend_')").scalars())
    assert before and before <= after

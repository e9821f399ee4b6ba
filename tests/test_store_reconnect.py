"""PostgreSQL without a ping before every unit of work, and still no command lost to a dead
connection.

The pool no longer sends `SELECT 1` before each unit of work (a round trip per command); a
connection that sat idle is pinged when it is taken, and replaced when the ping fails. Here the
server ends a pooled connection (as a restart or an idle timeout would): after the idle time,
the next command runs on a new connection and succeeds.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.conftest import PG_ENV
from workflow.adapters.store import db
from workflow.service_layer.engine import Engine


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]


@pytest.mark.slow
def test_an_idle_connection_the_server_closed_is_replaced(engine: Engine, db_url: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip(f"PostgreSQL only ({PG_ENV})")
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    cid = engine.open_case(pupil="P-1", school="de-linde", actor="ib.jansen")["case_id"]
    with engine.uow(write=False) as uow:
        pid = uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with psycopg.connect(_plain(db_url), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    time.sleep(0.4)
    engine.record("signal", cid, actor="lk.devries", area="lezen", note="n")
    assert engine.case(cid, actor="ib.jansen")["version"] == 2
    with engine.uow(write=False) as uow:
        assert uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid



@pytest.mark.slow
def test_a_kept_connection_the_server_closed_is_replaced(engine: Engine, db_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for the connection a unit of work leaves in the store's reserve (store.reserve),
    which `fire` takes without going through the pool."""
    if not db_url.startswith("postgresql"):
        pytest.skip(f"PostgreSQL only ({PG_ENV})")
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    cid = engine.open_case(pupil="P-2", school="de-linde", actor="ib.jansen")["case_id"]
    engine.record("signal", cid, actor="lk.devries", area="lezen", note="n")
    with engine.uow(write=False) as uow:  # the driver only: its connection goes back to the reserve
        uow.store.load(cid)
        pid = uow.store.driver.dbapi.info.backend_pid
    with engine.uow(write=False) as uow:
        uow.store.load(cid)
        assert uow.store.driver.dbapi.info.backend_pid == pid  # kept, not pooled
    with psycopg.connect(_plain(db_url), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    time.sleep(0.4)
    engine.fire(cid, "close", actor="ib.jansen", params={"reason": "verhuisd"})
    with engine.uow(write=False) as uow:
        case = uow.store.load(cid)
        assert case is not None and case.closed
        assert uow.store.driver.dbapi.info.backend_pid != pid

"""The unit of work begins on the driver connection and wraps SQLAlchemy around it only on demand.

These pin the behaviour that the lean path must keep: one transaction for everything a unit
writes (driver statements and Core statements alike), a fresh transaction after a commit, all
or nothing on failure, and driver errors surfacing as the SQLAlchemy errors the CLI explains.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from tests.engine_support import dump
from workflow.adapters.store.tables import cases, events
from workflow.domain.case import Case
from workflow.service_layer.engine import Engine


def _open(engine: Engine) -> str:
    return str(engine.open_case(pupil="LL-UOW", school="de-linde", actor="ib.jansen")["case_id"])


def _signal(engine: Engine, case: Case, seq_date: str = "2026-09-01") -> Any:
    d = engine.definition_of(case)
    return case.next_event(type="evidence_recorded", payload={
        "kind": "signal", "date": seq_date, "level": case.level, "state": case.state,
        "fields": {"concern": "leren"}}, actor="ib.jansen", role="ib",
        recorded_at=engine.clock(), process=d)


def test_driver_and_core_statements_share_one_transaction(engine: Engine) -> None:
    cid = _open(engine)
    before = dump(engine.db)
    with pytest.raises(RuntimeError), engine.uow() as uow:
        case = uow.store.load(cid)
        assert case is not None
        ev = _signal(engine, case)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=engine.clock())  # driver
        uow.connection.execute(select(func.count()).select_from(events))  # Core, same transaction
        raise RuntimeError("the command fails after writing")
    assert dump(engine.db) == before


def test_a_unit_may_commit_and_go_on_in_a_new_transaction(engine: Engine) -> None:
    """After a commit the next driver statement begins again: the second append is atomic too."""
    cid = _open(engine)
    with engine.uow() as uow:
        case = uow.store.load(cid)
        assert case is not None
        for _ in range(2):
            ev = _signal(engine, case)
            expected = case.version
            case.apply(ev)
            uow.store.append(case, [ev], expected_version=expected, now=engine.clock())
            uow.commit()
        # a third append that is never committed is rolled back on exit
        ev = _signal(engine, case)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=engine.clock())
    with engine.db.connect() as conn:
        assert conn.execute(select(cases.c.version).where(cases.c.case_id == cid)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(events)
                            .where(events.c.case_id == cid)).scalar_one() == 3


def test_a_driver_error_surfaces_as_sqlalchemys(engine: Engine) -> None:
    """The CLI turns SQLAlchemy's DBAPIError into one clear line; the driver path must too."""
    with engine.db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE case_keys")
    with pytest.raises(DBAPIError), engine.uow(write=False) as uow:
        uow.store.driver.execute("SELECT wrapped FROM case_keys WHERE case_id = ?", ("C-X",))

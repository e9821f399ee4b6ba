"""Erasure: refused before the retention period ends; afterwards the data is gone, the proof stays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.audit_support import IB, clocked_engine, journey_to_tlv, quick_closed
from workflow.adapters.crypto import ERASED
from workflow.adapters.store.tables import case_keys, cases, events
from workflow.adapters.store.uow import unit_on
from workflow.domain.errors import Refused
from workflow.service_layer.audit.verify import verify

T0 = dt.datetime(2023, 5, 8, 10, 0, tzinfo=dt.UTC)


def _count_events(engine: Any) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_erase_refused_before_retention_then_done(config_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = quick_closed(engine, pupil="LL-7")
    tlv = journey_to_tlv(engine, clock, pupil="LL-8", name="Fatima", note="leest <b>traag</b>")
    open_case = engine.open_case(pupil="LL-9", school="de-linde", actor=IB)["case_id"]
    before = _count_events(engine)
    clock.now = T0 + dt.timedelta(days=365)
    with pytest.raises(Refused) as r:
        engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")
    assert "bewaartermijn" in r.value.reasons[0] and "2025-05-08" in r.value.reasons[0]
    with pytest.raises(Refused):
        engine.erase(open_case, actor=IB, reason="x")
    assert _count_events(engine) == before

    clock.now = dt.datetime(2025, 5, 8, 9, 0, tzinfo=dt.UTC)
    with pytest.raises(Refused):
        engine.erase(cid, actor="auditor", reason="bewaartermijn verstreken")
    with pytest.raises(Refused):  # TLV: 3 years
        engine.erase(tlv, actor=IB, reason="bewaartermijn verstreken")
    res = engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")
    assert res["erased"] and res["seq"] == 4
    with pytest.raises(Refused):
        engine.erase(cid, actor=IB, reason="nog een keer")

    view = engine.case(cid, actor=IB)
    assert view["erased"] is True and view["pupil"] == ERASED and view["name"] == ERASED
    assert view["evidence"][0]["fields"]["note"] == ERASED
    assert view["evidence"][0]["fields"]["area"] == "rekenen"  # structure stays
    with engine.db.connect() as conn:
        key = conn.execute(select(case_keys).where(case_keys.c.case_id == cid)).one()
        assert key.wrapped is None and key.destroyed_at is not None
        assert conn.execute(select(cases.c.pupil_index).where(cases.c.case_id == cid)).scalar() is None
        report = verify(unit_on(conn))
    assert report.ok, report.problems
    # the same pupil can get a new case
    engine.open_case(pupil="LL-7", school="de-linde", actor=IB)
    engine.db.dispose()


def test_key_bytes_leave_the_sqlite_files(sqlite_url: str, tmp_path: Path) -> None:
    from tests.conftest import write_config

    cfg = write_config(tmp_path, sqlite_url)
    engine, clock = clocked_engine(cfg, T0)
    cid = quick_closed(engine, pupil="LL-1")
    with engine.db.connect() as conn:
        wrapped = conn.execute(select(case_keys.c.wrapped).where(case_keys.c.case_id == cid)).scalar_one()
    clock.now = T0 + dt.timedelta(days=800)
    engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")
    engine.db.dispose()
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    for f in db_file.parent.glob(db_file.name + "*"):
        assert wrapped not in f.read_bytes(), f.name


def test_cli_erase_and_due(config_path: Path, cli: Any) -> None:
    engine, _ = clocked_engine(config_path, T0)
    cid = quick_closed(engine, pupil="LL-4")
    engine.db.dispose()
    due = cli("case", "erase", "--due", "--json")
    assert due.code == 0 and [d["case_id"] for d in due.json()] == [cid]
    assert cli("case", "erase", cid, "--actor", "auditor", "--reason", "x").code == 3
    bad = cli("case", "erase", cid, "--actor", IB)
    assert bad.code == 2 and "Traceback" not in bad.err
    ok = cli("case", "erase", cid, "--actor", IB, "--reason", "bewaartermijn verstreken")
    assert ok.code == 0, ok.err
    assert cli("case", "erase", "--due", "--json").json() == []
    assert cli("case", "erase", cid, "--actor", IB, "--reason", "again").code == 3
    assert cli("audit", "verify").code == 0

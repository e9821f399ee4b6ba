"""Replay: every journey's events rebuild its projection; as-of dates; rules re-checked per version."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.audit_support import IB, LK, clocked_engine, journey_to_opp, journey_to_tlv, quick_closed
from tests.conftest import STATES, write_config
from workflow.adapters.store.tables import cases
from workflow.bootstrap import bootstrap
from workflow.domain import case as domain
from workflow.service_layer.audit.replay import replay_all, replay_case

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)  # 10:00 in Amsterdam


def test_every_journey_replays_to_its_projection(config_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    ids = [journey_to_tlv(engine, clock, pupil="A"), journey_to_opp(engine, clock, pupil="B"),
           quick_closed(engine, pupil="C"),
           engine.open_case(pupil="D", school="het-anker", actor="ib.smit")["case_id"]]
    clock.advance(days=3 * 366)
    engine.erase(ids[2], actor=IB, reason="bewaartermijn verstreken")
    for cid in ids:
        r = replay_case(engine, cid, actor="auditor")
        assert r.ok, r.as_dict()
    results = list(replay_all(engine, actor="auditor"))
    assert sorted(r.case_id for r in results) == sorted(ids)
    assert all(r.ok for r in results), [r.as_dict() for r in results if not r.ok]
    tlv = next(r for r in results if r.case_id == ids[0])
    assert tlv.as_dict()["state"] == "afgesloten" and tlv.as_dict()["close_reason"] == "tlv"
    # an IB of one school replays only that school
    assert {r.case_id for r in replay_all(engine, actor="ib.smit")} == {ids[3]}
    engine.db.dispose()


def test_as_of_before_between_and_after(config_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_opp(engine, clock)
    d0 = T0.date()
    r = replay_case(engine, cid, actor="auditor", as_of=d0 - dt.timedelta(days=1)).as_dict()
    assert r["errors"] == ["de casus bestond toen nog niet"]
    r = replay_case(engine, cid, actor="auditor", as_of=d0).as_dict()
    assert (r["state"], r["level"], r["evidence"]) == ("niveau_1", 1, [])
    r = replay_case(engine, cid, actor="auditor", as_of=d0 + dt.timedelta(days=1)).as_dict()
    assert r["state"] == "niveau_1" and [e["kind"] for e in r["evidence"]] == ["signal"]
    assert "note" not in r["evidence"][0]["fields"]  # sealed fields stay sealed
    r = replay_case(engine, cid, actor="auditor", as_of=d0 + dt.timedelta(days=2)).as_dict()
    assert (r["state"], r["level"]) == ("niveau_2", 2)
    # niveau_4 was entered on day 6: the 6-week OPP clock was running the day after
    r = replay_case(engine, cid, actor="auditor", as_of=d0 + dt.timedelta(days=7)).as_dict()
    assert r["state"] == "opp_concept"
    opp = next(x for x in r["deadlines"] if x["name"] == "opp_vaststellen")
    assert opp["due_by_rule"] == (d0 + dt.timedelta(days=6 + 42)).isoformat()  # a Sunday ...
    assert opp["due"] == "2025-10-17"  # ... given as the Friday before
    r = replay_case(engine, cid, actor="auditor", as_of=d0 + dt.timedelta(days=100)).as_dict()
    assert r["state"] == "opp_vastgesteld" and r["ok"]
    assert "opp_vaststellen" not in {x["name"] for x in r["deadlines"]}
    engine.db.dispose()


def test_replay_catches_what_verify_cannot(config_path: Path) -> None:
    """A well-hashed but unlawful step, and a projection edited behind the engine's back."""
    engine, _ = clocked_engine(config_path, T0)
    cid = engine.open_case(pupil="X", school="de-linde", actor=IB)["case_id"]
    other = quick_closed(engine, pupil="Y")
    with engine.uow() as uow:  # escalate without any signal, bypassing decide()
        case = uow.store.load(cid)
        assert case is not None
        d = engine.definition
        payload = {"trigger": "escalate", "source": "niveau_1", "dest": "niveau_2", "level_from": 1,
                   "level_to": 2, "params": {}, "guards": []}
        ev = case.next_event(type="transitioned", payload=payload, actor=LK, role="leerkracht",
                             recorded_at=engine.clock(), process=d)
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=1, now=engine.clock())
        uow.commit()
    with engine.db.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_id == other).values(state="niveau_3", level=3))
    r = replay_case(engine, cid, actor="auditor")
    assert not r.ok and r.refused[0]["seq"] == 2
    assert any("signal" in x for x in r.refused[0]["reasons"])
    r2 = replay_case(engine, other, actor="auditor")
    assert any("state" in m for m in r2.mismatches)
    engine.db.dispose()


def _v2(folder: Path) -> Path:
    """Version 2 of the process: escalating from niveau 1 needs two signals."""
    text = (STATES / "passend_po_v1.toml").read_text(encoding="utf-8")
    text = text.replace("version = 1", "version = 2", 1)
    old = '{ kind = "evidence", evidence = "signal", since = "level_entered" },'
    assert old in text
    text = text.replace(old, '{ kind = "evidence", evidence = "signal", since = "level_entered", min = 2 },', 1)
    path = folder / "passend_po_v2.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_older_version_replays_with_its_own_rules(tmp_path: Path, db_url: str) -> None:
    states = tmp_path / "states"
    states.mkdir()
    v1 = Path(shutil.copy(STATES / "passend_po_v1.toml", states / "passend_po_v1.toml"))
    cfg = write_config(tmp_path, db_url, definition=v1, defs_folder=states)
    engine = bootstrap(cfg, create_key=True)
    engine.init()
    old = engine.open_case(pupil="OLD", school="de-linde", actor=IB)["case_id"]
    engine.record("signal", old, actor=LK, area="lezen", note="n")
    engine.fire(old, "escalate", actor=LK)
    engine.db.dispose()

    v2 = _v2(states)
    cfg = write_config(tmp_path, db_url, definition=v2, defs_folder=states)
    engine = bootstrap(cfg)
    assert engine.definition.version == 2
    new = engine.open_case(pupil="NEW", school="de-linde", actor=IB)["case_id"]
    engine.record("signal", new, actor=LK, area="lezen", note="n")
    with pytest.raises(Exception, match="geweigerd"):
        engine.fire(new, "escalate", actor=LK)
    engine.record("signal", new, actor=LK, area="gedrag", note="n")
    engine.fire(new, "escalate", actor=LK)

    r_old = replay_case(engine, old, actor="auditor")
    assert r_old.ok, r_old.as_dict()
    assert r_old.as_dict()["process"] == "passend-po@1"
    assert replay_case(engine, new, actor="auditor").ok
    # had v1's case been judged by v2, its escalation would not have been allowed
    evs = __import__("workflow.adapters.store.eventstore", fromlist=["EventStore"])
    with engine.db.connect() as conn:
        events = evs.EventStore(conn).events_of(old)
    before = domain.Case.from_events(events[:2])
    assert not domain.decide(before, engine.registry.get("passend-po", 2), "escalate", {}, "leerkracht").allowed
    engine.db.dispose()


def test_cli_replay(config_path: Path, cli: Any) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_opp(engine, clock)
    engine.db.dispose()
    r = cli("audit", "replay", cid, "--json")
    assert r.code == 0, r.err
    assert r.json()["cases"][0]["state"] == "opp_vastgesteld"
    r = cli("audit", "replay", "--all")
    assert r.code == 0 and cid in r.out
    r = cli("audit", "replay", cid, "--as-of", T0.date().isoformat(), "--json")
    assert r.code == 0 and r.json()["cases"][0]["state"] == "niveau_1"
    assert cli("audit", "replay").code == 2
    assert cli("audit", "replay", cid, "--as-of", "morgen").code == 2
    assert cli("audit", "replay", "C-NOPE").code == 2


def test_a_reworded_definition_is_noted_not_failed(tmp_path: Path, sqlite_url: str) -> None:
    states = tmp_path / "states"
    states.mkdir()
    v1 = Path(shutil.copy(STATES / "passend_po_v1.toml", states / "passend_po_v1.toml"))
    engine = bootstrap(write_config(tmp_path, sqlite_url, definition=v1, defs_folder=states),
                                create_key=True)
    engine.init()
    cid = engine.open_case(pupil="P", school="de-linde", actor=IB)["case_id"]
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    engine.fire(cid, "escalate", actor=LK)
    engine.db.dispose()
    old = '{ kind = "evidence", evidence = "signal", since = "level_entered" },'
    v1.write_text(v1.read_text(encoding="utf-8").replace(
        old, '{ kind = "evidence", evidence = "signal", since = "level_entered", message = "een signaal" },', 1),
        encoding="utf-8")
    engine = bootstrap(write_config(tmp_path, sqlite_url, definition=v1, defs_folder=states))
    r = replay_case(engine, cid, actor="auditor")
    assert r.ok and r.notes == ["gebeurtenis 3: de voorwaarden luiden nu anders dan vastgelegd"]
    engine.db.dispose()


def test_replay_of_a_garbled_row_reports_instead_of_crashing(config_path: Path, cli: Any) -> None:
    from sqlalchemy import text

    from tests.tamper import drop_append_only

    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_opp(engine, clock)
    with engine.db.begin() as conn:
        drop_append_only(conn)
        conn.execute(text("UPDATE events SET payload = 'not json' WHERE case_id = :c AND seq = 3"), {"c": cid})
    r = replay_case(engine, cid, actor="auditor")
    assert not r.ok and r.errors
    assert not all(x.ok for x in replay_all(engine, actor="auditor"))
    engine.db.dispose()
    res = cli("audit", "replay", "--all")
    assert res.code == 5 and "Traceback" not in res.err
    assert cli("audit", "verify").code == 5

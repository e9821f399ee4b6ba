"""`audit verify`: an intact store passes; every kind of direct database tampering is caught."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audit_support import clocked_engine, journey_to_tlv, quick_closed
from tests.tamper import ACTIONS, rows_of, tamper
from workflow.audit.verify import COLUMNS, Hasher, verify
from workflow.events import canonical_bytes
from workflow.service import Engine

T0 = dt.datetime(2025, 9, 1, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def store(config_path: Path) -> Any:
    engine, clock = clocked_engine(config_path, T0)
    target = journey_to_tlv(engine, clock)
    bystander = quick_closed(engine, pupil="LL-9")
    yield engine, target, bystander
    engine.db.dispose()


def _verify_tampered(engine: Engine, case_id: str, action: str, i: int, j: int = 0) -> Any:
    with engine.db.connect() as conn:
        conn.begin()
        tamper(conn, case_id, action, i, j)
        report = verify(conn)
        conn.rollback()
    return report


def test_intact_store_passes(store: Any) -> None:
    engine, _, _ = store
    with engine.db.connect() as conn:
        report = verify(conn)
    assert report.ok, report.problems
    assert report.cases == 2 and report.events == 25 + 3


def test_fast_canonical_form_equals_the_engine_s(store: Any) -> None:
    engine, target, _ = store
    hasher = Hasher()
    with engine.db.connect() as conn:
        for r in rows_of(conn, target):
            raw = tuple(getattr(r, c) for c in COLUMNS)
            with engine.db.connect() as c2:
                text_at = c2.exec_driver_sql(f"SELECT recorded_at FROM events WHERE id = {int(r.id)}").scalar()
            raw_db = (*raw[:7], text_at, *raw[8:])
            expected = canonical_bytes(
                case_id=r.case_id, seq=r.seq, type=r.type, process_id=r.process_id,
                process_version=r.process_version, actor=r.actor, role=r.role,
                recorded_at=r.recorded_at, payload_json=r.payload, prev_hash=r.prev_hash)
            assert hasher.canonical(raw_db) == expected
            assert hasher.canonical(raw) == expected


@pytest.mark.parametrize(("action", "i", "kind", "seq"), [
    ("edit_payload", 4, "content_changed", 5),
    ("edit_actor", 0, "content_changed", 1),
    ("edit_time", 10, "content_changed", 11),
    ("edit_hash", 7, "hash_mismatch", 8),
    ("edit_hash", 24, "hash_mismatch", 25),
    ("delete", 6, "missing", 7),
    ("delete", 0, "missing", 1),
    ("delete", 24, "missing", 25),
    ("swap", 3, "order_changed", 4),
    ("insert", 5, "inserted", 6),
    ("insert_linked", 5, "inserted", 6),
    ("insert_linked", 25, "inserted", 26),
    ("duplicate", 25, "duplicate", 26),
    ("edit_head", 0, "head_mismatch", 25),
])
def test_tampering_is_named(store: Any, action: str, i: int, kind: str, seq: int) -> None:
    engine, target, _ = store
    report = _verify_tampered(engine, target, action, i, j=2)
    assert not report.ok
    assert [p.case_id for p in report.problems] == [target]
    p = report.problems[0]
    assert (p.kind, p.seq) == (kind, seq), p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(ACTIONS), i=st.integers(0, 30), j=st.integers(0, 30))
def test_every_random_tampering_is_caught(store: Any, action: str, i: int, j: int) -> None:
    engine, target, bystander = store
    report = _verify_tampered(engine, target, action, i, j)
    assert not report.ok, (action, i, j)
    assert target in {p.case_id for p in report.problems}
    assert bystander not in {p.case_id for p in report.problems}
    # and the rollback left the store intact
    with engine.db.connect() as conn:
        assert verify(conn).ok


def test_cli_exit_codes(store: Any, cli: Any) -> None:
    engine, target, _ = store
    ok = cli("audit", "verify", "--json")
    assert ok.code == 0 and ok.json()["ok"] is True
    with engine.db.begin() as conn:
        tamper(conn, target, "edit_payload", 3)
    bad = cli("audit", "verify")
    assert bad.code == 5
    assert target in bad.out and "gebeurtenis 4" in bad.out
    assert "Traceback" not in bad.err
    js = cli("audit", "verify", "--json")
    assert js.code == 5 and js.json()["broken"][0]["kind"] == "content_changed"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(["edit_payload", "edit_actor", "edit_role", "edit_time", "edit_type",
                               "edit_hash", "edit_prev", "delete"]),
       i=st.integers(0, 24))
def test_the_first_bad_event_is_the_tampered_one(store: Any, action: str, i: int) -> None:
    engine, target, _ = store
    report = _verify_tampered(engine, target, action, i)
    (p,) = report.problems
    assert p.seq == i + 1, (action, i, p)
    expected = {"edit_hash": {"hash_mismatch"}, "edit_prev": {"link_broken"}, "delete": {"missing"}}
    assert p.kind in expected.get(action, {"content_changed", "payload_changed"}), (action, i, p)

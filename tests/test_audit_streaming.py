"""verify, replay --all and export stream: their peak memory does not grow with the store."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from tests.conftest import write_config
from workflow.adapters.store import chains
from workflow.adapters.store.eventstore import event_values
from workflow.adapters.store.tables import cases, events
from workflow.adapters.store.uow import unit_on
from workflow.bootstrap import bootstrap
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.service_layer.audit.export import export
from workflow.service_layer.audit.replay import replay_all
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine

T0 = dt.datetime(2025, 1, 6, 8, 0, tzinfo=dt.UTC)


def _grow(engine: Engine, first: int, n_cases: int, per_case: int = 12) -> None:
    """Cases of a signal-recording IB, written straight into the store (fast, well-chained)."""
    d = engine.definition
    with engine.db.begin() as conn:
        for c in range(first, first + n_cases):
            cid = f"C-{c:08d}"
            prev, rows = GENESIS_HASH, []
            for s in range(1, per_case + 1):
                if s == 1:
                    typ, payload = "case_opened", {"school": "de-linde", "state": "niveau_1", "level": 1,
                                                   "pupil": {"$enc": "v1.AAAA"}}
                else:
                    typ, payload = "evidence_recorded", {
                        "kind": "signal", "date": "2025-01-06", "level": 1, "state": "niveau_1",
                        "fields": {"area": "lezen"}, "secret": {"note": {"$enc": "v1." + "A" * 60}}}
                ev = make_event(case_id=cid, seq=s, type=typ, process_id=d.id, process_version=d.version,
                                actor="ib.jansen", role="ib", recorded_at=T0 + dt.timedelta(minutes=s),
                                payload=payload, prev_hash=prev)
                rows.append(event_values(ev))
                prev = ev.hash
            conn.execute(insert(events), rows)
            conn.execute(insert(cases).values(
                case_id=cid, school="de-linde", state="niveau_1", level=1, process_id=d.id,
                process_version=d.version, version=per_case, head_hash=prev, opp_active=False,
                opened_at=T0, state_entered_at=T0, updated_at=T0))


def _peaks(engine: Engine, tmp: Path, tag: str) -> dict[str, int]:
    out = {}
    for name in ("verify", "replay", "export"):
        tracemalloc.start()
        if name == "verify":
            with engine.db.connect() as conn:
                assert verify(unit_on(conn)).ok
        elif name == "replay":
            assert all(r.ok for r in replay_all(engine, actor="auditor"))
        else:
            export(engine, tmp / f"export-{tag}", actor="auditor")
        out[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out


@pytest.mark.slow
def test_memory_stays_flat_as_the_store_grows(tmp_path: Path, sqlite_url: str, monkeypatch: Any) -> None:
    # Small fetch batches, so that both stores span many of them (the batch is the constant).
    monkeypatch.setattr(chains, "BATCH", 500)
    engine = bootstrap(write_config(tmp_path, sqlite_url), create_key=True)
    engine.init()
    _grow(engine, 0, 400)
    small = _peaks(engine, tmp_path, "small")
    _grow(engine, 400, 1200)  # four times the events
    large = _peaks(engine, tmp_path, "large")
    for name in ("verify", "replay", "export"):
        assert large[name] < small[name] * 1.5 + 2_000_000, (name, small, large)
    engine.db.dispose()


def test_a_stream_dropped_halfway_closes_its_cursor(monkeypatch: Any) -> None:
    """Both databases' streams share one fetch loop (verify._drain): BATCH rows at a time, and
    the cursor closed when the reader stops early (a broken chain found, an export aborted)."""
    monkeypatch.setattr(chains, "BATCH", 2)
    db = sqlite3.connect(":memory:")
    cur = db.cursor()
    rows = chains.drain(cur, "SELECT value FROM json_each('[1,2,3,4,5]')", {})
    assert [next(rows), next(rows), next(rows)] == [(1,), (2,), (3,)]
    rows.close()
    with pytest.raises(sqlite3.ProgrammingError):
        cur.fetchone()
    assert list(chains.drain(db.cursor(), "SELECT value FROM json_each('[1,2,3]')", {})) == [(1,), (2,), (3,)]


def _reference_read(at: Any, payload: Any) -> tuple[dt.datetime, Any]:
    """How replay read a stored time and payload before its parses were made faster."""
    import json

    try:
        when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
        body = json.loads(payload)
    except (TypeError, ValueError):
        when, body = dt.datetime.min, {"$unreadable": True}
    return (when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)), body


@pytest.mark.parametrize(("at", "payload"), [
    ("2025-01-06 08:01:00.000000", '{"a":1}'),            # SQLite's own form
    ("2025-01-06T08:01:00.250000", '{"a":"é"}'),          # ISO with T
    ("2025-01-06 09:01:00.000+01", '{"a":1}'),            # 26 characters, with an offset
    ("2025-01-06 09:01:00+01:00", ' {"a": [1, 2]} '),     # an offset; JSON with spaces
    ("2025-01-06", '{"a":1}'),                            # a date alone
    ("2025-01-06 08:01:00.000000", '{"a":1} x'),          # trailing text
    ("2025-01-06 08:01:00.000000", "\ufeff{}"),           # a byte order mark
    ("2025-01-06 08:01:00.000000", "NaN"),                # json.loads takes it, so must replay
    ("2025-01-06 08:01:00.000000", "not json"),
    ("2025-13-06 08:01:00.000000", '{"a":1}'),            # no such month
    (5, '{"a":1}'),                                       # an INTEGER time
])
def test_replay_reads_every_stored_form_as_before(tmp_path: Path, sqlite_url: str, at: Any,
                                                  payload: str) -> None:
    from workflow.service_layer.audit.replay import grouped_events

    engine = bootstrap(write_config(tmp_path, sqlite_url), create_key=True)
    engine.init()
    _grow(engine, 0, 1, per_case=3)
    with engine.db.connect() as conn:
        conn.begin()
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
        conn.exec_driver_sql("UPDATE events SET recorded_at = ?, payload = ? WHERE seq = 2", (at, payload))
        stored = conn.exec_driver_sql("SELECT recorded_at, payload FROM events WHERE seq = 2").one()
        ((_, evs),) = list(grouped_events(unit_on(conn), None))
        conn.rollback()
    want_at, want_body = _reference_read(*stored)
    got = evs[1]
    assert (got.recorded_at, got.payload) == (want_at, want_body) or (
        want_body != want_body and got.payload != got.payload)  # NaN is not equal to itself
    assert got.recorded_at.tzinfo is dt.UTC
    engine.db.dispose()

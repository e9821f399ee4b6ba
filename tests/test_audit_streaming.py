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
from workflow.audit import verify as verify_module
from workflow.audit.export import export
from workflow.audit.replay import replay_all
from workflow.audit.verify import verify
from workflow.events import GENESIS_HASH, make_event
from workflow.service import Engine
from workflow.store.eventstore import event_values
from workflow.store.tables import cases, events

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
                assert verify(conn).ok
        elif name == "replay":
            assert all(r.ok for r in replay_all(engine, actor="auditor"))
        else:
            export(engine, tmp / f"export-{tag}", actor="auditor")
        out[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out


def test_memory_stays_flat_as_the_store_grows(tmp_path: Path, sqlite_url: str, monkeypatch: Any) -> None:
    # Small fetch batches, so that both stores span many of them (the batch is the constant).
    monkeypatch.setattr(verify_module, "BATCH", 500)
    engine = Engine.from_config(write_config(tmp_path, sqlite_url), create_key=True)
    engine.init()
    _grow(engine, 0, 400)
    small = _peaks(engine, tmp_path, "small")
    _grow(engine, 400, 1200)  # four times the events
    large = _peaks(engine, tmp_path, "large")
    for name in ("verify", "replay"):
        assert large[name] < small[name] * 1.5 + 2_000_000, (name, small, large)
    # export keeps one summary per case for its manifest: it grows with cases, not with events
    assert large["export"] < small["export"] * 5, (small, large)
    engine.db.dispose()


def test_a_stream_dropped_halfway_closes_its_cursor(monkeypatch: Any) -> None:
    """Both databases' streams share one fetch loop (verify._drain): BATCH rows at a time, and
    the cursor closed when the reader stops early (a broken chain found, an export aborted)."""
    monkeypatch.setattr(verify_module, "BATCH", 2)
    db = sqlite3.connect(":memory:")
    cur = db.cursor()
    rows = verify_module._drain(cur, "SELECT value FROM json_each('[1,2,3,4,5]')", {})
    assert [next(rows), next(rows), next(rows)] == [(1,), (2,), (3,)]
    rows.close()
    with pytest.raises(sqlite3.ProgrammingError):
        cur.fetchone()
    assert list(verify_module._drain(db.cursor(), "SELECT value FROM json_each('[1,2,3]')", {})) == [(1,), (2,), (3,)]

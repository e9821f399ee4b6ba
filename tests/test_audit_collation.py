"""Merging the events stream with the cases stream must not depend on the database's collation.

PostgreSQL databases often sort text by a language collation (en_US, ICU) where 'C-a' comes
before 'C-B'; Python (and SQLite) compare bytewise. verify and replay ask for bytewise order.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from tests.conftest import PG_ENV, write_config
from tests.test_audit_streaming import T0
from workflow.adapters.store.eventstore import event_values
from workflow.adapters.store.tables import cases, events
from workflow.adapters.store.uow import unit_on
from workflow.bootstrap import bootstrap
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.service_layer.audit.replay import replay_all
from workflow.service_layer.audit.verify import verify


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set")
def test_language_collation_does_not_break_the_merge(tmp_path: Path) -> None:
    from tests.conftest import _postgres_schema_url

    gen = _postgres_schema_url(os.environ[PG_ENV])
    url = next(gen)
    try:
        engine = bootstrap(write_config(tmp_path, url), create_key=True)
        engine.init()
        d = engine.definition
        with engine.db.begin() as conn:
            for table in ("events", "cases"):
                conn.execute(text(f'ALTER TABLE {table} ALTER COLUMN case_id TYPE varchar(40) COLLATE "en-x-icu"'))
            for cid in ("C-a1", "C-B2", "C-c3", "C-D4", "C-_5"):
                ev = make_event(case_id=cid, seq=1, type="case_opened", process_id=d.id,
                                process_version=d.version, actor="ib.jansen", role="ib", recorded_at=T0,
                                payload={"school": "de-linde", "state": "niveau_1", "level": 1,
                                         "pupil": {"$enc": "v1.AAAA"}}, prev_hash=GENESIS_HASH)
                conn.execute(insert(events).values(**event_values(ev)))
                conn.execute(insert(cases).values(
                    case_id=cid, school="de-linde", state="niveau_1", level=1, process_id=d.id,
                    process_version=d.version, version=1, head_hash=ev.hash, opp_active=False,
                    opened_at=T0, state_entered_at=T0, updated_at=T0))
            # one projection without events, and events without a projection: the merge must
            # still pair every other case with its own row
            conn.execute(insert(cases).values(
                case_id="C-b0", school="de-linde", state="niveau_1", level=1, process_id=d.id,
                process_version=d.version, version=1, head_hash=GENESIS_HASH, opp_active=False,
                opened_at=T0, state_entered_at=T0, updated_at=T0))
            conn.execute(text("DELETE FROM cases WHERE case_id = 'C-c3'"))
            icu = [r[0] for r in conn.execute(text("SELECT case_id FROM cases ORDER BY case_id"))]
        assert icu != sorted(icu)  # the database really orders otherwise than Python
        with engine.db.connect() as conn:
            report = verify(unit_on(conn))
        assert sorted((p.case_id, p.kind) for p in report.problems) == [
            ("C-b0", "no_events"), ("C-c3", "projection_missing")], report.problems
        assert report.cases == 6
        results = {r.case_id: r for r in replay_all(engine, actor="auditor")}
        bad = sorted(cid for cid, r in results.items() if not r.ok)
        assert bad == ["C-b0", "C-c3"], {c: r.as_dict() for c, r in results.items()}
        engine.db.dispose()
    finally:
        gen.close()

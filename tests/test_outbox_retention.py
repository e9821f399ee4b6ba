"""A sent message's texts are cleared keep_sent_days after sending; its row, and so its key, stays.

The key is what stops the planner from planning a message again (an escalation stays due for
as long as its deadline is overdue), and the row is the record that the message went out. The
subject, plain text, HTML and calendar file are what made the outbox grow by the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import write_config
from tests.reminders_support import free_port, smtp_extra, to_niveau_4
from tests.test_reminders import D0, Rig, _rig
from workflow.adapters.store import outbox
from workflow.domain.errors import ConfigError
from workflow.service_layer.reminders.settings import parse_settings

SENT_AT = dt.datetime(2026, 10, 5, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Iterator[Rig]:
    yield from _rig(tmp_path, db_url, keep_sent_days=30)


def _rows(rig: Rig) -> dict[str, Any]:
    with rig.engine.db.connect() as conn:
        return {r.key: r for r in conn.execute(select(outbox.outbox))}


def test_texts_go_after_keep_sent_days_and_the_rows_stay(rig: Rig) -> None:
    for pupil in ("LL-1", "LL-2", "LL-3"):
        to_niveau_4(rig.engine, pupil=pupil)
    rig.service.real_clock = lambda: SENT_AT
    r = rig.tick(D0 + dt.timedelta(days=28))  # the 2-week reminders of the three OPPs
    assert (r["planned"], r["sent"], r["cleared"]) == (3, 3, 0)
    before = _rows(rig)
    assert all(row.status == "sent" and row.body_text and row.subject for row in before.values())
    # a row still waiting keeps its texts whatever its age
    waiting = sorted(before)[0]
    with rig.engine.db.begin() as conn:
        conn.execute(update(outbox.outbox).where(outbox.outbox.c.key == waiting)
                     .values(status="failed", sent_at=None, last_error="relay down"))

    rig.service.real_clock = lambda: SENT_AT + dt.timedelta(days=30, seconds=-1)  # not yet
    assert rig.tick(D0 + dt.timedelta(days=29))["cleared"] == 0
    rig.service.real_clock = lambda: SENT_AT + dt.timedelta(days=30, seconds=1)
    r = rig.tick(D0 + dt.timedelta(days=29))
    assert r["cleared"] == 2 and r["planned"] == 0  # cleared rows are not planned again

    after = _rows(rig)
    assert after.keys() == before.keys()
    for key, row in after.items():
        old = before[key]
        kept = (row.kind, row.case_id, row.deadline, row.recipient, row.to_addrs, row.message_id, row.sent_at)
        if key == waiting:
            assert (row.status, row.subject, row.body_text) == ("failed", old.subject, old.body_text)
            continue
        assert kept == (old.kind, old.case_id, old.deadline, old.recipient, old.to_addrs, old.message_id,
                        old.sent_at)
        assert (row.status, row.subject, row.body_text, row.body_html, row.ics) == ("sent", "", "", None, None)
    assert rig.tick(D0 + dt.timedelta(days=29))["cleared"] == 0  # nothing left to clear
    assert len(rig.inbox.messages()) == 3  # and nothing sent twice


def test_oldest_first_a_limited_number_at_a_time(rig: Rig) -> None:
    for pupil in ("LL-1", "LL-2", "LL-3"):
        to_niveau_4(rig.engine, pupil=pupil)
    rig.service.real_clock = lambda: SENT_AT
    assert rig.tick(D0 + dt.timedelta(days=28))["sent"] == 3
    keys = sorted(_rows(rig))
    with rig.engine.db.begin() as conn:  # sent on three different days
        for i, key in enumerate(keys):
            conn.execute(update(outbox.outbox).where(outbox.outbox.c.key == key)
                         .values(sent_at=SENT_AT + dt.timedelta(days=i)))
    late = SENT_AT + dt.timedelta(days=10)
    assert outbox.clear_sent_bodies(rig.engine.db, before=late, limit=2) == 2
    cleared = {k for k, row in _rows(rig).items() if not row.body_text}
    assert cleared == set(keys[:2])
    assert outbox.clear_sent_bodies(rig.engine.db, before=late, limit=2) == 1
    assert outbox.clear_sent_bodies(rig.engine.db, before=late, limit=2) == 0


def test_the_search_uses_the_partial_index_on_sqlite(tmp_path: Path, sqlite_url: str) -> None:
    """The rows to clear are found through the index of migration 0007, which holds only sent
    rows with their texts, not by reading every sent row there ever was."""
    import sqlite3

    from tests.reminders_support import Clock, clocked_engine

    engine = clocked_engine(write_config(tmp_path, sqlite_url, extra=smtp_extra(free_port())), Clock(D0))
    engine.db.dispose()
    compiled = (select(outbox.outbox.c.id).where(outbox._BODY_KEPT, outbox.outbox.c.sent_at < SENT_AT)
                .order_by(outbox.outbox.c.sent_at).limit(5).compile(dialect=engine.db.dialect))
    assert compiled.positiontup is not None
    args = ["2026-10-05 06:00:00.000000" if isinstance(v, dt.datetime) else v
            for v in (compiled.params[k] for k in compiled.positiontup)]
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + str(compiled), args))
    assert "ix_reminder_outbox_sent_bodies" in plan, plan


@pytest.mark.parametrize("value", [0, -1, "90", 1.5, True])
def test_keep_sent_days_must_be_a_whole_number_of_days(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"reminders\.keep_sent_days: moet een geheel getal van 1 tot en met"):
        parse_settings({"keep_sent_days": value})
    assert parse_settings({}).keep_sent_days == 90
    assert parse_settings({"keep_sent_days": 7}).keep_sent_days == 7


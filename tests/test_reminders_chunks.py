"""A tick plans in chunks of cases, and one unreadable case never stops the others.

`ReminderService.plan` folds, plans, stores and writes back one chunk of cases at a time
(workflow.service_layer.reminders.work.SCAN_CHUNK), and the digest streams open cases page by page, so a
tick's memory follows the chunk, not the store. These tests make the chunk tiny so that every
path crosses many chunk boundaries: the result must still be exactly what the full scan plans,
a tick that dies between chunks must lose nothing, and peak memory must not grow with the store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import write_config
from tests.reminders_support import AMS, Clock, clocked_engine
from tests.tamper import drop_append_only
from tests.test_reminders_work import START, Ticker, at, extra, projection
from workflow.adapters.store import outbox
from workflow.adapters.store.eventstore import LOOK_NOW
from workflow.adapters.store.tables import cases, events
from workflow.demo.population import populate
from workflow.service_layer.engine import Engine
from workflow.service_layer.reminders import work

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work, "SCAN_CHUNK", 7)


def _store(tmp_path: Path, url: str, pupils: int, *, digest: bool = True) -> tuple[Path, Engine]:
    cfg = write_config(tmp_path, url, extra=extra(tmp_path / "outbox", digest=digest))
    engine = clocked_engine(cfg, Clock(START))
    populate(engine, pupils=pupils, seed=11, now=at(START, 6), years=2)
    return cfg, engine


def test_chunked_ticks_plan_exactly_what_the_full_scan_plans(
        tmp_path: Path, db_url: str, small_chunks: None) -> None:
    _, engine = _store(tmp_path, db_url, 80)
    t = Ticker(engine)
    present = at(START + dt.timedelta(days=3), 9)
    for moment in (present, present + dt.timedelta(days=1), present + dt.timedelta(days=60),
                   present + dt.timedelta(days=8), present - dt.timedelta(days=30)):
        t.plan_like_full_scan(moment)
    assert len([k for k in t.outbox_keys() if k.startswith("digest:")]) >= 2
    engine.db.dispose()


def test_a_tick_that_dies_between_chunks_loses_nothing(tmp_path: Path, sqlite_url: str,
                                                       small_chunks: None) -> None:
    _, engine = _store(tmp_path, sqlite_url, 60, digest=False)
    t = Ticker(engine)
    t.moment = at(START + dt.timedelta(days=3), 9)
    expected = {i.key for i in t.service.planner().due(t.moment)}
    planner = t.service.planner()
    real = t.service.real_clock()
    chunks = planner.work_chunks(t.moment)
    first = next(chunks)
    outbox.insert_new(engine.db, [planner.render(i, real) for i in first.items], real)
    work.write_back(engine.store, first.marks)
    chunks.close()  # the process dies here: one chunk stored, the rest not even folded
    done = {m.case_id for m in first.marks}
    left = [cid for cid, (n, _, closed) in projection(engine).items() if not closed and cid not in done]
    assert left and all(projection(engine)[cid][0] == LOOK_NOW for cid in left)
    t.service.plan()  # the next tick
    assert t.outbox_keys() == expected
    again = t.service.planner().work(t.moment)
    assert again.items == [] and again.folded == 0
    engine.db.dispose()


def _peak_of_a_tick(tmp_path: Path, pupils: int, *, digest: bool = True) -> int:
    """What the first tick after an import (every case folded) held at its peak and let go of
    by its end: its working set, without what stays (SQLAlchemy's statement cache, calendars)."""
    tmp_path.mkdir()
    _, engine = _store(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}", pupils, digest=digest)
    t = Ticker(engine)
    t.moment = at(START + dt.timedelta(days=3), 9)
    for school in engine.config.schools:  # the calendars stay once read: not the tick's working set
        cal = engine.calendar(school)
        for year in range(START.year - 4, START.year + 3):
            if cal is not None:
                cal.is_school_day(dt.date(year, 1, 2))
    tracemalloc.start()
    try:
        assert t.service.plan() > 0
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        engine.db.dispose()
    return peak - kept


@pytest.mark.slow
@pytest.mark.parametrize("digest", [False, True])
def test_a_tick_holds_one_chunk_of_cases_not_the_store(tmp_path: Path, small_chunks: None,
                                                      digest: bool) -> None:
    _peak_of_a_tick(tmp_path / "warm", 20, digest=digest)  # templates compiled, modules imported
    small = _peak_of_a_tick(tmp_path / "small", 100, digest=digest)
    large = _peak_of_a_tick(tmp_path / "large", 800, digest=digest)
    print("peaks", digest, small, large)
    # Holding every case (and every message with its case) costs kilobytes a case: a folded case
    # with its events is 5-50 kB. What may grow here: the due case ids of the scan and, on a
    # digest day, the digest's own lines (every overdue or due case is listed, by id, label and
    # date): a few hundred bytes a case. (A ratio of the two peaks was the test before; with
    # peaks of some 100 kB a one-off allocation in either run decided it.)
    per_case = (large - small) / (800 - 100)
    assert per_case < 1000, (small, large, per_case)


def test_the_paged_scan_returns_what_the_unpaged_one_does(tmp_path: Path, db_url: str) -> None:
    """Every page of `due_case_pages` read without writing back in between (the keyset alone
    moves on): the same cases as the two ranges read whole (`due_ids`), each once, across ties
    on a date."""
    _, engine = _store(tmp_path, db_url, 90, digest=False)
    today = START + dt.timedelta(days=10)
    with engine.db.begin() as conn:
        ids = sorted(r[0] for r in conn.execute(select(cases.c.case_id).where(cases.c.closed_at.is_(None))))
        days = [LOOK_NOW, today - dt.timedelta(days=1), today, today + dt.timedelta(days=1), None]
        for i, cid in enumerate(ids):  # few distinct days, so pages end and start inside a day
            planned = today + dt.timedelta(days=i % 3 - 1) if i % 5 else None
            conn.execute(update(cases).where(cases.c.case_id == cid).values(
                next_action_on=days[i % len(days)], planned_on=planned))
    with engine.uow(write=False) as uow:
        expected = uow.cases.due_ids(through=today, today=today)
    pages = list(work.due_case_pages(engine.store, today, today, size=4))
    got = [cid for page in pages for cid in page]
    assert len(got) == len(set(got)) and sorted(got) == expected
    assert len(pages) > 5 and len(expected) < len(ids)
    engine.db.dispose()


@pytest.fixture
def garbled(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    cfg, engine = _store(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}", 30)
    with engine.db.begin() as conn:
        drop_append_only(conn)
        row = conn.execute(select(events.c.id, events.c.case_id).order_by(events.c.id).limit(1)).one()
        conn.execute(update(events).where(events.c.id == row.id).values(payload='{"school": "de-li'))
    engine.db.dispose()
    yield cfg, row.case_id


def _passend(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_a_garbled_payload_skips_its_case_and_plans_the_others(garbled: tuple[Path, str]) -> None:
    cfg, bad = garbled
    now = at(START + dt.timedelta(days=3), 9).astimezone(AMS).strftime("%Y-%m-%dT%H:%M")
    due = _passend(cfg, "reminders", "due", "--now", now, "--json")
    assert due.returncode == 0, due.stderr
    assert "Traceback" not in due.stderr and "interne fout" not in due.stderr
    items = json.loads(due.stdout)
    assert any(i["case_id"] for i in items) and all(i["case_id"] != bad for i in items)
    assert bad in due.stderr and "JSONDecodeError" in due.stderr and "de-li" not in due.stderr
    served = _passend(cfg, "serve", "--once", "--now", now, "--json")
    assert served.returncode == 0, served.stderr
    assert "Traceback" not in served.stderr and "serve.tick_failed" not in served.stderr
    assert json.loads(served.stdout)["planned"] > 0


@pytest.mark.parametrize("as_json", [True, False])
def test_reminders_due_prints_page_by_page_what_the_whole_list_gives(
        tmp_path: Path, db_url: str, small_chunks: None, capsys: pytest.CaptureFixture[str],
        as_json: bool) -> None:
    """`reminders due` lists a page of cases at a time (the Due items hold their folded cases),
    and what it prints is the whole due list rendered at once: the same items, order, outbox
    status (some planned by an earlier tick, some new) and bytes."""
    from workflow.entrypoints.cli.main import main as cli_main
    from workflow.service_layer.reminders.service import unreachable

    cfg, engine = _store(tmp_path, db_url, 150)
    t = Ticker(engine)
    t.moment = at(START + dt.timedelta(days=3), 9)
    t.service.plan()  # some of it planned by an earlier tick, the rest not yet
    later = at(START + dt.timedelta(days=13), 9)
    items = t.service.planner().due(later)
    have = _existing_keys(engine, [i.key for i in items])
    rows = [{**i.summary(), "outbox": have.get(i.key, "new")} for i in items]
    assert {r["outbox"] for r in rows} >= {"new", "pending"}
    assert sum(1 for chunk in t.service.planner().due_chunks(later) if chunk) >= 3  # pages apart
    if as_json:
        expected = json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n"
    else:
        expected = "".join(
            f"{r['kind']:<10} {r['case_id'] or '-':<12} {r['deadline'] or '-':<16} aan {r['recipient']:<12} "
            f"dag {r['send_on']}  termijn {r['due'] or '-':<10}  {r['outbox']}\n" for r in rows)
        expected += "".join(
            f"let op: school '{school}' heeft geen {' of '.join(roles)} met een e-mailadres; "
            f"{'herinneringen en overzichten' if what == 'reminders' else 'escalaties'} "
            "voor haar casussen worden niet verstuurd\n"
            for school, what, roles in unreachable(engine, t.service.settings))
    now = later.astimezone(AMS).strftime("%Y-%m-%dT%H:%M")
    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *(["--json"] if as_json else []), "reminders", "due", "--now", now])
    out = capsys.readouterr().out
    assert code == 0
    assert out == expected
    engine.db.dispose()


def _existing_keys(engine: Engine, keys: list[str]) -> dict[str, str]:
    with engine.db.connect() as conn:
        return outbox.existing_keys(conn, keys)

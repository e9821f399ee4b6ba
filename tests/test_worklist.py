"""The work list (case_deadlines, case_waiting): kept by every append in the same transaction,
read by Mijn werk and the caseload, on SQLite, PostgreSQL and the in-memory store.

What the rows say is checked against the slow, obvious answer: folding every case and asking the
domain (deadlines.running, the planner's waiting-for-consent rule), for a generated population
and for hand-walked cases, on several days. The caseload's pages are checked against that answer
too, in order, forwards and backwards.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_ENV, _postgres_schema_url, write_config
from tests.engine_support import walk_to_niveau_4
from tests.web_support import Clock
from workflow.bootstrap import bootstrap
from workflow.demo.population import populate
from workflow.domain import deadlines as dl
from workflow.domain.worklist import waits_for, worst
from workflow.service_layer import worklist
from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'passend.db'}"
    elif request.param == "memory":
        yield "memory://"
    else:
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(f"{PG_ENV} is not set")
        yield from _postgres_schema_url(base)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def engine(tmp_path: Path, store_url: str, clock: Clock) -> Iterator[Engine]:
    e = bootstrap(write_config(tmp_path, store_url), create_key=True, clock=clock)
    e.init()
    yield e
    e.store.dispose()


def stored(engine: Engine, cid: str) -> Any:
    with engine.uow(write=False) as uow:
        return uow.cases.worklists([cid]).get(cid)


def expected(engine: Engine, cid: str) -> Any:
    with engine.uow(write=False) as uow:
        case = uow.store.load(cid)
    assert case is not None
    w = engine.store.derive(case)  # type: ignore[attr-defined]  # the store's: school calendars too
    return w if (w.deadlines or w.waiting) else None


def all_cases(engine: Engine) -> list[Any]:
    with engine.uow(write=False) as uow:
        ids = [p.case_id for p in uow.cases.projections(None)]
        return [uow.store.load(cid) for cid in ids]


def test_every_write_keeps_the_rows_of_its_case(engine: Engine, clock: Clock) -> None:
    cid = engine.open_case(pupil="LL-1", school="de-linde", actor=IB, group=5)["case_id"]
    assert stored(engine, cid) is None  # level 1, no clock
    engine.record("plan", cid, actor=LK, start=clock.now.date(), end=clock.now.date() + dt.timedelta(days=20),
                  goals="g", who="w", frequency="2x")
    rows = stored(engine, cid)
    assert [r.deadline for r in rows.deadlines] == ["plan_evaluatie"] and rows == expected(engine, cid)
    engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    assert stored(engine, cid) is None  # the plan's clock stopped
    cid4 = walk_to_niveau_4(engine, "LL-2", group=3)
    rows = stored(engine, cid4)
    assert [r.deadline for r in rows.deadlines] == ["opp_vaststellen"] and rows == expected(engine, cid4)
    # 6 weeks from 16 November is 28 December, in the Christmas holiday: the school day before
    assert rows.deadlines[0].due_on == dt.date(2026, 12, 18)
    engine.fire(cid4, "start_opp", actor=IB)
    engine.record("meeting", cid4, actor=IB, kind="oogo", participants="ouders")
    engine.record("view", cid4, actor=IB, party="ouders", text="eens")
    engine.record("view", cid4, actor=IB, party="leerling", text="ja")
    assert stored(engine, cid4).waiting == ("opp_handelingsdeel",)  # only the parents' consent is missing
    engine.record("consent", cid4, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    assert stored(engine, cid4).waiting == ()
    engine.fire(cid4, "adopt_opp", actor=IB)
    assert [r.deadline for r in stored(engine, cid4).deadlines] == ["opp_evaluatie"]
    engine.fire(cid4, "close", actor=IB, params={"reason": "verhuisd"})
    assert stored(engine, cid4) is None


def test_a_paused_clock_reads_the_same_days_left_every_day(engine: Engine, clock: Clock) -> None:
    cid = walk_to_niveau_4(engine, "LL-3")
    engine.fire(cid, "start_opp", actor=IB)
    clock.advance(days=10)
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="refused", by="moeder")
    engine.fire(cid, "dispute", actor=IB)
    row = stored(engine, cid).deadlines[0]
    assert row.paused_left == 32  # 6 weeks, 10 days gone: a paused clock counts the rule's days
    for days in (0, 5, 40):
        today = clock.now.date() + dt.timedelta(days=days)
        with engine.uow(write=False) as uow:
            case = uow.store.load(cid)
        running = dl.running(case, engine.definition_of(case), today)[0]  # paused: the rule's days
        assert row.due_at(today) == running.due and row.status_on(today) == running.status(today)


def test_rebuild_gives_the_rows_the_appends_wrote(engine: Engine) -> None:
    populate(engine, pupils=120, seed=5)
    before = {c.case_id: stored(engine, c.case_id) for c in all_cases(engine)}
    assert sum(1 for w in before.values() if w is not None) > 20
    assert worklist.rebuild(engine) == sum(1 for c in all_cases(engine) if not c.closed)
    assert {cid: stored(engine, cid) for cid in before} == before
    with engine.uow() as uow:  # built for something else: init builds again
        uow.cases.mark_worklist_built("v0", engine.clock())
        uow.commit()
    assert worklist.ensure_built(engine) == len(before) - sum(1 for c in all_cases(engine) if c.closed)
    assert worklist.ensure_built(engine) is None


def waiting_case(engine: Engine, pupil: str) -> str:
    """A case in the OPP draft that lacks nothing but the parents' consent."""
    cid = walk_to_niveau_4(engine, pupil)
    engine.fire(cid, "start_opp", actor=IB)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", text="ja")
    return cid


def test_mijn_werk_lists_what_the_digest_lists(engine: Engine, clock: Clock) -> None:
    populate(engine, pupils=400, seed=11)
    waiting_case(engine, "LL-W1")
    for days in (0, 23):
        today = (clock.now + dt.timedelta(days=days)).date()
        clock.now = NOW + dt.timedelta(days=days)
        want: dict[str, dict[str, set[Any]]] = {s: {"week": set(), "late": set(), "wait": set()}
                                                for s in engine.config.schools}
        for case in all_cases(engine):
            d = engine.definition_of(case)
            for r in dl.running(case, d, today, engine.calendar(case.school)):
                left = (r.due - today).days
                if left <= 6:
                    want[case.school]["late" if left < 0 else "week"].add((case.case_id, r.name, r.due))
            scopes = waits_for(case, d, "ib")
            if scopes:
                want[case.school]["wait"].add((case.case_id, tuple(scopes)))
        got = {w.school: w for w in worklist.my_work(engine, actor="auditor", limit=100_000)}
        for school, sections in want.items():
            w = got[school]
            assert {(i.case_id, i.deadline, i.due_on) for i in w.due_week} == sections["week"]
            assert {(i.case_id, i.deadline, i.due_on) for i in w.overdue} == sections["late"]
            assert {(i.case_id, tuple(i.scopes)) for i in w.waiting} == sections["wait"]
            assert (w.due_week_total, w.overdue_total, w.waiting_total) == tuple(
                len(sections[k]) for k in ("week", "late", "wait"))
        assert any(w.overdue for w in got.values()) and any(w.waiting for w in got.values())
    short = worklist.my_work(engine, actor=IB, limit=3)
    assert [w.school for w in short] == ["de-linde"] and len(short[0].overdue) <= 3


def _all_pages(engine: Engine, size: int = 7, **filters: Any) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = worklist.caseload(engine, actor="auditor", after=after, size=size, **filters)
        ids += [i.case_id for i in page.items]
        if page.next is None:
            return ids
        after = page.next


@pytest.mark.parametrize("candidates", [2000, 0], ids=["few", "walk"])
def test_the_caseload_is_what_a_fold_of_every_case_says(engine: Engine, clock: Clock, candidates: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way of finding a page: from a filter's own index ("few"), or walking the school's
    cases, testing each against a filter's ids or the filters themselves ("walk"); one state's
    own walk in both."""
    from workflow.adapters.store import worklist as sql_worklist

    monkeypatch.setattr(sql_worklist, "CANDIDATES", candidates)
    monkeypatch.setattr(sql_worklist, "FEW", candidates)
    populate(engine, pupils=300, seed=3)
    waiting_case(engine, "LL-W2")
    today = engine.today()
    cases = sorted(all_cases(engine), key=lambda c: (c.opened_at, c.case_id), reverse=True)

    def status(c: Any) -> str:
        return worst(r.status(today) for r in dl.running(c, engine.definition_of(c), today)) or "none"

    def wanted(keep: Any, closed: bool = False) -> list[str]:
        return [c.case_id for c in cases if (closed or not c.closed) and keep(c)]

    assert _all_pages(engine) == wanted(lambda c: True)
    assert _all_pages(engine, closed=True) == wanted(lambda c: True, closed=True)
    assert _all_pages(engine, school="het-anker", group=5) == wanted(lambda c: c.school == "het-anker" and c.group == 5)
    assert _all_pages(engine, level=4) == wanted(lambda c: c.level == 4)
    assert _all_pages(engine, state="afgesloten") == wanted(lambda c: c.closed, closed=True)
    # One state: a walk of the (school, state, opened_at, case_id) index, with and without more filters.
    for state in ("niveau_1", "niveau_2"):
        assert _all_pages(engine, state=state) == wanted(lambda c, s=state: c.state == s)
        assert _all_pages(engine, state=state, group=3) == wanted(lambda c, s=state: c.state == s and c.group == 3)
        assert _all_pages(engine, state=state, deadline="overdue") == wanted(
            lambda c, s=state: c.state == s and status(c) == "overdue")
    # Pages of one case, a group besides: the clocks' keys read again from the last one, batch
    # after batch, when the group drops the cases of a batch.
    for g, size in ((2, 1), (5, 1), (2, 2), (5, 3)):
        assert _all_pages(engine, size=size, deadline="overdue", group=g) == wanted(
            lambda c, g=g: c.group == g and status(c) == "overdue")
    for s in ("overdue", "soon", "ok", "none"):
        assert _all_pages(engine, deadline=s) == wanted(lambda c, s=s: status(c) == s), s
    week = wanted(lambda c: any(0 <= (r.due - today).days <= 6
                                for r in dl.running(c, engine.definition_of(c), today)))
    assert _all_pages(engine, deadline="week") == week
    waits = wanted(lambda c: bool(waits_for(c, engine.definition_of(c), "ib")))
    assert waits and _all_pages(engine, waiting=True) == waits
    # Backwards: each page's `previous` gives the page before it (the school's walk, one state's).
    for filters in ({}, {"state": "niveau_1"}):
        first = worklist.caseload(engine, actor="auditor", size=7, **filters)
        second = worklist.caseload(engine, actor="auditor", size=7, after=first.next, **filters)
        back = worklist.caseload(engine, actor="auditor", size=7, before=second.previous, **filters)
        assert len(second.items) == 7
        assert [i.case_id for i in back.items] == [i.case_id for i in first.items] and back.previous is None
        assert back.next == first.next


def test_the_pupil_search_is_exact_and_per_school(engine: Engine) -> None:
    cid = engine.open_case(pupil="LL-1001", school="de-linde", actor=IB)["case_id"]
    engine.open_case(pupil="LL-1001", school="het-anker", actor="ib.smit")
    assert [i.case_id for i in worklist.caseload(engine, actor=IB, pupil="LL-1001").items] == [cid]
    assert len(worklist.caseload(engine, actor="auditor", pupil="LL-1001").items) == 2
    assert worklist.caseload(engine, actor=IB, pupil="LL-100").items == []
    assert worklist.caseload(engine, actor=IB, pupil="ll-1001").items == []


def test_filters_are_checked(engine: Engine) -> None:
    from workflow.domain.errors import BadInput, Refused

    for bad in ({"state": "nergens"}, {"level": 9}, {"group": 0}, {"deadline": "gisteren"}, {"after": "x"},
                {"after": "20260101T000000000000_C-A", "before": "20260101T000000000000_C-A"}):
        with pytest.raises(BadInput):
            worklist.caseload(engine, actor=IB, **bad)
    with pytest.raises(Refused):
        worklist.caseload(engine, actor=IB, school="het-anker")


def test_migration_0020_fills_in_the_clocks_opening_times(engine: Engine, store_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A store from before migration 0020 (the clocks' rows without their case's opening time):
    the migration fills it in from `cases`, and the caseload's pages on the clocks, read in the
    clocks' own order, are the pages they were."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from workflow.adapters.store import migrate
    from workflow.adapters.store import worklist as sql_worklist

    if store_url.startswith("memory"):
        pytest.skip("a migration is SQL's")
    monkeypatch.setattr(sql_worklist, "FEW", 0)  # every clock filter read in the clocks' own order
    populate(engine, pupils=120, seed=5)
    pages = {s: _all_pages(engine, deadline=s) for s in ("overdue", "soon", "week")}
    assert pages["overdue"] and pages["soon"]
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020_deadline_opened@-1")
        assert "opened_at" not in {c["name"] for c in inspect(conn).get_columns("case_deadlines")}
    engine.init()
    with engine.db.connect() as conn:
        same = conn.execute(text("SELECT d.opened_at = c.opened_at FROM case_deadlines d"
                                 " JOIN cases c ON c.case_id = d.case_id")).scalars().all()
    assert len(same) > 20 and all(same)
    assert {s: _all_pages(engine, deadline=s) for s in pages} == pages

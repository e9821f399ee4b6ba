"""The planner's work projection (`cases.next_action_on`, workflow.service_layer.reminders.work).

A tick folds only the cases whose next action day has come. These tests hold it to the old
behaviour: on generated populations, with commands in between and `--now` moving forwards and
backwards, every tick plans exactly the outbox rows the full scan (every open case folded)
would have planned; the projection after a tick equals a fresh computation; any write hands the
case back to the planner; and the migration's backfill on an older store loses nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.reminders_support import AMS, IB, Clock, clocked_engine, to_niveau_4
from workflow.adapters.store import outbox
from workflow.adapters.store.eventstore import LOOK_NOW
from workflow.adapters.store.tables import cases
from workflow.bootstrap import reminder_service
from workflow.demo.population import populate
from workflow.domain import case as domain
from workflow.domain import deadlines as dl
from workflow.domain.errors import BadInput
from workflow.service_layer.engine import Engine
from workflow.service_layer.reminders.service import ReminderService
from workflow.service_layer.reminders.work import actions

START = dt.date(2026, 9, 1)
ACTOR = {"de-linde": "ib.jansen", "het-anker": "ib.smit"}


def extra(folder: Path, *, digest: bool) -> str:
    return (f'\n[reminders]\nsend_time = "07:30"\ndigest = {"true" if digest else "false"}\n'
            f'digest_time = "07:45"\n\n[notifier]\nbackend = "file"\nfolder = "{folder}"\n')


def at(day: dt.date, hour: int = 8, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS).astimezone(dt.UTC)


class Ticker:
    """The reminder service at a movable moment, and the outbox keys it has planned."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.moment = at(START)
        self.service = reminder_service(engine, lambda: self.moment)

    def outbox_keys(self) -> set[str]:
        with self.engine.db.connect() as conn:
            return {r[0] for r in conn.execute(select(outbox.outbox.c.key))}

    def plan_like_full_scan(self, moment: dt.datetime) -> None:
        """Plan at `moment` through the projection; the new rows must be exactly what the full
        scan finds due and not yet in the outbox."""
        self.moment = moment
        before = self.outbox_keys()
        expected = {i.key for i in self.service.planner().due(moment, skip_planned_digests=True)} - before
        self.service.plan()
        assert self.outbox_keys() - before == expected, moment

    def everything_due_is_planned(self, moment: dt.datetime) -> None:
        due = {i.key for i in self.service.planner().due(moment) if i.kind != "digest"}
        assert due <= self.outbox_keys()


def projection(engine: Engine) -> dict[str, tuple[dt.date | None, dt.date | None, bool]]:
    with engine.db.connect() as conn:
        return {r.case_id: (r.next_action_on, r.planned_on, r.closed_at is not None) for r in conn.execute(
            select(cases.c.case_id, cases.c.next_action_on, cases.c.planned_on, cases.c.closed_at))}


def fresh_next_action(engine: Engine, service: ReminderService, case_id: str, moment: dt.datetime) -> Any:
    """The next action day computed afresh from the case's events (what the planner stores)."""
    planner = service.planner()
    local = moment.astimezone(AMS)
    today, time = local.date(), local.time().replace(tzinfo=None)
    with engine.uow(write=False) as uow:
        case = uow.store.load(case_id)
    assert case is not None
    d = engine.definition_of(case)
    cal = planner.calendar(case.school)
    days = [a.send_on for r in dl.running(case, d, today, cal) for a in actions(r, cal)
            if not (today > a.send_on or (today == a.send_on and time >= service.settings.send_time))]
    return min(days, default=None)


def random_command(engine: Engine, rng: random.Random) -> None:
    """One allowed command on a random open case: a plan (a new clock), an evaluation, a step."""
    open_ids = [cid for cid, (_, _, closed) in projection(engine).items() if not closed]
    if not open_ids:
        return
    cid = rng.choice(sorted(open_ids))
    with engine.uow(write=False) as uow:
        case = uow.store.load(cid)
    assert case is not None
    actor = ACTOR[case.school]
    today = engine.today()
    roll = rng.random()
    if roll < 0.3:
        engine.record("plan", cid, actor=actor, start=today - dt.timedelta(days=20),
                      end=today + dt.timedelta(days=rng.randint(3, 40)), goals="g", who="lk", frequency="2x")
    elif roll < 0.45:
        with contextlib.suppress(BadInput):  # no plan at this level to evaluate
            engine.record("evaluation", cid, actor=actor, outcome=rng.choice(["voldoende", "onvoldoende"]))
    else:
        options = [o for o in domain.options(case, engine.definition_of(case), "ib") if o.allowed]
        if options:
            o = rng.choice(options)
            params = {"reason": "verhuisd"} if o.trigger == "close" and not o.params else o.params
            engine.fire(cid, o.trigger, actor=actor, params=params)


@pytest.fixture
def populated(tmp_path: Path, db_url: str) -> Iterator[tuple[Engine, Clock]]:
    cfg = write_config(tmp_path, db_url, extra=extra(tmp_path / "outbox", digest=True))
    clock = Clock(START)
    engine = clocked_engine(cfg, clock)
    populate(engine, pupils=120, seed=11, now=at(START, 6), years=2)
    yield engine, clock
    engine.db.dispose()


def test_ticks_plan_exactly_what_the_full_scan_plans(populated: tuple[Engine, Clock]) -> None:
    engine, clock = populated
    t = Ticker(engine)
    rng = random.Random(5)
    day = START
    for step in range(40):
        day += dt.timedelta(days=rng.choice([0, 1, 1, 2, 3, 7]))
        moment = at(day, rng.choice([6, 7, 8, 12, 17]), rng.choice([0, 29, 30, 45]))
        t.plan_like_full_scan(moment)
        if step % 3 == 0:
            clock.set(day, 18)
            for _ in range(rng.randint(1, 4)):
                random_command(engine, rng)
    t.everything_due_is_planned(t.moment)
    kinds = [k.split(":", 1)[0] for k in t.outbox_keys()]
    assert kinds.count("reminder") > 10 and kinds.count("digest") > 5  # the walk had work to do
    # --now far ahead, then back to the present and onwards: still exactly the full scan.
    present = t.moment
    t.plan_like_full_scan(present + dt.timedelta(days=120))
    for days in (1, 5, 30, 60, 121):
        t.plan_like_full_scan(present + dt.timedelta(days=days))
    t.plan_like_full_scan(present - dt.timedelta(days=200))  # --now in the past


def test_a_tick_folds_only_the_cases_with_work(populated: tuple[Engine, Clock]) -> None:
    engine, _ = populated
    t = Ticker(engine)
    moment = at(START + dt.timedelta(days=3), 9)
    t.moment = moment
    first = t.service.planner().work(moment)
    assert first.folded == len([1 for _, _, closed in projection(engine).values() if not closed])
    t.service.plan()
    again = t.service.planner().work(moment)
    assert again.folded == 0 and again.items == []
    proj = projection(engine)
    assert all(n is None or n > moment.astimezone(AMS).date() for n, _, closed in proj.values() if not closed)


def test_the_projection_after_every_kind_of_command(tmp_path: Path, db_url: str) -> None:
    cfg = write_config(tmp_path, db_url, extra=extra(tmp_path / "outbox", digest=False))
    d0 = dt.date(2026, 9, 7)
    clock = Clock(d0)
    engine = clocked_engine(cfg, clock)
    t = Ticker(engine)

    def after_command(cid: str, day: dt.date, *, closed: bool = False) -> None:
        nxt, planned, _ = projection(engine)[cid]
        assert (nxt, planned) == ((None, None) if closed else (LOOK_NOW, None))
        moment = at(day, 9)
        t.plan_like_full_scan(moment)
        nxt, planned, _ = projection(engine)[cid]
        if closed:
            assert (nxt, planned) == (None, None)
        else:
            assert planned == day and nxt == fresh_next_action(engine, t.service, cid, moment)

    cid = engine.open_case(pupil="P-1", school="de-linde", actor=IB)["case_id"]
    after_command(cid, d0)
    assert projection(engine)[cid][0] is None  # niveau_1: no clock runs
    cid = to_niveau_4(engine, pupil="P-2")  # records and fires: the OPP clock starts
    after_command(cid, d0)
    # due 19 October by the rule (autumn holiday) is given as Friday 16 October; 2 weeks before
    # is 2 October, a day off of De Linde: Thursday 1 October
    assert projection(engine)[cid][0] == dt.date(2026, 10, 1)
    clock.set(d0 + dt.timedelta(days=10))
    engine.fire(cid, "start_opp", actor=IB)
    after_command(cid, d0 + dt.timedelta(days=10))
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="refused", by="v")
    engine.fire(cid, "dispute", actor=IB)  # geschil: paused, nothing to plan until it ends
    after_command(cid, d0 + dt.timedelta(days=10))
    assert projection(engine)[cid][0] is None
    clock.set(d0 + dt.timedelta(days=20))
    engine.fire(cid, "resolve", actor=IB, params={})
    after_command(cid, d0 + dt.timedelta(days=20))
    assert projection(engine)[cid][0] == dt.date(2026, 10, 15)  # 10 days paused: due 29 October
    assert projection(engine)[cid][0] is not None
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", text="ok")
    engine.fire(cid, "adopt_opp", actor=IB)  # stops the OPP clock, starts the yearly evaluation
    after_command(cid, d0 + dt.timedelta(days=20))
    # 31 July is in the summer holiday: due the last school day, Friday 16 July; 4 weeks before
    assert projection(engine)[cid][0] == dt.date(2027, 6, 18)
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    after_command(cid, d0 + dt.timedelta(days=20), closed=True)
    later = d0 + dt.timedelta(days=3 * 366)  # past the retention period
    clock.set(later)
    engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")
    after_command(cid, later, closed=True)
    engine.db.dispose()


def test_a_write_between_fold_and_write_back_keeps_the_case_for_the_next_tick(
        tmp_path: Path, sqlite_url: str) -> None:
    from workflow.service_layer.reminders.work import write_back

    cfg = write_config(tmp_path, sqlite_url, extra=extra(tmp_path / "outbox", digest=False))
    d0 = dt.date(2026, 9, 7)
    clock = Clock(d0)
    engine = clocked_engine(cfg, clock)
    cid = to_niveau_4(engine)
    t = Ticker(engine)
    work = t.service.planner().work(at(d0, 9))
    engine.record("contact", cid, actor=IB, method="telefoon")  # the case moves on meanwhile
    assert write_back(engine.store, work.marks) == 0
    assert projection(engine)[cid][:2] == (LOOK_NOW, None)
    engine.db.dispose()


def test_backfill_on_a_store_from_before_the_migration(tmp_path: Path, db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from workflow.adapters.store import migrate

    cfg_path = write_config(tmp_path, db_url, extra=extra(tmp_path / "outbox", digest=True))
    clock = Clock(START)
    engine = clocked_engine(cfg_path, clock)
    populate(engine, pupils=80, seed=3, now=at(START, 6), years=2)
    t = Ticker(engine)
    t.plan_like_full_scan(at(START + dt.timedelta(days=1), 9))
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.db.begin() as conn:  # back to the schema before 0005, data and outbox kept
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006_next_action_covering@-2")
    assert "0005_next_action" not in migrate.current_heads(engine.db)
    engine.init()
    assert "0006_next_action_covering" in migrate.current_heads(engine.db)
    proj = projection(engine)
    assert all((n, p) == ((None, None) if closed else (LOOK_NOW, None)) for n, p, closed in proj.values())
    for days in (2, 9, 30, 90, 250):
        t.plan_like_full_scan(at(START + dt.timedelta(days=days), 9))
    t.everything_due_is_planned(t.moment)
    engine.db.dispose()


def test_audit_replay_catches_a_stale_next_action_day(populated: tuple[Engine, Clock]) -> None:
    from sqlalchemy import update

    from workflow.service_layer.audit.replay import replay_all

    engine, _ = populated
    t = Ticker(engine)
    moment = at(START + dt.timedelta(days=2), 9)
    t.plan_like_full_scan(moment)
    assert [o.mismatches for o in replay_all(engine, actor="auditor") if o.mismatches] == []
    proj = projection(engine)
    today = moment.astimezone(AMS).date()
    victim = next(cid for cid, (n, _, closed) in sorted(proj.items()) if n is not None and n > today)
    with engine.db.begin() as conn:  # a projection that would skip the case's next reminder
        conn.execute(update(cases).where(cases.c.case_id == victim).values(next_action_on=dt.date(2099, 1, 1)))
    bad = {o.case_id: o.mismatches for o in replay_all(engine, actor="auditor") if o.mismatches}
    assert list(bad) == [victim] and "next_action_on" in bad[victim][0]

"""`passend reminders due` reads the planner's index, not every open case, and lists the same.

`Planner.listed_chunks` (what the command prints) reads what the cases of the tick's due-work
scan have due from their clocks in the work list (folding those it cannot read so), and what
the others have due from their planned messages in the outbox;
`Planner.due` folds every open case. On generated populations, with ticks, commands and `--now` moving forwards and
backwards in between, at moments before send_time, between send_time and digest_time and after
it, both must give the same items in the same order, down to the digests.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.reminders_support import Clock, clocked_engine
from tests.test_reminders_work import START, Ticker, at, extra, random_command
from workflow.demo.population import populate
from workflow.service_layer.reminders import work
from workflow.service_layer.reminders.planner import Planner


def _listed(t: Ticker, moment: dt.datetime) -> list[dict[str, Any]]:
    return [i.summary() for chunk in t.service.planner().listed_chunks(moment) for i in chunk]


def _full(t: Ticker, moment: dt.datetime) -> list[dict[str, Any]]:
    return [i.summary() for i in t.service.planner().due(moment)]


def _count_cases(monkeypatch: pytest.MonkeyPatch, method: str) -> list[int]:
    """Planner.`method` as it is, with how many cases each call answered for, in the list."""
    real = getattr(Planner, method)
    counts: list[int] = []

    def counted(self: Planner, ids: list[str], *rest: Any) -> Any:
        out = real(self, ids, *rest)
        counts.append(len(out))
        return out

    monkeypatch.setattr(Planner, method, counted)
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("digest", [True, False])
def test_listed_due_work_is_the_full_scan_s_on_many_cases_and_states(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, digest: bool) -> None:
    monkeypatch.setattr(work, "SCAN_CHUNK", 9)  # every path crosses many pages
    read = _count_cases(monkeypatch, "_from_outbox")  # the real methods, their cases counted
    clocked = _count_cases(monkeypatch, "_from_clocks")
    cfg = write_config(tmp_path, db_url, extra=extra(tmp_path / "outbox", digest=digest))
    clock = Clock(START)
    engine = clocked_engine(cfg, clock)
    populate(engine, pupils=260, seed=23, now=at(START, 6), years=2)
    t = Ticker(engine)
    rng = random.Random(17)
    day = START
    kinds: set[str] = set()
    compared = 0
    for step in range(24):
        day += dt.timedelta(days=rng.choice([0, 1, 2, 3, 7, 12]))
        moment = at(day, rng.choice([6, 7, 8, 12]), rng.choice([0, 29, 30, 45]))
        # Never planned (every case on LOOK_NOW), then after ticks, with commands in between.
        for look in (moment, moment - dt.timedelta(days=rng.choice([1, 9, 30])), moment + dt.timedelta(days=4)):
            listed = _listed(t, look)
            assert listed == _full(t, look), (step, look)
            kinds.update(r["kind"] for r in listed)
            compared += len(listed)
        if step % 3 != 2:
            t.moment = moment
            t.service.plan()
        for _ in range(rng.randint(0, 6)):
            clock.now = moment
            random_command(engine, rng)
    assert compared > 200
    assert sum(read) > 20  # many cases listed from their planned rows, not folded
    assert sum(clocked) > 20  # and many of the scan's from their clocks in the work list
    assert kinds >= ({"reminder", "escalation", "digest"} if digest else {"reminder", "escalation"})
    engine.db.dispose()

"""Helpers for the deadline and reminder tests: a movable clock and quick walks through the process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from workflow.service import Engine

IB, LK = "ib.jansen", "lk.devries"
AMS = ZoneInfo("Europe/Amsterdam")


class Clock:
    """The engine's clock, set per step so events carry the day the test means."""

    def __init__(self, day: dt.date, hour: int = 10) -> None:
        self.now = dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, day: dt.date, hour: int = 10) -> None:
        self.now = dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(dt.UTC)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(AMS).date()


def clocked_engine(config_path: Path, clock: Clock) -> Engine:
    e = Engine.from_config(config_path, create_key=True, clock=clock)
    e.init()
    return e


def to_niveau_4(engine: Engine, *, school: str = "de-linde", pupil: str = "LL-1",
                ib: str = IB, lk: str | None = LK) -> str:
    """Open a case and walk it to niveau_4 on the clock's current day."""
    lk = lk or ib
    cid = engine.open_case(pupil=pupil, school=school, actor=ib, group=5)["case_id"]
    today = engine.today()
    start = today - dt.timedelta(days=56)
    engine.record("signal", cid, actor=lk, area="lezen", note="n")
    engine.fire(cid, "escalate", actor=lk)
    engine.record("plan", cid, actor=lk, start=start, end=today, goals="g", who="lk", frequency="4x")
    engine.record("evaluation", cid, actor=lk, outcome="onvoldoende")
    engine.record("contact", cid, actor=ib, method="telefoon")
    engine.fire(cid, "escalate", actor=ib)
    for _ in range(2):
        engine.record("plan", cid, actor=lk, start=start, end=today, goals="g", who="oa", frequency="3x")
        engine.record("evaluation", cid, actor=lk, outcome="onvoldoende")
    engine.record("meeting", cid, actor=ib, kind="expert", participants="IB, expert")
    engine.record("consent", cid, actor=ib, scope="externe_deskundige", status="granted", by="moeder")
    engine.fire(cid, "escalate", actor=ib)
    return cid


def adopt_opp(engine: Engine, cid: str, *, ib: str = IB) -> None:
    """From niveau_4 to an adopted OPP on the clock's current day."""
    engine.fire(cid, "start_opp", actor=ib)
    engine.record("meeting", cid, actor=ib, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=ib, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=ib, party="ouders", text="eens")
    engine.record("view", cid, actor=ib, party="leerling", text="ok")
    engine.fire(cid, "adopt_opp", actor=ib)


def deadline(view: dict, name: str) -> dict | None:
    return next((d for d in view["deadlines"] if d["name"] == name), None)

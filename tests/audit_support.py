"""Helpers for the audit tests: an engine on a movable clock, and journeys that end in a close."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from workflow.bootstrap import bootstrap
from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"


class Clock:
    """A clock the test moves; events get the time it shows."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


def clocked_engine(config_path: Path, start: dt.datetime) -> tuple[Engine, Clock]:
    clock = Clock(start)
    e = bootstrap(config_path, create_key=True, clock=clock)
    e.init()
    return e, clock


def journey_to_opp(engine: Engine, clock: Clock | None = None, *, pupil: str = "LL-1",
                   name: str | None = "Sanne", note: str = "traag") -> str:
    """The seed's way to an adopted OPP, a day between steps when a clock is given."""

    def tick() -> None:
        if clock is not None:
            clock.advance(days=1)

    cid = engine.open_case(pupil=pupil, school="de-linde", actor=IB, name=name, group=5)["case_id"]
    tick()
    today = engine.today()
    start = today - dt.timedelta(days=56)
    engine.record("signal", cid, actor=LK, area="lezen", note=note)
    tick()
    engine.fire(cid, "escalate", actor=LK)
    tick()
    engine.record("plan", cid, actor=LK, start=start, end=engine.today(), goals="g", who="lk", frequency="4x")
    engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("contact", cid, actor=IB, method="telefoon")
    tick()
    engine.fire(cid, "escalate", actor=IB)
    tick()
    for _ in range(2):
        engine.record("plan", cid, actor=LK, start=start, end=engine.today(), goals="g", who="oa", frequency="3x")
        engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("meeting", cid, actor=IB, kind="expert", participants="IB, expert")
    engine.record("consent", cid, actor=IB, scope="externe_deskundige", status="granted", by="moeder")
    tick()
    engine.fire(cid, "escalate", actor=IB)
    tick()
    engine.fire(cid, "start_opp", actor=IB)
    tick()
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", reason_not_heard="te jong")
    tick()
    engine.fire(cid, "adopt_opp", actor=IB)
    return cid


def journey_to_tlv(engine: Engine, clock: Clock | None = None, **kw: str) -> str:
    cid = journey_to_opp(engine, clock, **kw)
    if clock is not None:
        clock.advance(days=30)
    engine.record("evaluation", cid, actor=IB, outcome="onvoldoende", subject="opp", with_parents=True)
    engine.record("consent", cid, actor=IB, scope="bot_aanmelding", status="granted", by="moeder")
    engine.fire(cid, "refer_bot", actor=IB)
    if clock is not None:
        clock.advance(days=14)
    engine.record("meeting", cid, actor=IB, kind="bot", participants="SWV", outcome="tlv")
    engine.fire(cid, "bot_outcome", actor=IB, params={"outcome": "tlv"})
    return cid


def quick_closed(engine: Engine, *, pupil: str, reason: str = "verhuisd") -> str:
    cid = engine.open_case(pupil=pupil, school="de-linde", actor=IB, name="Kees")["case_id"]
    engine.record("signal", cid, actor=LK, area="rekenen", note="moeite met tafels")
    engine.fire(cid, "close", actor=IB, params={"reason": reason})
    return cid

"""Helpers for the OPP, ROD, import and migration tests: a store on process version 2 (the OPP
document), and a case walked to an OPP in concept with every piece of evidence adoption needs
except the document and the consent on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.audit_support import IB, LK, Clock, clocked_engine
from tests.conftest import STATES, write_config
from workflow.service_layer import opp
from workflow.service_layer.engine import Engine

V2 = STATES / "passend_po_v2.toml"
T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)

FULL: dict[str, Any] = {
    "uitstroombestemming": "vmbo_kader",
    "texts": {"rationale": "Leerrendement en werkhouding wijzen op kader.",
              "helping_factors": "gemotiveerd, steun thuis",
              "hindering_factors": "concentratie, <script>alert(1)</script> & leestempo", "needs": "korte instructie",
              "support": "RT lezen", "who": "de RT'er en de leerkracht", "frequency": "3x per week 30 minuten",
              "deviations": "geen Frans; extra lezen"},
    "goals": [("lezen", "AVI E5 aan het eind van het jaar"), ("werkhouding", "20 minuten zelfstandig werken")],
    "evaluation_moments": [dt.date(2026, 1, 20), dt.date(2026, 6, 15)],
}


def v2_engine(folder: Path, url: str, start: dt.datetime = T0, extra: str = "") -> tuple[Engine, Clock]:
    return clocked_engine(write_config(folder, url, definition=V2, extra=extra), start)


def to_niveau_3_ready(engine: Engine, clock: Clock, *, pupil: str = "LL-1", name: str | None = "Sanne") -> str:
    """A case at niveau_3 with everything escalate to niveau_4 needs but the parents' consent
    for the external expert."""
    cid = str(engine.open_case(pupil=pupil, school="de-linde", actor=IB, name=name, group=6)["case_id"])
    clock.advance(days=1)
    engine.record("signal", cid, actor=LK, area="lezen", note="traag")
    engine.fire(cid, "escalate", actor=LK)
    clock.advance(days=1)
    today = engine.today()
    engine.record("plan", cid, actor=LK, start=today, end=today + dt.timedelta(days=40), goals="g", who="lk",
                  frequency="4x")
    clock.advance(days=42)
    engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("contact", cid, actor=IB, method="telefoon")
    engine.fire(cid, "escalate", actor=IB)
    clock.advance(days=1)
    for _ in range(2):
        today = engine.today()
        engine.record("plan", cid, actor=LK, start=today, end=today + dt.timedelta(days=40), goals="g",
                      who="oa", frequency="3x")
        clock.advance(days=42)
        engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("meeting", cid, actor=IB, kind="expert", participants="IB, expert")
    return cid


def to_concept(engine: Engine, clock: Clock, *, pupil: str = "LL-1", name: str | None = "Sanne") -> str:
    """A case at OPP in concept, with the OOGO and both views recorded (not the consent)."""

    def tick() -> None:
        clock.advance(days=1)

    cid = to_niveau_3_ready(engine, clock, pupil=pupil, name=name)
    engine.record("consent", cid, actor=IB, scope="externe_deskundige", status="granted", by="moeder")
    engine.fire(cid, "escalate", actor=IB)
    tick()
    engine.fire(cid, "start_opp", actor=IB)
    tick()
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", text="ik wil beter lezen")
    return cid


def draft_full(engine: Engine, cid: str, **changes: Any) -> dict[str, Any]:
    values = {**FULL, **changes}
    return opp.draft(engine, cid, actor=IB, uitstroombestemming=values["uitstroombestemming"],
                     texts=values["texts"], goals=values["goals"],
                     evaluation_moments=values["evaluation_moments"])


def to_adopted(engine: Engine, clock: Clock, **kw: Any) -> str:
    cid = to_concept(engine, clock, **kw)
    draft_full(engine, cid)
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    clock.advance(days=1)
    engine.fire(cid, "adopt_opp", actor=IB)
    return cid

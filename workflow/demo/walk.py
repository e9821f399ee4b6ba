"""A demo journey through the default process, for the README's first run and for tests."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from workflow.demo.population import OPP_GOALS, OPP_TEXTS
from workflow.domain.errors import BadInput, Said
from workflow.service_layer import opp
from workflow.service_layer.engine import Engine


def _actors(engine: Engine, school: str) -> tuple[str, str]:
    users = engine.config.users.values()
    ib = next((u.id for u in users if u.role == "ib" and u.serves(school)), None)
    lk = next((u.id for u in users if u.role == "leerkracht" and u.serves(school)), ib)
    if ib is None or lk is None:
        raise BadInput(Said("demo.config.no_ib", school=school))
    return ib, lk


def walk_to_opp(engine: Engine, *, school: str | None = None) -> list[dict[str, Any]]:
    """Open a case with a made-up pupil reference and move it to `opp_vastgesteld`."""
    school = school or next(iter(engine.config.schools), None)
    if school is None:
        raise BadInput(Said("demo.config.no_schools"))
    ib, lk = _actors(engine, school)
    today = engine.today()
    start = today - dt.timedelta(days=56)
    steps: list[dict[str, Any]] = []

    def step(label: str, result: dict[str, Any]) -> None:
        steps.append({"step": label, "case_id": cid, "state": result.get("state", state())})

    def state() -> str:
        return str(engine.case(cid, actor=ib)["state"])

    cid = engine.open_case(pupil=f"DEMO-{secrets.token_hex(3)}", school=school, actor=ib,
                           group=5)["case_id"]
    step("casus geopend", {"state": "niveau_1"})
    engine.record("signal", cid, actor=lk, area="lezen", note="Leest traag en raadt woorden.")
    step("signaal vastgelegd", {})
    step("opschalen naar niveau 2", engine.fire(cid, "escalate", actor=lk))
    engine.record("plan", cid, actor=lk, start=start, end=today, goals="Vloeiend lezen AVI E4",
                  who="leerkracht", frequency="4x per week 15 min")
    engine.record("evaluation", cid, actor=lk, outcome="onvoldoende", notes="Weinig groei.")
    engine.record("contact", cid, actor=ib, method="gesprek", note="Ouders geïnformeerd.")
    step("plan, evaluatie en contact met ouders", {})
    step("opschalen naar niveau 3", engine.fire(cid, "escalate", actor=ib))
    for _ in range(2):
        engine.record("plan", cid, actor=lk, start=start, end=today, goals="RT in groepje",
                      who="onderwijsassistent", frequency="3x per week 30 min")
        engine.record("evaluation", cid, actor=lk, outcome="onvoldoende")
    engine.record("meeting", cid, actor=ib, kind="expert", participants="IB, expert Scope")
    engine.record("consent", cid, actor=ib, scope="externe_deskundige", status="granted",
                  by="ouder 1")
    step("twee evaluaties, expert, toestemming", {})
    step("opschalen naar niveau 4", engine.fire(cid, "escalate", actor=ib))
    step("OPP opstellen", engine.fire(cid, "start_opp", actor=ib))
    if engine.definition.opp is not None:  # a process version with the OPP document itself
        opp.draft(engine, cid, actor=ib, uitstroombestemming=engine.definition.opp.profile_ids[0],
                  texts={name: OPP_TEXTS[name][0] for name in OPP_TEXTS},
                  goals=list(OPP_GOALS[:2]), evaluation_moments=[today + dt.timedelta(weeks=w) for w in (16, 36)])
        step("OPP-versie 1 vastgelegd", {})
    engine.record("meeting", cid, actor=ib, kind="oogo", participants="IB, ouders, leerkracht")
    engine.record("consent", cid, actor=ib, scope="opp_handelingsdeel", status="granted",
                  by="ouder 1")
    engine.record("view", cid, actor=ib, party="ouders", text="Wij steunen het plan.")
    engine.record("view", cid, actor=ib, party="leerling", text="Ik wil beter leren lezen.")
    step("OOGO, instemming, meningen", {})
    step("OPP vaststellen", engine.fire(cid, "adopt_opp", actor=ib))
    return steps

"""The seed's whole journey, through the Python API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from workflow.errors import Refused
from workflow.service import Engine

IB, LK = "ib.jansen", "lk.devries"


def test_seed_journey_to_tlv(engine: Engine) -> None:
    cid = engine.open_case(pupil="LL-1", school="de-linde", actor=IB, name="Sanne", group=5)["case_id"]
    today = engine.today()
    start = today - dt.timedelta(days=56)
    engine.record("signal", cid, actor=LK, area="lezen", note="traag")
    assert engine.fire(cid, "escalate", actor=LK)["state"] == "niveau_2"
    engine.record("plan", cid, actor=LK, start=start, end=today, goals="g", who="lk", frequency="4x")
    engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("contact", cid, actor=IB, method="telefoon")
    assert engine.fire(cid, "escalate", actor=IB)["state"] == "niveau_3"
    for _ in range(2):
        engine.record("plan", cid, actor=LK, start=start, end=today, goals="g", who="oa", frequency="3x")
        engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("meeting", cid, actor=IB, kind="expert", participants="IB, expert")
    engine.record("consent", cid, actor=IB, scope="externe_deskundige", status="granted", by="moeder")
    assert engine.fire(cid, "escalate", actor=IB)["state"] == "niveau_4"
    assert engine.fire(cid, "start_opp", actor=IB)["state"] == "opp_concept"
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", reason_not_heard="groep 1, te jong")
    assert engine.fire(cid, "adopt_opp", actor=IB)["state"] == "opp_vastgesteld"
    engine.record("evaluation", cid, actor=IB, outcome="onvoldoende", subject="opp", with_parents=True)
    engine.record("consent", cid, actor=IB, scope="bot_aanmelding", status="granted", by="moeder")
    assert engine.fire(cid, "refer_bot", actor=IB)["state"] == "bot_aangemeld"
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "bot_outcome", actor=IB, params={"outcome": "tlv"})
    assert any("bot" in r for r in refused.value.reasons)
    engine.record("meeting", cid, actor=IB, kind="bot", participants="SWV", outcome="tlv")
    r = engine.fire(cid, "bot_outcome", actor=IB, params={"outcome": "tlv"})
    assert r["state"] == "afgesloten"
    view = engine.case(cid, actor=IB)
    assert view["close_reason"] == "tlv"
    assert view["closed_at"] is not None
    assert view["name"] == "Sanne"
    assert view["options"] == []
    assert [h["dest"] for h in view["history"]] == [
        "niveau_2", "niveau_3", "niveau_4", "opp_concept", "opp_vastgesteld", "bot_aangemeld",
        "afgesloten",
    ]
    opened = dt.datetime.fromisoformat(view["opened_at"])
    assert opened.tzinfo is not None and opened.utcoffset() == dt.timedelta(0)

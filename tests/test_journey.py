"""The seed's whole journey, through the Python API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from workflow.domain.errors import BadInput, Refused
from workflow.domain.reasons import Reason
from workflow.service_layer.engine import Engine

from .engine_support import adopt, walk_to_niveau_4

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
    assert any("BOT-overleg" in r for r in refused.value.reasons)
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


# ---- more journeys through the API, on both databases ----------------------------------------

def _projection(engine: Engine, cid: str) -> tuple[object, ...]:
    with engine.uow(write=False) as uow:
        p = uow.store.projection(cid)
    return (p.state, p.level, p.version, p.opp_active, p.close_reason)


def test_journey_down_and_up_again(engine: Engine) -> None:
    cid = engine.open_case(pupil="LL-2", school="de-linde", actor=LK)["case_id"]
    today = engine.today()
    engine.record("signal", cid, actor=LK, area="rekenen", note="n")
    engine.fire(cid, "escalate", actor=LK)
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "deescalate", actor=IB)
    assert refused.value.reasons == [
        "Er is nog geen evaluatie met uitkomst voldoende vastgelegd sinds de casus op niveau 2 kwam."]
    engine.record("plan", cid, actor=LK, start=today - dt.timedelta(days=42), end=today, goals="g",
                  who="lk", frequency="2x")
    engine.record("evaluation", cid, actor=LK, outcome="voldoende")
    assert engine.fire(cid, "deescalate", actor=IB)["state"] == "niveau_1"
    # Back at level 1 a new stretch begins: the first stretch's signal no longer counts.
    with pytest.raises(Refused):
        engine.fire(cid, "escalate", actor=LK)
    engine.record("signal", cid, actor=LK, area="rekenen", note="weer")
    assert engine.fire(cid, "escalate", actor=LK)["state"] == "niveau_2"
    assert _projection(engine, cid) == ("niveau_2", 2, 8, False, None)


def test_journey_opp_revise_dispute_resolve_and_end(engine: Engine) -> None:
    cid = walk_to_niveau_4(engine)
    adopt(engine, cid)
    assert _projection(engine, cid)[3] is True  # the OPP is active
    # Revise: only after an OOGO since adoption; back to concept, where adoption needs fresh views.
    with pytest.raises(Refused):
        engine.fire(cid, "revise_opp", actor=IB)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    assert engine.fire(cid, "revise_opp", actor=IB)["state"] == "opp_concept"
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "adopt_opp", actor=IB)
    # OOGO, consent on the revised handelingsdeel, and both views again.
    assert len(refused.value.reasons) == 4
    assert any(r["code"] == "consent_missing" and r["params"] == {
        "scope": "opp_handelingsdeel", "since": "state_entered", "state": "opp_concept", "status": None}
        for r in refused.value.details)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", reason_not_heard="wil niet")
    assert engine.fire(cid, "adopt_opp", actor=IB)["state"] == "opp_vastgesteld"
    # The parents revoke their consent and dispute; the case waits in geschil.
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="revoked", by="vader")
    assert engine.fire(cid, "dispute", actor=IB)["state"] == "geschil"
    assert engine.check(cid, "resolve", actor=IB).reasons == (
        Reason("consent_missing", {"scope": "opp_handelingsdeel", "status": "revoked"}),)
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    assert engine.fire(cid, "resolve", actor=IB)["state"] == "opp_vastgesteld"
    # Ending the OPP: an evaluation with the parents and an OOGO since (re-)entering opp_vastgesteld.
    engine.record("evaluation", cid, actor=IB, outcome="voldoende", subject="opp", with_parents=True)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    r = engine.fire(cid, "deescalate", actor=IB)
    assert (r["state"], r["level"]) == ("niveau_3", 3)
    assert _projection(engine, cid)[3] is False
    with pytest.raises(BadInput, match="geen vastgesteld OPP"):
        engine.record("evaluation", cid, actor=IB, outcome="voldoende", subject="opp")
    engine.fire(cid, "close", actor=IB, params={"reason": "schoolverlater"})
    view = engine.case(cid, actor=IB)
    assert view["close_reason"] == "schoolverlater" and view["options"] == []
    assert [h["trigger"] for h in view["history"]][-7:] == [
        "adopt_opp", "revise_opp", "adopt_opp", "dispute", "resolve", "deescalate", "close"]


@pytest.mark.parametrize("outcome", ["advies", "arrangement"])
def test_journey_bot_advice_returns_to_the_opp(engine: Engine, outcome: str) -> None:
    cid = walk_to_niveau_4(engine)
    adopt(engine, cid)
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "refer_bot", actor=IB)
    assert len(refused.value.reasons) == 2
    engine.record("evaluation", cid, actor=IB, outcome="onvoldoende", subject="opp", with_parents=True)
    engine.record("consent", cid, actor=IB, scope="bot_aanmelding", status="granted", by="moeder")
    engine.fire(cid, "refer_bot", actor=IB)
    engine.record("meeting", cid, actor=IB, kind="bot", participants="SWV, ouders", outcome=outcome)
    with pytest.raises(Refused):
        engine.fire(cid, "bot_outcome", actor=IB, params={"outcome": "tlv"})
    r = engine.fire(cid, "bot_outcome", actor=IB, params={"outcome": outcome})
    assert r["state"] == "opp_vastgesteld" and r["params"] == {"outcome": outcome}
    assert _projection(engine, cid)[:2] == ("opp_vastgesteld", 4)
    # A second referral needs no new evaluation at level 4, but the consent must still hold.
    engine.record("consent", cid, actor=IB, scope="bot_aanmelding", status="revoked", by="moeder")
    with pytest.raises(Refused):
        engine.fire(cid, "refer_bot", actor=IB)


@pytest.mark.parametrize("reason", ["tlv", "verhuisd", "schoolverlater", "niet_meer_nodig"])
def test_close_with_each_reason(engine: Engine, reason: str) -> None:
    cid = engine.open_case(pupil=f"C-{reason}", school="de-linde", actor=IB)["case_id"]
    r = engine.fire(cid, "close", actor=IB, params={"reason": reason})
    assert (r["state"], r["level"]) == ("afgesloten", None)
    assert _projection(engine, cid) == ("afgesloten", None, 2, False, reason)
    assert engine.list_cases(actor=IB, state="afgesloten")[0]["close_reason"] == reason

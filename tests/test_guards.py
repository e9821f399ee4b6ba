"""Guards and the case aggregate without a database: real events, real domain.decide/options."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path

import pytest

from workflow.domain import case as domain
from workflow.domain.definition import load_definition
from workflow.domain.errors import BadInput, NotFound
from workflow.domain.facts import CaseFacts, Entry, Fact
from workflow.domain.guards import ConsentGuard, EvidenceGuard, check, consent_status
from workflow.domain.reasons import Reason
from workflow.messages import render_all

from .conftest import STATES
from .engine_support import PureCase


def missing(c: PureCase, trigger: str, role: str = "ib", **params: str) -> list[str]:
    """The refusal's reasons as the IB reads them (the domain gives data; the catalog, text)."""
    d = c.decide(trigger, role, **params)
    assert not d.allowed
    return render_all(d.reasons, c.d)


# ---- escalate ------------------------------------------------------------------------------

def test_escalate_1_to_2_needs_a_signal_at_the_current_level() -> None:
    c = PureCase()
    assert missing(c, "escalate") == ["Er is nog geen signalering vastgelegd sinds de casus op niveau 1 kwam."]
    c.record("signal", area="gedrag", note="n")
    assert c.decide("escalate").allowed
    assert c.decide("escalate", "leerkracht").allowed
    assert c.fire("escalate").state == "niveau_2"


def test_signal_observed_before_the_case_opened_counts_at_the_first_level() -> None:
    c = PureCase()
    c.record("signal", area="lezen", note="n", date=c.today - dt.timedelta(days=10))
    assert c.decide("escalate").allowed


def test_escalate_2_to_3_lists_every_missing_piece_at_once() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    reasons = missing(c, "escalate")
    assert len(reasons) == 2
    assert "evaluatie van het handelingsplan met uitkomst onvoldoende vastgelegd sinds de casus op niveau 2" \
        in reasons[0]
    assert "contact met de ouders" in reasons[1]
    # A sufficient evaluation is not the insufficient one the guard wants.
    c.plan().record("evaluation", outcome="voldoende")
    assert len(missing(c, "escalate")) == 2
    c.plan().record("evaluation", outcome="onvoldoende")
    assert missing(c, "escalate") == [reasons[1]]
    c.record("contact", method="email", party="leerling")  # not the parents
    assert missing(c, "escalate") == [reasons[1]]
    c.record("contact", method="email")
    assert c.decide("escalate").allowed


def test_escalate_3_to_4_needs_two_evaluations_an_expert_and_consent() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    c.evaluated("onvoldoende").record("contact", method="telefoon").fire("escalate")
    reasons = missing(c, "escalate")
    assert len(reasons) == 3
    assert "Er is 0 keer evaluatie" in reasons[0] and "nodig is minstens 2 keer" in reasons[0]
    assert "overleg met een externe deskundige" in reasons[1]
    assert "toestemming gegeven voor inschakelen van een externe deskundige" in reasons[2]
    assert "nog geen toestemming" in reasons[2]
    c.evaluated("onvoldoende")
    reasons = missing(c, "escalate")
    assert "Er is 1 keer" in reasons[0] and len(reasons) == 3
    c.evaluated("onvoldoende").record("meeting", kind="expert", participants="p")
    c.consent("externe_deskundige", "refused")
    assert missing(c, "escalate") == [
        "De ouders hebben toestemming voor inschakelen van een externe deskundige geweigerd."]
    c.consent("externe_deskundige")
    assert c.fire("escalate").state == "niveau_4"


def test_evidence_from_a_lower_level_does_not_count_after_escalating() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    c.record("signal", area="lezen", note="again")
    c.evaluated("onvoldoende").record("contact", method="brief").fire("escalate")
    # The level-2 evaluation and contact are behind us: level 3 starts from zero.
    assert "Er is 0 keer" in missing(c, "escalate")[0]


def test_leerkracht_may_fire_only_escalate_from_niveau_1() -> None:
    c = PureCase().record("signal", area="lezen", note="n")
    assert c.decide("escalate", "leerkracht").allowed
    assert "Als leerkracht" in missing(c, "close", "leerkracht", reason="verhuisd")[0]
    c.fire("escalate")
    c.evaluated("onvoldoende").record("contact", method="telefoon")
    assert c.decide("escalate", "ib").allowed
    assert missing(c, "escalate", "leerkracht") == [
        "Als leerkracht mag u ‘Opschalen’ niet doen bij de stand ‘Niveau 2: extra aandacht in de klas’; "
        "dat mag: intern begeleider."]


@pytest.mark.parametrize("role", ["directeur", "auditor"])
def test_read_only_roles_are_refused_every_trigger(role: str) -> None:
    c = PureCase().record("signal", area="lezen", note="n")
    assert any(r.startswith("Als ") for r in missing(c, "escalate", role))
    assert any(r.startswith("Als ") for r in missing(c, "close", role, reason="verhuisd"))
    assert all(not o.allowed for o in domain.options(c.case, c.d, role))


def test_role_and_guard_reasons_come_together() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    reasons = missing(c, "escalate", "leerkracht")
    assert len(reasons) == 3 and reasons[0].startswith("Als leerkracht")


# ---- deescalate -----------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [1, 2, 3])
def test_deescalate_needs_a_sufficient_evaluation_at_the_current_level(levels: int) -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    if levels >= 2:
        c.evaluated("onvoldoende").record("contact", method="telefoon").fire("escalate")
    if levels >= 3:
        c.evaluated("onvoldoende", 2).record("meeting", kind="expert", participants="p")
        c.consent("externe_deskundige").fire("escalate")
    start = c.state
    assert missing(c, "deescalate") == [
        f"Er is nog geen evaluatie met uitkomst voldoende vastgelegd sinds de casus op niveau {c.case.level} kwam."]
    c.evaluated("voldoende")
    c.fire("deescalate")
    assert c.case.level == c.d.level_of(start) - 1  # type: ignore[operator]


def test_deescalate_from_niveau_1_is_not_possible() -> None:
    reasons = missing(PureCase(), "deescalate")
    assert reasons == ["‘Afschalen’ kan niet bij de stand ‘Niveau 1: basisaanbod’. "
                       "Wel mogelijk: ‘Opschalen’ of ‘Afsluiten’."]


def test_deescalate_from_opp_vastgesteld_needs_opp_evaluation_with_parents_and_oogo() -> None:
    c = PureCase().to_opp_vastgesteld()
    assert c.case.opp_active
    reasons = missing(c, "deescalate")
    assert len(reasons) == 2
    assert "evaluatie van het OPP samen met de ouders" in reasons[0]
    assert "OOGO-gesprek met de ouders vastgelegd sinds de stap ‘OPP vastgesteld’ begon" in reasons[1]
    c.record("evaluation", outcome="voldoende", subject="opp")  # without the parents
    assert len(missing(c, "deescalate")) == 2
    c.record("evaluation", outcome="voldoende", subject="opp", with_parents=True)
    assert len(missing(c, "deescalate")) == 1
    c.record("meeting", kind="oogo", participants="ouders")
    c.fire("deescalate")
    assert c.state == "niveau_3" and c.case.level == 3
    assert not c.case.opp_active


# ---- OPP -------------------------------------------------------------------------------------

def test_start_opp_only_from_niveau_4() -> None:
    c = PureCase()
    assert "kan niet bij de stand ‘Niveau 1: basisaanbod’" in missing(c, "start_opp")[0]
    c.to_level_4()
    assert c.decide("start_opp").allowed
    assert "Als leerkracht" in missing(c, "start_opp", "leerkracht")[0]


def test_adopt_opp_lists_all_four_missing_pieces() -> None:
    c = PureCase().to_level_4()
    # Evidence from before the OPP draft does not count for its adoption.
    c.record("meeting", kind="oogo", participants="ouders").record("view", party="ouders", text="t")
    c.fire("start_opp")
    reasons = missing(c, "adopt_opp")
    assert len(reasons) == 4
    assert "OOGO-gesprek met de ouders vastgelegd sinds de stap ‘OPP in concept’ begon" in reasons[0]
    assert "het handelingsdeel van het OPP" in reasons[1]
    assert "mening van de ouders in eigen woorden" in reasons[2]
    assert "mening van de leerling vastgelegd" in reasons[3]
    c.record("view", party="ouders", reason_not_heard="niet bereikbaar")  # parents must be heard
    c.record("view", party="leerling", reason_not_heard="te jong")  # the pupil may have a reason
    c.record("meeting", kind="oogo", participants="ouders")
    assert len(missing(c, "adopt_opp")) == 2
    c.consent("opp_handelingsdeel")
    assert len(missing(c, "adopt_opp")) == 1
    c.record("view", party="ouders", text="eens")
    assert c.fire("adopt_opp").state == "opp_vastgesteld"
    assert c.case.opp_active


def test_consent_revocation_blocks_adoption() -> None:
    c = PureCase().to_level_4().fire("start_opp")
    c.record("meeting", kind="oogo", participants="ouders").consent("opp_handelingsdeel")
    c.record("view", party="ouders", text="eens").record("view", party="leerling", text="ja")
    assert c.decide("adopt_opp").allowed
    c.consent("opp_handelingsdeel", "revoked")
    assert missing(c, "adopt_opp") == [
        "De ouders hebben hun toestemming voor het handelingsdeel van het OPP ingetrokken "
        "sinds de stap ‘OPP in concept’ begon."]
    assert consent_status(c.case.facts, "opp_handelingsdeel") == "revoked"
    c.consent("opp_handelingsdeel")
    assert c.decide("adopt_opp").allowed


def test_revise_opp_needs_an_oogo_since_adoption() -> None:
    c = PureCase().to_opp_vastgesteld()
    assert missing(c, "revise_opp") == [
        "Er is nog geen OOGO-gesprek met de ouders vastgelegd sinds de stap ‘OPP vastgesteld’ begon."]
    c.record("meeting", kind="oogo", participants="ouders")
    assert c.fire("revise_opp").state == "opp_concept"


def test_consent_for_the_handelingsdeel_is_given_on_each_draft() -> None:
    c = PureCase().to_level_4()
    c.consent("opp_handelingsdeel")  # before there was a draft to consent to
    c.fire("start_opp").record("meeting", kind="oogo", participants="ouders")
    c.record("view", party="ouders", text="eens").record("view", party="leerling", text="ja")
    assert missing(c, "adopt_opp") == [
        "De ouders hebben nog geen toestemming gegeven voor het handelingsdeel van het OPP "
        "sinds de stap ‘OPP in concept’ begon."]
    c.consent("opp_handelingsdeel").fire("adopt_opp")
    c.record("meeting", kind="oogo", participants="ouders").fire("revise_opp")
    c.record("meeting", kind="oogo", participants="ouders")
    c.record("view", party="ouders", text="eens").record("view", party="leerling", text="ja")
    assert len(missing(c, "adopt_opp")) == 1  # the revised handelingsdeel needs consent again
    c.consent("opp_handelingsdeel")
    assert c.fire("adopt_opp").state == "opp_vastgesteld"


# ---- dispute and resolve ---------------------------------------------------------------------

def test_dispute_needs_consent_withheld_and_resolve_returns_to_opp_concept() -> None:
    c = PureCase().to_level_4().fire("start_opp")
    assert missing(c, "dispute") == [
        "Dit kan alleen als de ouders hun toestemming voor het handelingsdeel van het OPP hebben "
        "geweigerd of ingetrokken; nu: nog niet vastgelegd."]
    c.consent("opp_handelingsdeel", "refused")
    c.fire("dispute")
    assert c.state == "geschil" and c.case.level == 4
    assert "kan niet bij de stand ‘Geschil met ouders’" in missing(c, "adopt_opp")[0]
    d = c.decide("resolve")
    assert d.allowed and d.dest == "opp_concept"
    assert c.fire("resolve").state == "opp_concept"


def test_dispute_from_opp_vastgesteld_resolves_back_only_with_consent() -> None:
    c = PureCase().to_opp_vastgesteld()
    c.consent("opp_handelingsdeel", "revoked").fire("dispute")
    assert c.state == "geschil"
    reasons = missing(c, "resolve")
    # Only the edge back to where the case came from is reported, not the opp_concept one.
    assert reasons == ["De ouders hebben hun toestemming voor het handelingsdeel van het OPP ingetrokken."]
    c.consent("opp_handelingsdeel")
    d = c.decide("resolve")
    assert d.allowed and d.dest == "opp_vastgesteld"
    assert c.fire("resolve").state == "opp_vastgesteld"
    assert c.case.opp_active


# ---- BOT -----------------------------------------------------------------------------------

def test_refer_bot_needs_consent_and_an_insufficient_evaluation_at_level_4() -> None:
    c = PureCase().to_opp_vastgesteld()
    reasons = missing(c, "refer_bot")
    assert len(reasons) == 2
    assert "aanmelding bij het BOT" in reasons[0] and "evaluatie met uitkomst onvoldoende" in reasons[1]
    c.record("evaluation", outcome="onvoldoende", subject="opp", with_parents=True)
    c.consent("bot_aanmelding")
    assert c.fire("refer_bot").state == "bot_aangemeld"


@pytest.mark.parametrize("outcome", ["advies", "arrangement"])
def test_bot_outcome_advies_or_arrangement_returns_to_opp_vastgesteld(outcome: str) -> None:
    c = PureCase().to_opp_vastgesteld()
    c.record("evaluation", outcome="onvoldoende", subject="opp").consent("bot_aanmelding")
    c.fire("refer_bot")
    assert missing(c, "bot_outcome", outcome=outcome) == [
        f"Er is nog geen BOT-overleg met uitkomst {outcome} vastgelegd sinds de stap "
        "‘Aangemeld bij het BreedOverlegTeam’ begon."]
    other = "arrangement" if outcome == "advies" else "advies"
    c.record("meeting", kind="bot", participants="SWV", outcome=other)
    assert not c.decide("bot_outcome", outcome=outcome).allowed
    c.record("meeting", kind="bot", participants="SWV", outcome=outcome)
    d = c.decide("bot_outcome", outcome=outcome)
    assert d.dest == "opp_vastgesteld"
    c.fire("bot_outcome", outcome=outcome)
    assert c.state == "opp_vastgesteld" and not c.case.closed and c.case.opp_active


def test_bot_outcome_tlv_closes_with_reason_tlv() -> None:
    c = PureCase().to_opp_vastgesteld()
    c.record("evaluation", outcome="onvoldoende", subject="opp").consent("bot_aanmelding")
    c.fire("refer_bot").record("meeting", kind="bot", participants="SWV", outcome="tlv")
    with pytest.raises(BadInput):
        c.decide("bot_outcome")  # the outcome is required
    with pytest.raises(BadInput):
        c.decide("bot_outcome", outcome="misschien")
    c.fire("bot_outcome", outcome="tlv")
    assert c.state == "afgesloten" and c.case.close_reason == "tlv" and c.case.closed


# ---- close ---------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["tlv", "verhuisd", "schoolverlater", "niet_meer_nodig"])
@pytest.mark.parametrize("where", ["niveau_1", "opp_concept", "geschil"])
def test_close_with_each_reason_from_anywhere(reason: str, where: str) -> None:
    c = PureCase()
    if where != "niveau_1":
        c.to_level_4().fire("start_opp")
    if where == "geschil":
        c.consent("opp_handelingsdeel", "refused").fire("dispute")
    assert c.state == where
    c.fire("close", reason=reason)
    assert c.state == "afgesloten" and c.case.close_reason == reason
    assert c.case.closed_at is not None


def test_close_needs_a_known_reason_and_the_ib() -> None:
    c = PureCase()
    with pytest.raises(BadInput, match="kies ook de reden"):
        c.decide("close")
    with pytest.raises(BadInput, match="niet toegestaan"):
        c.decide("close", reason="zomaar")
    with pytest.raises(BadInput, match="onbekende keuze"):
        c.decide("close", reason="verhuisd", extra="x")
    with pytest.raises(NotFound):
        c.decide("explode")


def test_a_trigger_parameter_must_be_text(tmp_path: Path) -> None:
    """Parameters go into the chain as they are; the chain's params hold strings only
    (docs/event-chain.md). Without choices to compare with, a number got in as a number."""
    toml = (STATES / "passend_po_v1.toml").read_text(encoding="utf-8")
    free = 'params.reason = { required = true, label = "de reden" }'
    toml = re.sub(r"params\.reason = \{ required = true, label = \"de reden\", choices = .*\}", free, toml)
    assert free in toml
    (tmp_path / "free.toml").write_text(toml, encoding="utf-8")
    c = PureCase(load_definition(tmp_path / "free.toml")).record("signal", area="lezen", note="n")
    for value in (1.5, 3, True, None):
        with pytest.raises(BadInput, match="moet tekst zijn"):
            c.decide("close", reason=value)
    assert c.decide("close", reason="anders").allowed


def test_a_closed_case_refuses_everything() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("close", reason="verhuisd")
    for trigger, params in [("escalate", {}), ("deescalate", {}), ("start_opp", {}),
                            ("close", {"reason": "tlv"}), ("bot_outcome", {"outcome": "tlv"})]:
        assert missing(c, trigger, **params) == ["De casus is afgesloten."]
    assert domain.options(c.case, c.d, "ib") == []


# ---- options (what `case show` lists) ------------------------------------------------------

def test_options_list_every_trigger_with_every_reason() -> None:
    c = PureCase().to_opp_vastgesteld()
    opts = {(o.trigger, o.dest): o for o in domain.options(c.case, c.d, "ib")}
    assert set(opts) == {
        ("deescalate", "niveau_3"), ("revise_opp", "opp_concept"), ("dispute", "geschil"),
        ("refer_bot", "bot_aangemeld"), ("close", "afgesloten"),
    }
    assert opts[("close", "afgesloten")].allowed
    assert len(opts[("refer_bot", "bot_aangemeld")].reasons) == 2
    c.record("evaluation", outcome="onvoldoende", subject="opp").consent("bot_aanmelding")
    c.fire("refer_bot")
    outs = [(o.trigger, o.dest, o.params.get("outcome")) for o in domain.options(c.case, c.d, "ib")]
    assert ("bot_outcome", "opp_vastgesteld", "advies") in outs
    assert ("bot_outcome", "afgesloten", "tlv") in outs


# ---- the guard kinds on their own ----------------------------------------------------------

def _facts(*facts: Fact, entries: list[Entry] | None = None) -> CaseFacts:
    day = dt.date(2026, 3, 2)
    return CaseFacts(state="s", level=1, facts=list(facts),
                     entries=entries or [Entry(1, "s", 1, day)])


def test_consent_latest_decision_by_date_wins() -> None:
    day = dt.date(2026, 3, 2)
    grant = Fact(2, "consent", day, 1, "s", {"scope": "x", "status": "granted"})
    refuse_earlier = Fact(3, "consent", day - dt.timedelta(days=1), 1, "s",
                          {"scope": "x", "status": "refused"})
    g = ConsentGuard(scope="x")
    assert check(g, _facts(grant, refuse_earlier), {}) is None
    revoke = Fact(4, "consent", day, 1, "s", {"scope": "x", "status": "revoked"})
    assert check(g, _facts(grant, revoke), {}) is not None
    other_scope = Fact(2, "consent", day, 1, "s", {"scope": "y", "status": "granted"})
    assert check(g, _facts(other_scope), {}) == Reason("consent_missing", {"scope": "x", "status": None})


def test_evidence_guard_filters_on_a_trigger_parameter_and_counts() -> None:
    day = dt.date(2026, 3, 2)
    g = EvidenceGuard(evidence="meeting", where=(("kind", "bot"), ("outcome", "{outcome}")), min=2)
    m = [Fact(i, "meeting", day, 1, "s", {"kind": "bot", "outcome": o})
         for i, o in [(2, "advies"), (3, "advies"), (4, "tlv")]]
    assert check(g, _facts(*m), {"outcome": "advies"}) is None
    why = check(g, _facts(*m), {"outcome": "tlv"})
    assert why is not None and why.code == "evidence_missing" and why.params["have"] == 1


def test_evidence_dated_before_a_later_anchor_does_not_count() -> None:
    day = dt.date(2026, 3, 2)
    entries = [Entry(1, "a", 1, day - dt.timedelta(days=30)), Entry(5, "s", 1, day)]
    backdated = Fact(6, "signal", day - dt.timedelta(days=1), 1, "s", {"area": "lezen"})
    g = EvidenceGuard(evidence="signal", since="state_entered")
    assert check(g, _facts(backdated, entries=entries), {}) is not None
    ondate = Fact(7, "signal", day, 1, "s", {"area": "lezen"})
    assert check(g, _facts(backdated, ondate, entries=entries), {}) is None


def test_evaluations_count_once_per_plan_and_only_for_plans_of_this_level() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    c.plan()  # a level-2 plan, evaluated only after escalating to level 3
    c.record("evaluation", outcome="onvoldoende").record("contact", method="telefoon").fire("escalate")
    c.record("evaluation", outcome="onvoldoende")  # of the level-2 plan, the latest one
    assert c.decide("escalate").reasons[0].params["have"] == 0
    c.plan().record("evaluation", outcome="onvoldoende").record("evaluation", outcome="onvoldoende")
    assert c.decide("escalate").reasons[0].params["have"] == 1  # one period, evaluated twice
    c.plan().record("evaluation", outcome="onvoldoende")
    assert c.decide("escalate").reasons[0].params["kind"] != "evaluation"  # the count is met
    assert len(c.decide("escalate").reasons) == 2  # expert and consent still missing


def test_options_offer_every_outcome_of_bot_outcome() -> None:
    c = PureCase().to_opp_vastgesteld()
    c.record("evaluation", outcome="onvoldoende", subject="opp").consent("bot_aanmelding")
    c.fire("refer_bot").record("meeting", kind="bot", participants="SWV", outcome="arrangement")
    outs = {o.params.get("outcome"): o for o in domain.options(c.case, c.d, "ib") if o.trigger == "bot_outcome"}
    assert set(outs) == {"advies", "arrangement", "tlv"}
    assert outs["arrangement"].allowed and not outs["advies"].allowed and not outs["tlv"].allowed
    assert outs["tlv"].dest == "afgesloten"


# ---- random walks: decisions, the transitions machine and replay agree -------------------------

ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("signal", {"area": "lezen", "note": "n"}),
    ("plan", {}),
    ("evaluation", {"outcome": "onvoldoende"}),
    ("evaluation", {"outcome": "voldoende"}),
    ("evaluation", {"outcome": "voldoende", "subject": "opp", "with_parents": "ja"}),
    ("evaluation", {"outcome": "onvoldoende", "subject": "opp"}),
    ("contact", {"method": "telefoon"}),
    ("meeting", {"kind": "expert", "participants": "p"}),
    ("meeting", {"kind": "oogo", "participants": "p"}),
    ("meeting", {"kind": "bot", "participants": "p", "outcome": "advies"}),
    ("meeting", {"kind": "bot", "participants": "p", "outcome": "tlv"}),
    ("view", {"party": "ouders", "text": "t"}),
    ("view", {"party": "leerling", "reason_not_heard": "r"}),
    ("consent", {"scope": "externe_deskundige", "status": "granted", "by": "m"}),
    ("consent", {"scope": "opp_handelingsdeel", "status": "granted", "by": "m"}),
    ("consent", {"scope": "opp_handelingsdeel", "status": "refused", "by": "m"}),
    ("consent", {"scope": "bot_aanmelding", "status": "granted", "by": "m"}),
    ("fire", {}), ("fire", {}), ("fire", {}), ("fire", {}),
]


def test_random_walks_keep_decisions_machine_and_replay_in_step() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from workflow.domain.machine import shared_machine

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, len(ACTIONS) - 1), st.integers(0, 20)), max_size=60))
    def walk(steps: list[tuple[int, int]]) -> None:
        c = PureCase()
        machine = shared_machine(c.d)
        for action, pick in steps:
            if c.case.closed:
                assert domain.options(c.case, c.d, "ib") == []
                break
            kind, fields = ACTIONS[action]
            if kind == "plan":
                c.plan()
            elif kind == "fire":
                opts = domain.options(c.case, c.d, "ib")
                for o in opts:
                    assert o.allowed == (not o.reasons)
                    if o.allowed:
                        assert o.transition is not None
                        assert machine.move(c.case, o.trigger, o.params, "ib").dest == o.dest
                for o in domain.options(c.case, c.d, "leerkracht"):
                    assert not o.allowed or (o.trigger, o.source) == ("escalate", "niveau_1")
                for role in ("directeur", "auditor"):
                    assert not any(o.allowed for o in domain.options(c.case, c.d, role))
                allowed = [o for o in opts if o.allowed and o.trigger != "close"]
                if allowed:
                    o = allowed[pick % len(allowed)]
                    c.fire(o.trigger, **o.params)
                    assert c.state == o.dest
            else:
                # e.g. an OPP evaluation without an OPP, an evaluation without a plan
                with contextlib.suppress(BadInput):
                    c.record(kind, **fields)
            c.tick(pick % 3)
        replayed = domain.Case.from_events(c.case.events)
        assert (replayed.state, replayed.level, replayed.opp_active, replayed.closed, replayed.version) == (
            c.case.state, c.case.level, c.case.opp_active, c.case.closed, c.case.version)
        assert replayed.head_hash == c.case.head_hash
        assert [o.as_dict() for o in domain.options(replayed, c.d, "ib")] == [
            o.as_dict() for o in domain.options(c.case, c.d, "ib")]

    walk()


@pytest.mark.parametrize("outcome", ["advies", "tlv"])
def test_revoking_the_bot_consent_blocks_the_bot_outcome(outcome: str) -> None:
    c = PureCase().to_opp_vastgesteld()
    c.record("evaluation", outcome="onvoldoende", subject="opp").consent("bot_aanmelding")
    c.fire("refer_bot").record("meeting", kind="bot", participants="SWV", outcome=outcome)
    assert c.decide("bot_outcome", outcome=outcome).allowed
    c.consent("bot_aanmelding", "revoked")
    assert missing(c, "bot_outcome", outcome=outcome) == [
        "De ouders hebben hun toestemming voor aanmelding bij het BOT ingetrokken."]
    assert c.decide("close", reason="niet_meer_nodig").allowed

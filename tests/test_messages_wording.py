"""The Dutch an IB reads: guard filters say `ja`/`nee` or a label, never Python's True/False/None,
and the reminder mail lists what is missing under "Wat nog ontbreekt:" without repeating "ontbreekt:"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, clocked_engine
from tests.conftest import FIXTURES, STATES
from tests.engine_support import walk_to_niveau_4
from tests.reminders_support import eml_files
from workflow.domain.definition import load_definition
from workflow.domain.guards import EvidenceGuard
from workflow.messages import render as render_reason
from workflow.service_layer.reminders.messages import render

T0 = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)  # a Tuesday
REPRS = ("True", "False", "None")


@pytest.mark.parametrize("path", [STATES / "passend_po_v1.toml", FIXTURES / "three_levels.toml",
                                  FIXTURES / "five_levels.toml"], ids=lambda p: p.stem)
def test_no_guard_is_described_with_a_python_repr(path: Path) -> None:
    d = load_definition(path)
    for t in d.transitions:
        for g in t.guards:
            for params in ({}, {"outcome": "tlv", "reason": "verhuisd"}):
                for text in (g.recorded(params), render_reason(g.explain(params, t.source), d)):
                    assert not any(r in text for r in REPRS), (t.trigger, text)


def test_filter_values_in_dutch() -> None:
    g = EvidenceGuard(evidence="evaluation",
                      where=(("subject", "opp"), ("with_parents", True), ("outcome", ("voldoende", "onvoldoende"))))
    # The wording a transition's event records never changes (it is hashed).
    assert g.recorded() == ("evaluatie (subject=opp, with_parents=ja, outcome=voldoende of onvoldoende) "
                            "sinds de opening van de casus")
    # What a person reads is built from the labels.
    assert render_reason(g.explain(), None) == (
        "Evaluatie van het OPP samen met de ouders met uitkomst voldoende of onvoldoende vastgelegd "
        "sinds de casus is geopend.")
    bot = EvidenceGuard(evidence="meeting", where=(("kind", "bot"), ("outcome", "{outcome}")))
    assert "outcome=tlv" in bot.recorded({"outcome": "tlv"})
    assert "BOT-overleg met uitkomst TLV" in render_reason(bot.explain({"outcome": "tlv"}), None)
    # a reminder names no chosen outcome yet
    assert "BOT-overleg met uitkomst naar keuze" in render_reason(bot.explain({}), None)


def test_rendered_list_drops_the_repeated_prefix_only() -> None:
    ctx: dict[str, Any] = {
        "case_id": "C-X", "school": "OBS De Linde", "group": 5, "label": "OPP vaststellen", "due": "01-02-2027",
        "due_long": "maandag 1 februari 2027", "days_left": 3, "overdue_days": 0, "state_label": "OPP in concept",
        "missing": ["ontbreekt: overleg (kind=oogo)", "eerst de stap 'start_opp' (Start OPP)"],
        "meeting": False, "actor": IB, "case_url": "http://127.0.0.1:8000/casus/C-X"}
    for template in ("reminder", "escalation"):
        _, text, html = render(template, ctx)
        assert "  - overleg (kind=oogo)\n" in text and "  - eerst de stap 'start_opp'" in text
        assert "<li>overleg (kind=oogo)</li>" in html
        assert "ontbreekt: overleg" not in text + html


def test_the_reminder_mail_reads_as_dutch(config_path: Path, cli: Any) -> None:
    engine, _ = clocked_engine(config_path, T0)
    cid = walk_to_niveau_4(engine)
    engine.fire(cid, "start_opp", actor=IB)
    engine.db.dispose()
    # the 2-week reminder of the 6-week OPP term (due 13 October) is due from 29 September
    r = cli("serve", "--once", "--now", "2026-10-05T12:00")
    assert r.code == 0, r.err
    (mail,) = [m for m in eml_files(config_path.parent / "var" / "outbox") if "OPP" in str(m["Subject"])]
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert ("Wat nog ontbreekt:\n  - Er is nog geen OOGO-gesprek met de ouders vastgelegd sinds de stap "
            "‘OPP in concept’ begon.\n") in text
    assert "  - Er is nog geen mening van de ouders in eigen woorden vastgelegd sinds de stap" in text
    assert "ontbreekt: " not in text.replace("Wat nog ontbreekt:", "")
    assert not any(f"={r}" in text for r in REPRS)

"""The reminder, escalation and digest mails (notifiers/templates/*.j2) read their words from the
message catalog (mail.*), as the web pages do: the Dutch mails are byte for byte what they were
when their words were written in the templates, pinned here against tests/fixtures/mails_nl.json.

The samples below cover what changes the text: a group or none, days left (several, one, none
today, past), what is missing or nothing, a meeting's calendar item or none, and a digest's four
lists empty and full; values with HTML's special characters show the escaping is unchanged.
To write the file anew after a deliberate change of the Dutch wording (and only then), run
`PYTHONPATH=. python -m tests.test_mail_words --write` and read the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from workflow.service_layer.reminders.messages import render

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "mails_nl.json"
URL = "https://passend.example"


def _case(**changes: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "case_id": "C-2026-0007", "school": "OBS De Linde", "group": 5, "label": "OPP vaststellen",
        "due": "13-10-2026", "due_long": "dinsdag 13 oktober 2026", "days_left": 3, "overdue_days": 0,
        "state_label": "OPP in concept", "missing": [], "meeting": False, "actor": "ib.jansen",
        "case_url": f"{URL}/casus/C-2026-0007"}
    return {**ctx, **changes}


MISSING = ["Er is nog geen OOGO-gesprek met de ouders vastgelegd sinds de stap ‘OPP in concept’ begon.",
           "ontbreekt: overleg (kind=oogo)", "eerst de stap ‘Start OPP’"]
CASES: dict[str, dict[str, Any]] = {
    "group_days_3_missing_meeting": _case(missing=MISSING, meeting=True),
    "no_group_day_1": _case(group=None, days_left=1, overdue_days=-1),
    "group_today_missing": _case(group=8, days_left=0, missing=MISSING[:1]),
    "no_group_past_meeting": _case(group=None, days_left=-2, overdue_days=2, meeting=True),
    "overdue_1_day": _case(days_left=-1, overdue_days=1, missing=MISSING[1:]),
    "overdue_12_days": _case(group=None, days_left=-12, overdue_days=12),
    "escaped": _case(school="OBS <De Linde> & Co", label="BOT \"overleg\" & <b>", state_label="A & B",
                     missing=["vast te leggen: <overleg> & meer"], meeting=True,
                     case_url=f"{URL}/casus/C-X?a=1&b=<2>"),
}


def _digest(**lists: list[dict[str, Any]]) -> dict[str, Any]:
    parts: dict[str, Any] = {"due_week": [], "overdue": [], "consent": [], "erasure": []}
    return {**parts, **lists, "day": "05-10-2026", "day_long": "maandag 5 oktober 2026", "actor": "ib.jansen",
            "base_url": URL, "work_url": URL + "/"}


DUE = [{"case_id": "C-1", "school": "OBS De Linde", "label": "OPP vaststellen", "due": "07-10-2026"},
       {"case_id": "C-2", "school": "CBS Het Anker", "label": "Evaluatie handelingsplan", "due": "09-10-2026"}]
LATE = [{"case_id": "C-3", "school": "OBS De Linde", "label": "BOT-overleg", "due": "01-10-2026"}]
CONSENT = [{"case_id": "C-4", "school": "OBS De Linde", "scopes": ["het handelingsdeel van het OPP"]},
           {"case_id": "C-5", "school": "CBS Het Anker", "scopes": ["het OPP", "een onderzoek"]}]
ERASE = [{"case_id": "C-6", "school": "OBS De Linde", "closed": "2023-09-04", "due": "2025-09-04"}]
DIGESTS: dict[str, dict[str, Any]] = {
    "empty": _digest(),
    "full": _digest(due_week=DUE, overdue=LATE, consent=CONSENT, erasure=ERASE),
    "some": _digest(overdue=LATE + LATE, erasure=ERASE),
    "escaped": _digest(due_week=[{"case_id": "C-<7>", "school": "OBS <De Linde> & Co", "label": "A & B",
                                  "due": "07-10-2026"}],
                       consent=[{"case_id": "C-8", "school": "X & Y", "scopes": ["<a>", "b & c"]}]),
}


def rendered() -> dict[str, list[str]]:
    """Every sample through every template it is for: name -> [subject, text, HTML]."""
    out = {f"{template}/{name}": list(render(template, ctx))
           for template in ("reminder", "escalation") for name, ctx in CASES.items()}
    out.update({f"digest/{name}": list(render("digest", ctx)) for name, ctx in DIGESTS.items()})
    return out


def test_the_dutch_mails_are_byte_for_byte_as_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = rendered()
    assert got.keys() == pinned.keys()
    for name, parts in got.items():
        for part, now, then in zip(("subject", "text", "html"), parts, pinned[name], strict=True):
            assert now.encode() == then.encode(), f"{name} {part}"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.write_text(json.dumps(rendered(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

"""The audit timeline's HTML page (workflow/service_layer/audit/templates/timeline.html.j2) reads
its words from the message catalog (svc.audit.timeline.html.*), as the mails do: the Dutch page
is byte for byte what it was when its words were written in the template, pinned here against
tests/fixtures/timeline_nl.json; with PASSEND_LANGUAGE=en its headings are English.

The samples cover what changes the page: erased or not, an entry with fields, guards and a
change of state, one without, and values with HTML's special characters (the escaping must not
change). To write the file anew after a deliberate change of the Dutch wording (and only then),
run `PYTHONPATH=. python -m tests.test_timeline_words --write` and read the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from workflow.service_layer.audit.timeline import render_html

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "timeline_nl.json"


def _entry(**changes: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "seq": 1, "at": "2026-10-05 09:14", "at_utc": "2026-10-05T07:14:00+00:00", "actor": "ib.jansen",
        "role": "ib", "type": "case_opened", "what": "Casus geopend (school de-linde, groep 5)",
        "state_before": None, "state_after": "signalering", "state_before_label": None,
        "state_after_label": "Signalering", "guards": [], "fields": {"leerling": "LL-1", "naam": "Sanne"},
        "process": "passend@1", "hash": "a" * 64}
    return {**e, **changes}


ENTRIES = [
    _entry(),
    _entry(seq=2, type="evidence_recorded", actor="lk.devries", role="leerkracht",
           what="Signaal vastgelegd (datum 2026-10-05)", state_before="signalering",
           state_before_label="Signalering", state_after_label="Signalering",
           fields={"gebied": "lezen", "notitie": "traag\nmet twee regels"}),
    _entry(seq=3, type="transitioned", actor="lk.devries", role="leerkracht", what="Opschalen (escalate)",
           state_before="signalering", state_before_label="Signalering", state_after="niveau_2",
           state_after_label="Niveau 2", fields={}, guards=["Er is een signaal vastgelegd.", "rol: leerkracht"]),
    _entry(seq=4, type="migrated", what="Overgezet naar procesversie 2 (was 1)", state_before="niveau_2",
           state_before_label="Niveau 2", state_after="niveau_2", state_after_label="Niveau 2", fields={}),
]


def _timeline(**changes: Any) -> dict[str, Any]:
    t: dict[str, Any] = {"case_id": "C-2026-0007", "school": "de-linde", "erased": False, "events": 4,
                         "head_hash": "f" * 64, "entries": ENTRIES, "generated_at": "2026-10-06 10:00",
                         "generated_for": "auditor"}
    return {**t, **changes}


SAMPLES: dict[str, dict[str, Any]] = {
    "full": _timeline(),
    "erased": _timeline(erased=True, entries=[
        _entry(fields={"leerling": "[gewist]", "naam": "[gewist]"}),
        _entry(seq=2, type="case_erased", what="Persoonsgegevens gewist: sleutel vernietigd",
               state_before="signalering", state_before_label="Signalering", state_after_label="Signalering",
               fields={"reden": "bewaartermijn verstreken", "bewaartermijn (jaar)": 2})], events=2),
    "empty": _timeline(events=0, entries=[], head_hash=None, case_id=None, school=None),
    "escaped": _timeline(case_id="C-<1>&", school="OBS <De Linde> & Co", generated_for="a\"b'c", entries=[
        _entry(what="<script>alert(1)</script>", actor="<b>x</b>", role="r&d",
               fields={"<k>": "<img src=x onerror=alert(1)>", "n": "a & b"}, guards=["<i>g</i> & h"],
               state_before="<s>", state_before_label="<S> & T", state_after_label="A \"B\"")]),
}


def rendered() -> dict[str, str]:
    return {name: render_html(data) for name, data in SAMPLES.items()}


def test_the_dutch_timeline_page_is_byte_for_byte_as_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = rendered()
    assert got.keys() == pinned.keys()
    for name, page in got.items():
        assert page.encode() == pinned[name].encode(), name


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text(json.dumps(rendered(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

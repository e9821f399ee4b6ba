"""The audit timeline's HTML page (workflow/service_layer/audit/templates/timeline.html.j2) reads
its words from the message catalog (svc.audit.timeline.html.*), as the mails do: the Dutch page
is byte for byte what it was when its words were written in the template, pinned here against
tests/fixtures/timeline_nl.json; with PASSEND_LANGUAGE=en its headings are English.

The samples cover what changes the page: erased or not, an entry with fields, guards and a
change of state, one without, and values with HTML's special characters (the escaping must not
change). The template is read with Jinja's own lexer: its text (the HTML's text nodes, the
style sheet apart) may hold no letters, and a string literal in an expression only a catalog key,
apart from the commands a person types (NOT_TO_TRANSLATE); every key it names is in both
catalogs. To write the file anew after a deliberate change of the Dutch wording (and only then),
run `PYTHONPATH=. python -m tests.test_timeline_words --write` and read the diff.
"""

from __future__ import annotations

import ast
import json
import re
import string
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from workflow.messages.render import _catalog
from workflow.service_layer.audit.timeline import _env, render_html

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "timeline_nl.json"
TEMPLATE = Path(__file__).resolve().parents[1] / "workflow" / "service_layer" / "audit" / "templates" \
    / "timeline.html.j2"
NOT_TO_TRANSLATE = ("passend audit verify", "docs/verify_export.py")  # a command and a file, as typed
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
KEY = re.compile(r"svc\.audit\.timeline\.html\.[a-z_]+(\.one)?")


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


def test_the_english_page_has_english_headings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    page = render_html(SAMPLES["erased"])
    assert '<html lang="en">' in page and "<h1>Timeline of case C-2026-0007</h1>" in page
    assert "<th>When</th><th>Who</th><th>What</th><th>State</th>" in page
    assert "School de-linde · 2 events · made 2026-10-06 10:00 for auditor" in page
    assert "personal data of this case were erased" in page
    assert "Verify the chain with <code>passend audit verify</code> or an export with" in page
    for dutch in ("Tijdlijn", "Wanneer", "gebeurtenissen", "Laatste hash", "Controleer", "gewist na"):
        assert dutch not in page, dutch


@pytest.mark.parametrize(("lang", "one", "many"),
                         [("nl", "1 gebeurtenis ", "gebeurtenissen"), ("en", "1 event ", "events")])
def test_one_event_is_said_in_the_singular(monkeypatch: pytest.MonkeyPatch, lang: str, one: str, many: str) -> None:
    """A case just opened has one event: the page and the text say so in the singular."""
    from workflow.service_layer.audit.timeline import render

    monkeypatch.setenv("PASSEND_LANGUAGE", lang)
    single = _timeline(events=1, entries=ENTRIES[:1])
    page = render_html(single)
    assert f"· {one}·" in page and many not in page.split("<table")[0]
    title = render(single, "text").splitlines()[0]
    assert f"{one.strip()})" in title and many not in title
    assert many in render(_timeline(), "text").splitlines()[0]


class _Text(HTMLParser):
    """The text nodes of the page outside its style sheet."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        words = " ".join(data.split())
        if not self._style and LETTERS.search(words):
            self.found.append(words)


def template_words_and_keys() -> tuple[list[str], set[str]]:
    """What a person would read in the template that is not from the catalog, and the keys it names."""
    written: list[str] = []
    found: list[str] = []
    keys: set[str] = set()
    for _, kind, value in _env().lex(TEMPLATE.read_text(encoding="utf-8")):
        if kind == "data":
            written.append(value)
        elif kind in ("variable_begin", "block_begin"):
            written.append(" ")
        elif kind == "string":
            literal = ast.literal_eval(value)
            if KEY.fullmatch(literal):
                keys.add(literal)
            elif LETTERS.search(literal):
                found.append(f"string in an expression: {literal!r}")
    source = "".join(written)
    for allowed in NOT_TO_TRANSLATE:
        source = source.replace(allowed, " ")
    parser = _Text()
    parser.feed(source)
    parser.close()
    return parser.found + found, keys


def test_the_template_holds_no_words_and_its_keys_are_in_both_catalogs() -> None:
    words, keys = template_words_and_keys()
    assert words == []
    assert len(keys) == 11
    for lang in ("nl", "en"):
        messages = _catalog(lang)
        missing = [k for k in sorted(keys) if messages.gettext(k) == k]
        assert missing == [], lang
        for k in keys:
            names = {n for _, n, _, _ in string.Formatter().parse(messages.gettext(k)) if n}
            assert names == {n for _, n, _, _ in string.Formatter().parse(_catalog("nl").gettext(k))
                             if n}, (lang, k)


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text(json.dumps(rendered(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

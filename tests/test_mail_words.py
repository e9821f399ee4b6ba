"""The reminder, escalation and digest mails (notifiers/templates/*.j2) read their words from the
message catalog (mail.*), as the web pages do: the Dutch mails are byte for byte what they were
when their words were written in the templates, pinned here against tests/fixtures/mails_nl.json;
with PASSEND_LANGUAGE=en a mail is English throughout, the process definition's own labels
(a deadline's, a step's, a consent scope's) and the school's name apart, which are data.

The templates are read with Jinja's own lexer, as test_web_catalog reads the pages: their text
(the HTML's text nodes, or a text mail's lines) may hold no letters, and a string literal in an
expression only a catalog key (`t("mail.…")`), apart from the few words listed in NOT_TO_TRANSLATE.
Every key a template names is in both catalogs with the placeholders the template fills in, and
no key of these mails is left in the catalog that no template names.

The samples below cover what changes the text: a group or none, days left (several, one, none
today, past), what is missing or nothing, a meeting's calendar item or none, and a digest's four
lists empty and full; values with HTML's special characters show the escaping is unchanged.
To write the file anew after a deliberate change of the Dutch wording (and only then), run
`PYTHONPATH=. python -m tests.test_mail_words --write` and read the diff.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import sys
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.reminders_support import eml_files
from workflow.service_layer.reminders.messages import MISSING_PREFIX, _env, missing_item, render

from .catalog_support import placeholders, po_catalog

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "mails_nl.json"
URL = "https://passend.example"
TEMPLATES = Path(__file__).resolve().parents[1] / "notifiers" / "templates"
NOT_TO_TRANSLATE = ("passend case erase --due",)  # a command a person types, shown as written
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
KEY = re.compile(r"mail(\.[a-z_]+)+")
MAIL_KEYS = re.compile(r"mail\.(greeting|case|html_lang|reminder|escalation|digest)\b")


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


# ---- no words in the templates ------------------------------------------------------------------
class _Text(HTMLParser):
    """The text nodes of an HTML mail, and the attributes a person reads or hears."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"{tag}[{n}]: {v!r}" for n, v in attrs if n in ("alt", "title", "aria-label") and v
                       and LETTERS.search(v)]

    def handle_data(self, data: str) -> None:
        words = " ".join(data.split())
        if LETTERS.search(words):
            self.found.append(f"text: {words!r}")


def inline_words(source: str, html: bool) -> list[str]:
    """What a person would read in a mail template that does not come from the catalog."""
    text: list[str] = []
    found: list[str] = []
    for _, kind, value in _env().lex(source):
        if kind == "data":
            text.append(value)
        elif kind in ("variable_begin", "block_begin"):
            text.append(" ")  # an expression stands where its value will be
        elif kind == "string":
            literal = ast.literal_eval(value)
            if LETTERS.search(literal) and not KEY.fullmatch(literal) and literal not in NOT_TO_TRANSLATE:
                found.append(f"string in an expression: {literal!r}")
    written = "".join(text)
    for allowed in NOT_TO_TRANSLATE:
        written = written.replace(allowed, " ")
    if not html:
        return [f"text: {' '.join(written.split())!r}"] * bool(LETTERS.search(written)) + found
    parser = _Text()
    parser.feed(written)
    parser.close()
    return parser.found + found


TEMPLATE_NAMES = sorted(p.name for p in TEMPLATES.glob("*.j2"))


def test_the_nine_mail_templates_are_read() -> None:
    assert len(TEMPLATE_NAMES) == 9


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_a_mail_template_writes_no_words_of_its_own(name: str) -> None:
    found = inline_words((TEMPLATES / name).read_text(encoding="utf-8"), name.endswith(".html.j2"))
    assert found == [], "put these in passend.po (nl and en) as mail.<mail>.<what> and write t(...)"


def test_the_scan_finds_inline_words_where_they_are() -> None:
    """The scan itself: text, a word glued to a value, a literal with words and a spoken
    attribute are found; a key, markup, a command and punctuation are not."""
    html = ('<p title="Uitleg">{{ t("mail.greeting.ib") }}</p><p>Stand: {{ x }}</p>'
            '<p>{{ n }} dag{{ "en" if n != 1 }}</p><code>passend case erase --due</code> ({{ y }}):')
    assert inline_words(html, True) == ["p[title]: 'Uitleg'", "text: 'Stand:'", "text: 'dag'",
                                        "string in an expression: 'en'"]
    assert inline_words('{{ t("mail.digest.none") }}\n  - {{ a }} ({{ b }})\n', False) == []
    assert inline_words("Beste {{ who }},\n", False) == ["text: 'Beste ,'"]


# The data a mail may name: the case id, the school, the group, the deadline and its dates, the
# step, what is missing (the catalog's reasons); never a pupil's name, note, view or diagnosis.
DATA = frozenset({"case_id", "school", "group", "label", "due", "due_long", "days_left", "overdue_days",
                  "state_label", "missing", "meeting", "case_url", "day", "day_long", "base_url", "work_url",
                  "due_week", "overdue", "consent", "erasure", "t", "case_link"})
LINE_DATA = frozenset({"case_id", "school", "label", "due", "scopes", "closed"})  # a digest line's


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_a_mail_template_reads_no_data_but_the_case_id_school_deadline_and_what_is_missing(name: str) -> None:
    from jinja2 import meta, nodes

    tree = _env().parse((TEMPLATES / name).read_text(encoding="utf-8"))
    assert meta.find_undeclared_variables(tree) <= DATA
    assert {a.attr for a in tree.find_all(nodes.Getattr)} <= LINE_DATA


# ---- the keys -----------------------------------------------------------------------------------


def _key_uses() -> list[tuple[str, str, set[str]]]:
    """(template, key, the names it fills in) of every t(...) in the mail templates; a key
    chosen by an if-else (a plural) counts both keys."""
    from jinja2 import nodes

    uses = []
    for name in TEMPLATE_NAMES:
        tree = _env().parse((TEMPLATES / name).read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == "t"):
                continue
            (key,) = call.args
            keys = [key] if isinstance(key, nodes.Const) else [key.expr1, key.expr2]
            assert all(isinstance(k, nodes.Const) for k in keys), f"{name}: a key is written out"
            uses += [(name, k.value, {kw.key for kw in call.kwargs}) for k in keys]
    return uses


def test_every_key_a_mail_template_names_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _key_uses()
    assert len({key for _, key, _ in uses}) > 40
    for lang in ("nl", "en"):
        catalog = po_catalog(lang)
        for name, key, names in uses:
            assert key in catalog, f"{name}: {key} is not in the {lang} catalog"
            assert placeholders(catalog[key]) == names, f"{name}: {key} ({lang}) fills {sorted(names)}"


def test_no_mail_key_is_left_that_no_template_names() -> None:
    used = {key for _, key, _ in _key_uses()}
    kept = {k for k in po_catalog("nl") if MAIL_KEYS.match(k) and not k.startswith("mail.reminder.ics.")}
    assert kept - used == set()


# ---- in English ---------------------------------------------------------------------------------
def _dutch_words(keys: set[str]) -> list[str]:
    """The Dutch catalog's own words of `keys` (each text's pieces between its placeholders),
    those the English text does not hold as well ("passend", a colon)."""
    nl, en = po_catalog("nl"), po_catalog("en")
    out = []
    for key in keys:
        for piece in re.split(r"\{[a-z_]+\}|\n", nl[key]):
            piece = piece.strip(" ,.:()")
            if len(piece) >= 4 and LETTERS.search(piece) and piece not in en[key]:
                out.append(piece)
    return out


def _parts(mail: EmailMessage) -> tuple[str, str, str]:
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    return str(mail["Subject"]).strip(), text.get_content(), html.get_content()  # a long one is folded


def test_with_passend_language_en_a_reminder_and_a_digest_read_in_english(
        config_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mails `serve --once` sends, with the language set to English: the template's words,
    the dates and the reasons what is missing are English; no Dutch word of the catalog's
    mail.* entries is left. (The definition's labels, such as the deadline's "OPP vaststellen",
    are the definition's own, in Dutch, as on the English web pages.)"""
    from tests.audit_support import IB, clocked_engine
    from tests.engine_support import walk_to_niveau_4

    engine, _ = clocked_engine(config_path, dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC))
    cid = walk_to_niveau_4(engine)
    engine.fire(cid, "start_opp", actor=IB)
    engine.db.dispose()
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    r = cli("serve", "--once", "--now", "2026-10-08T12:00")  # the OPP term (13 October) this week
    assert r.code == 0, r.err
    mails = [_parts(m) for m in eml_files(config_path.parent / "var" / "outbox")]
    (reminder,) = [m for m in mails if m[0].startswith("[passend] Reminder: ") and "OPP" in m[0]]
    (digest,) = [m for m in mails if m[0].startswith("[passend] Overview 08-10-2026: ")]
    subject, text, html = reminder
    assert subject.startswith("[passend] Reminder: OPP vaststellen")
    assert subject.endswith(f" for case {cid} due 13-10-2026")
    assert text.startswith("Dear internal coordinator,\n\n"
                           f"This is a reminder from passend for case {cid} (OBS De Linde).\n")
    assert "\nDue:       Tuesday 13 October 2026 (5 days left)\n" in text
    assert "\nStill missing:\n  - No OOGO-gesprek met de ouders has been recorded since the step" in text
    assert '<html lang="en">' in html
    assert '<th align="left">Due</th><td>Tuesday 13 October 2026 (5 days left)</td>' in html
    subject, text, html = digest
    assert subject == "[passend] Overview 08-10-2026: 1 this week, 0 overdue, 0 awaiting consent"
    assert text.startswith("Dear internal coordinator,\n\nThe overview from passend for Thursday 8 October 2026.\n")
    assert f"\nTo complete this week:\n  - {cid} (OBS De Linde): OPP vaststellen" in text
    assert ", due 13-10-2026\n\nDeadline passed:\n  (none)\n" in text
    assert "\nRetention period over (erase the data with passend case erase --due):\n  (none)\n" in text
    assert "<p>Erase the data with <code>passend case erase --due</code>.</p>" in html
    dutch = _dutch_words({key for _, key, _ in _key_uses()})
    assert "Wat nog ontbreekt" in dutch and "uiterlijk" in dutch
    label = re.findall(r"\nDeadline:  (.+)\n", reminder[1])[0]  # the definition's: "… (uiterlijk 6 weken …)"
    for subject, text, html in (reminder, digest):
        read = (subject + text + html).replace(label, "")
        left = [w for w in dutch if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", read)]
        assert left == [], left
    # and in Dutch, the same mails read as before
    monkeypatch.delenv("PASSEND_LANGUAGE")
    assert render("digest", DIGESTS["empty"])[1].startswith("Beste intern begeleider,\n")


def test_an_escalation_reads_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    subject, text, html = render("escalation", CASES["overdue_1_day"])
    assert subject == "[passend] Deadline passed: OPP vaststellen for case C-2026-0007 (due 13-10-2026)"
    assert text.startswith('Dear head teacher,\n\nThe deadline "OPP vaststellen" for case C-2026-0007 '
                           "(OBS De Linde, group 5)\nhas passed: it ran out on dinsdag 13 oktober 2026, 1 day ago.\n")
    assert "<p>The deadline <strong>OPP vaststellen</strong> for case <strong>C-2026-0007</strong> " \
           "(OBS De Linde, group 5) has passed: " in html  # the text mail's line breaks are spaces here
    assert "\nStill missing:\n  - overleg (kind=oogo)\n" in text


# ---- "ontbreekt: " ------------------------------------------------------------------------------
def test_the_missing_prefix_comes_only_with_a_definitions_own_wording() -> None:
    """missing_item drops a leading "ontbreekt: " under the heading that says it already. No
    text of the catalog begins with it, or with its English, in either language: a reason the
    catalog words reads the same in the list as elsewhere. What may begin with it is a process
    definition's own wording of a guard (`message`), Dutch whichever language is set, so the
    Dutch prefix is the one to drop in an English mail too."""
    for lang, word in (("nl", MISSING_PREFIX), ("en", "missing: ")):
        starts = [k for k, v in po_catalog(lang).items() if v.lower().startswith((MISSING_PREFIX, word))]
        assert starts == [], (lang, starts)
    from workflow.domain.reasons import Reason
    from workflow.messages import render as render_reason

    own = Reason("evidence_missing", {"kind": "meeting", "message": "ontbreekt: het OOGO-gesprek"})
    assert missing_item(render_reason(own, None, "en")) == "het OOGO-gesprek"
    assert missing_item("ontbreekt nog iets") == "ontbreekt nog iets"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.write_text(json.dumps(rendered(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

"""The words a person reads from the service layer (the parent portal, the mails, the caseload's
labels, the audit reports) come from the message catalog, never from a string written in the
code: test_service_messages holds its errors to that, this file everything else it says.

What the scan covers: every module of workflow/service_layer, read with Python's own parser. It
finds a string literal that holds words (two runs of letters with a space between, or one
capitalised word such as "Binnenkort"), and an f-string whose written parts hold words or a
word right before or after a value ("Niveau {n}", "{n} regels", "Stap gezet: {x}"). Not
counted: docstrings; the key given to text(...) (the catalog's own call; the values it fills in
are judged); `__all__`;
type annotations written as strings; and what an exception is made with or a raise holds, which
test_service_messages scans with its own allowances. Every other hit is text that belongs in the
catalog, unless it is data, allowed by name below with why no person reads it as text (it is
stored, hashed or compared, SQL, an id). What it cannot see: words glued from pieces with no
space beside a value, words held in another package (the timeline's HTML template in
audit/templates, which test_timeline_words scans) or built in another module; review keeps those. The mail templates in
notifiers/templates, which the reminders' messages module renders with the catalog's `t`, have
their own scan in test_mail_words.

Beside the scan: the new keys keep their placeholders (test_service_messages reads every key the
service layer writes), and English mode is shown on a parent-portal label, the parent's timeline
and the witness mail, which reads back the same record in either language.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.catalog_support import call_name
from tests.test_service_messages import SERVICE_LAYER, _exception_names, _modules

WORDS = re.compile(r"[^\W\d_]+\s+[^\W\d_]+", re.UNICODE)
CAPITALISED = re.compile(r"[^\W\d_a-z][^\W\d_A-Z]+", re.UNICODE)  # "Binnenkort", not "OPP" or "x"
WORD_BEFORE_VALUE = re.compile(r"[^\W\d_]{2,}\s+$", re.UNICODE)  # "Niveau {n}"
WORD_AFTER_VALUE = re.compile(r"^\s+[^\W\d_]{2,}", re.UNICODE)  # "{n} regels"
TEXT_CALLS = frozenset({"text"})

# (file under workflow/service_layer, the start of the literal): why it is data, not text.
DATA = {
    ("access.py", "begeleiding leerling"):
        "an access record's purpose (NEN 7513): stored in the hash-chained access log",
    ("access.py", "verantwoording en toezicht"):
        "an access record's purpose: stored in the hash-chained access log",
    ("access.py", "bewaartermijn verstreken"):
        "an access record's purpose: stored in the hash-chained access log",
    ("parent_portal.py", "inzage door ouder"):
        "the purpose of the parent's access record: stored in the hash-chained access log",
    ("witness/record.py", "-----BEGIN PASSEND WITNESS-----"):
        "the marker line around the record in a witness mail, read back by `audit verify --witness`",
    ("witness/record.py", "-----END PASSEND WITNESS-----"): "the marker line after the record",
    ("reminders/digest.py", "PRAGMA journal_mode"): "SQL",
    ("reminders/digest.py", "INSERT INTO"): "SQL",
    ("reminders/digest.py", "SELECT "): "SQL",
    ("reminders/digest.py", "<digest section"): "a repr, for a developer",
    ("reminders/dispatcher.py", "{type(exc).__name__} in "):
        "the error stored on an outbox row when a notifier breaks: a class and a notifier's name",
    ("audit/replay.py", "record "):
        "a replay finding's `step`: the command and the evidence kind's id (`record consent`), as ids",
    ("audit/timeline.py", "reden sluiten"):
        "a key of a timeline entry's `fields` in the JSON (readers and tests look it up by name)",
    ("audit/timeline.py", "doel {i} ("): "a key of a timeline entry's `fields` in the JSON",
    ("audit/timeline.py", "doel {g.get('goal')}"): "a key of a timeline entry's `fields` in the JSON",
    ("audit/timeline.py", "hash handelingsdeel"): "a key of a timeline entry's `fields` in the JSON",
    ("audit/timeline.py", "met ouders"): "a key of a timeline entry's `fields` in the JSON",
    ("audit/timeline.py", "OPP vastgesteld op"): "a key of a timeline entry's `fields` in the JSON",
    ("audit/timeline.py", "toestemming voor"): "a key of a timeline entry's `fields` in the JSON",
    ("audit/timeline.py", "hash van de tekst"): "a key of a timeline entry's `fields` in the JSON",
}


def _skipped(tree: ast.Module, exceptions: set[str]) -> set[int]:
    """The nodes the scan does not judge (see the module's docstring)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        held: list[ast.AST] = []
        if isinstance(node, ast.Call) and call_name(node.func) in exceptions:
            held.append(node)
        elif isinstance(node, ast.Call) and call_name(node.func) in (*TEXT_CALLS, "cast") and node.args:
            held.append(node.args[0])  # the key (its values are judged), or cast's type
        elif isinstance(node, ast.Raise) and node.exc is not None:
            held.append(node.exc)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            held.append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.arg) and node.annotation is not None:
            held.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            held.append(node.returns)
        for h in held:
            skip.update(id(n) for n in ast.walk(h))
    return skip


def _worded(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(WORDS.search(node.value) or CAPITALISED.fullmatch(node.value.strip()))
    if isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        return any(WORDS.search(p) or WORD_BEFORE_VALUE.search(p) or WORD_AFTER_VALUE.search(p) for p in parts)
    return False


def written_words(source: str, exceptions: set[str]) -> Iterator[tuple[int, str]]:
    """(line, the literal as written) of every string with words in `source` the scan judges."""
    tree = ast.parse(source)
    skip = _skipped(tree, exceptions)
    for node in ast.walk(tree):
        if id(node) in skip or not _worded(node):
            continue
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)  # judged as one
            yield node.lineno, ast.unparse(node)[2:-1]
        else:
            assert isinstance(node, ast.Constant)
            yield node.lineno, str(node.value)


def _hits() -> Iterator[tuple[str, int, str]]:
    for path, module in _modules():
        names = _exception_names(importlib.import_module(module))
        where = path.relative_to(SERVICE_LAYER).as_posix()
        for line, words in written_words(path.read_text(encoding="utf-8"), names):
            yield where, line, words


def _data(where: str, words: str) -> tuple[str, str] | None:
    return next(((w, s) for w, s in DATA if w == where and words.startswith(s)), None)


def test_the_service_layer_writes_no_words_of_its_own() -> None:
    found = [f"workflow/service_layer/{where}:{line}: {words!r}" for where, line, words in _hits()
             if _data(where, words) is None]
    assert found == [], "put these in passend.po (nl and en) and read them with text(key, ...)"


def test_every_data_allowance_is_still_needed() -> None:
    used = {_data(where, words) for where, _, words in _hits()}
    assert set(DATA) <= used, sorted(set(DATA) - used)


def test_the_scan_finds_written_words_where_they_are() -> None:
    """The scan itself: a label, a capitalised word, an f-string with words or a word beside a
    value, words given to text(...) to fill in are found; a key, an id, a docstring, an
    exception's message (the other scan's), `__all__` and a string annotation are not."""
    source = '''
"""A docstring with words."""
__all__ = ["Action", "Mark"]
LABELS = {"overdue": "Te laat", "soon": "Binnenkort", "ok": "svc.worklist.choice.ok"}
def f(n: "Case", x) -> "Case":
    """Its docstring too."""
    a = f"Niveau {n}"
    b = f"{n} regels"
    c = f"Stap gezet: {x}"
    d = f"witness:{n}:{x}"
    e = text("svc.a", what=f"{n} dingen")
    g = "case_opened"
    h = BadInput("kies een besluit")
    raise fail("digest", "must be true or false")
    i = "OPP"
    j = f"{n}@{x}"
'''
    found = [line for line, _ in written_words(source, {"BadInput"})]
    assert found == [4, 4, 7, 8, 9, 11]


# ---- English --------------------------------------------------------------------------------
@pytest.fixture
def parent_case(tmp_path: Path, db_url: str) -> Iterator[tuple[Any, Any, str]]:
    from tests.opp_support import draft_full, to_concept, v2_engine
    from tests.test_parents import signed_in

    engine, clock = v2_engine(tmp_path, db_url)
    cid = to_concept(engine, clock)
    draft_full(engine, cid)
    _pid, session = signed_in(engine, cid)
    yield engine, session, cid
    engine.db.dispose()


def test_the_parent_page_reads_in_english_when_english_is_set(
        monkeypatch: pytest.MonkeyPatch, parent_case: tuple[Any, Any, str]) -> None:
    """The consent's status and the timeline's sentences, Dutch by default and English when set;
    the parent's own record is in the timeline in either language, with its labels, no more."""
    from workflow.service_layer import parent_portal

    engine, session, cid = parent_case
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    page = parent_portal.overview(engine, session, cid)
    assert page["request"]["status_label"] == "nog geen besluit"
    assert page["timeline"][-1]["what"] == "De school begon met extra aandacht voor uw kind."
    parent_portal.decide(engine, session, cid, status="granted", shown_hash=page["request"]["hash"])
    dutch = parent_portal.overview(engine, session, cid)
    assert dutch["request"]["status_label"] == "toestemming gegeven"
    assert dutch["timeline"][0]["what"].endswith(" vastgelegd door u of de andere ouder")
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = parent_portal.overview(engine, session, cid)
    assert english["request"]["status_label"] == "consent given"
    assert english["timeline"][-1]["what"] == "The school started giving your child extra attention."
    assert english["timeline"][0]["what"].endswith(" recorded by you or the other parent")
    assert english["timeline"][0]["details"] == dutch["timeline"][0]["details"]  # the record itself
    steps = [e["what"] for e in english["timeline"] if e["what"].startswith("Step taken: ")]
    assert steps and all(w.endswith(".") for w in steps)


def test_the_witness_mail_reads_in_english_and_holds_the_same_record(monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow.adapters.ports import WitnessRoot
    from workflow.service_layer.witness import record
    from workflow.service_layer.witness.roots import mail_rows
    from workflow.service_layer.witness.settings import WitnessSettings

    root = WitnessRoot(day=dt.date(2026, 10, 5), at=dt.datetime(2026, 10, 5, 16, tzinfo=dt.UTC), tree="rfc6962-sha256",
                       root="a" * 64, cases=3, events=12, access_records=4, access_head="b" * 64)
    settings = WitnessSettings(to=("getuige@example.nl",))
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    dutch = mail_rows(root, settings, "example.nl")[0]
    assert dutch["subject"] == "[passend] Controlewaarde van 2026-10-05"
    assert "controlewaarde van passend van maandag 5 oktober 2026:" in dutch["body_text"]
    assert "Inzagelog:   4 regels, laatste hash " + "b" * 64 in dutch["body_text"]
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = mail_rows(root, settings, "example.nl")[0]
    assert english["subject"] == "[passend] Check value of 2026-10-05"
    assert english["body_text"].startswith("Dear auditor,\n")
    assert "check value of Monday 5 October 2026:" in english["body_text"]
    assert "Access log:  4 lines, last hash " + "b" * 64 in english["body_text"]
    assert english["key"] == dutch["key"] and english["message_id"] == dutch["message_id"]
    assert record.from_text(english["body_text"]) == record.from_text(dutch["body_text"]) == [record.as_record(root)]

"""The domain's one-line errors come from the message catalog (`dom.*` keys), never as inline
Dutch or English: an evidence record's problems (workflow/domain/evidence.py), a step's choices
and a case without its opening (case.py), and an OPP's content (opp.py's check_content; its
loader, parse_opp, says `def.*` keys and is test_definition_messages' to scan). A person reads
them in plain Dutch, in English with `PASSEND_LANGUAGE=en`.

The scan reads the files with Python's own parser. A problem is inline when a string literal, an
f-string or strings glued with + or % (or a "...".format(...)) is what a domain error is made
with (`BadInput(...)` and the others), what evidence.py's `_bad(kind, problem, ...)` is given as
its problem or its `_Unfit(problem)` carries, or a field's problem in `fields={...}`. What it
cannot see: a problem built in a variable first; review keeps those out.

An evidence record's line names its kind by its label ("handelingsplan: ..."): the label is the
definition's (Dutch, as a process definition writes it), so it is a value of the line
(`dom.evidence.problem`, "{kind}: {problem}"), and the problem itself is a key of its own, which
a form shows next to its field as a sentence ("Het einde moet na het begin liggen.").
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workflow.messages  # noqa: F401  (installs the catalog as the renderer of Said)
from workflow.domain import errors as domain_errors
from workflow.domain import opp
from workflow.domain.case import Case, check_params
from workflow.domain.definition import load_definition
from workflow.domain.errors import BadInput, NotFound, PassendError
from workflow.domain.evidence import parse_date, validate

from .catalog_support import call_name, in_both_catalogs, is_str, po_catalog
from .conftest import write_config
from .engine_support import DEFAULT

REPO = Path(__file__).resolve().parents[1]
STATES = REPO / "states"
PREFIX = "dom."

# file -> the functions the scan leaves out (parse_opp says def.* keys: test_definition_messages).
SCOPE: dict[str, frozenset[str]] = {
    "workflow/domain/evidence.py": frozenset(),
    "workflow/domain/case.py": frozenset(),
    "workflow/domain/opp.py": frozenset({"parse_opp"}),
}
# A helper that builds an error from a problem, and where its problem is: (positional index, keyword).
HELPERS: dict[str, tuple[int, str]] = {"_bad": (1, "problem"), "_Unfit": (0, "problem")}


def _exception_names() -> set[str]:
    return {n for n, v in vars(domain_errors).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _scanned(tree: ast.Module, skip: frozenset[str]) -> list[ast.AST]:
    """The nodes of `tree`, without the functions named in `skip` (each must be there)."""
    skipped: set[str] = set()
    nodes: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in skip:
            skipped.add(node.name)
            continue
        nodes.append(node)
        todo.extend(ast.iter_child_nodes(node))
    assert skipped == skip, "a function SCOPE leaves out is gone: update SCOPE"
    return nodes


def inline_problems(source: str, skip: frozenset[str] = frozenset()) -> list[tuple[int, str, str]]:
    """(line, the call's name, the inline problem) of every problem written into `source`."""
    exceptions = _exception_names()
    found: list[tuple[int, str, str]] = []
    for node in _scanned(ast.parse(source), skip):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node.func)
        if name in exceptions:
            args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "message")]
        elif name in HELPERS:
            index, keyword = HELPERS[name]
            args = [*node.args[index:index + 1], *(k.value for k in node.keywords if k.arg == keyword)]
        else:  # a Fact's fields={...} are data, not problems
            continue
        for k in node.keywords:  # an error's fields={name: problem}, a dict or a comprehension
            if k.arg == "fields":
                if isinstance(k.value, ast.Dict):
                    args += [v for v in k.value.values if v is not None]
                elif isinstance(k.value, ast.DictComp):
                    args.append(k.value.value)
        found += [(node.lineno, str(name), ast.unparse(a)) for a in args if is_str(a)]
    return sorted(set(found))


def test_the_domain_writes_no_problem_of_its_own() -> None:
    found = []
    for file, skip in SCOPE.items():
        for line, name, problem in inline_problems((REPO / file).read_text(encoding="utf-8"), skip):
            found.append(f"{file}:{line}: {name}(... {problem})")
    assert found == [], f"put these in passend.po (nl and en) as {PREFIX}<what> and raise Said(...)"


def test_the_scan_finds_inline_problems_where_they_are() -> None:
    source = '''
def check(d, what, p, name, why):
    raise BadInput(f"{what}: onbekend veld '{name}'")
    raise NotFound("casus heeft geen openingsgebeurtenis")
    raise _bad("handelingsplan", "het einde moet na het begin liggen", "end")
    raise _Unfit("mag niet leeg zijn")
    raise BadInput(Said("dom.x"), fields={"end": "Vul het in."})
    raise BadInput(Said("dom.x"), fields={n: "verplicht" for n in p})
    raise BadInput("OPP: %s" % p)
    raise BadInput(message="{} is fout".format(p))
    raise BadInput(Said("dom.evidence.problem", kind=what, problem=why))
    raise _bad(what, Said("dom.evidence.plan.end_before_start"), "end")
    raise _Unfit(Said("dom.evidence.value.empty"))
    raise BadInput(why, fields={n: REQUIRED for n in p})
    return Fact(kind="x", fields={"subject": "opp"})


def parse_opp(fail):
    raise BadInput("not read: left out")
'''
    found = [(line, name) for line, name, _ in inline_problems(source, frozenset({"parse_opp"}))]
    assert found == [(3, "BadInput"), (4, "NotFound"), (5, "_bad"), (6, "_Unfit"), (7, "BadInput"),
                     (8, "BadInput"), (9, "BadInput"), (10, "BadInput")]
    assert (19, "BadInput") in [(line, name) for line, name, _ in inline_problems(source)]


# ---- the keys --------------------------------------------------------------------------------


def _said_keys() -> list[tuple[str, str, set[str]]]:
    """(where, key, the names it fills in) of every Said("...") in SCOPE's files."""
    uses = []
    for file, skip in SCOPE.items():
        for node in _scanned(ast.parse((REPO / file).read_text(encoding="utf-8")), skip):
            if isinstance(node, ast.Call) and call_name(node.func) == "Said" and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                uses.append((f"{file}:{node.lineno}", node.args[0].value, {str(k.arg) for k in node.keywords}))
    return uses


def test_every_key_the_domain_says_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _said_keys()
    assert len({key for _, key, _ in uses}) > 40  # the scan sees the code
    for where, key, names in uses:
        assert key.startswith(PREFIX), f"{where}: {key}"
        in_both_catalogs(where, key, names)


def test_no_dom_entry_is_left_unused() -> None:
    used = {key for _, key, _ in _said_keys()}
    for lang in ("nl", "en"):
        assert [k for k in po_catalog(lang) if k.startswith(PREFIX) and k not in used] == [], lang


# ---- the language ----------------------------------------------------------------------------
TODAY = dt.date(2026, 3, 2)
SCOPES = ("opp_handelingsdeel", "gegevensdeling_swv")


def _both(monkeypatch: pytest.MonkeyPatch, read: Callable[[], Any]) -> tuple[Any, Any]:
    """The same error read in Dutch (the default) and in English: a Said is rendered each time
    it is read, in the language in force then."""
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    dutch = read()
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = read()
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    return dutch, english


def _refused(call: Callable[[], Any]) -> PassendError:
    with pytest.raises(PassendError) as err:
        call()
    return err.value


def _record(kind: str, values: dict[str, Any], **context: Any) -> BadInput:
    err = _refused(lambda: validate(kind, values, today=TODAY, consent_scopes=SCOPES, **context))
    assert type(err) is BadInput and err.exit_code == 2
    return err


PLAN = {"start": "2026-01-05", "end": "2026-03-01", "goals": "lezen", "who": "rt", "frequency": "2x"}


def test_a_records_check_reads_as_one_line_and_per_field(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _record("plan", {**PLAN, "end": "2026-01-01"})
    assert _both(monkeypatch, lambda: (err.message, err.fields)) == (
        ("handelingsplan: het einde moet na het begin liggen", {"end": "Het einde moet na het begin liggen."}),
        ("handelingsplan: the end must be after the start", {"end": "The end must be after the start."}),
    )
    err = _record("view", {"party": "ouders"})
    dutch, english = _both(monkeypatch, lambda: (err.message, err.fields))
    assert dutch[0] == ("mening: vul precies een van beide in: de mening in eigen woorden, of de reden waarom "
                        "die niet gehoord kon worden")
    assert english[0].startswith("mening: fill in exactly one of the two: the view in their own words")
    assert set(dutch[1]) == {"text", "reason_not_heard"} and dutch[1]["text"].startswith("Vul precies een")
    assert english[1]["reason_not_heard"].startswith("Fill in exactly one") and english[1]["text"].endswith(".")


def test_a_bad_value_names_kind_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _record("plan", {**PLAN, "start": "2026-13-10"})
    assert _both(monkeypatch, lambda: (err.message, err.fields["start"])) == (
        ("handelingsplan: begin: '2026-13-10' is geen datum (verwacht JJJJ-MM-DD)",
         "'2026-13-10' is geen datum (verwacht JJJJ-MM-DD)."),
        ("handelingsplan: begin: '2026-13-10' is not a date (expected YYYY-MM-DD)",
         "'2026-13-10' is not a date (expected YYYY-MM-DD)."),
    )
    err = _record("evaluation", {"outcome": "goed", "with_parents": "misschien", "plan": "0"})
    assert _both(monkeypatch, lambda: (err.message, err.fields)) == (
        ("evaluatie: uitkomst: 'goed' is niet toegestaan (kies uit: voldoende, onvoldoende)",
         {"outcome": "'goed' is niet toegestaan (kies uit: voldoende, onvoldoende).",
          "plan": "Moet 1 of hoger zijn.", "with_parents": "'misschien' is geen ja/nee-waarde."}),
        ("evaluatie: uitkomst: 'goed' is not allowed (choose from: voldoende, onvoldoende)",
         {"outcome": "'goed' is not allowed (choose from: voldoende, onvoldoende).",
          "plan": "Must be 1 or higher.", "with_parents": "'misschien' is not a yes/no value."}),
    )
    assert _both(monkeypatch, lambda: _refused(lambda: parse_date("morgen", "--registered-on")).message) == (
        "--registered-on: 'morgen' is geen datum (verwacht JJJJ-MM-DD)",
        "--registered-on: 'morgen' is not a date (expected YYYY-MM-DD)")


def test_every_lacking_field_at_once_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _record("plan", {"start": "2026-01-05", "end": "2026-03-01"})
    assert _both(monkeypatch, lambda: (err.message, err.fields["who"])) == (
        ("handelingsplan: nog niet ingevuld: doelen, wie helpt en hoe vaak", "Dit is verplicht. Vul het in."),
        ("handelingsplan: not filled in yet: doelen, wie helpt and hoe vaak", "This is required. Fill it in."),
    )
    err = _record("consent", {"scope": "gegevensdeling_swv", "status": "granted", "by": "m", "purpose": "x"},
                  sharing_scopes=("gegevensdeling_swv",))
    assert _both(monkeypatch, lambda: err.message) == (
        "toestemming: gegevensdeling vraagt ook ontvanger en grondslag (aan wie, op welke grondslag, met welk doel)",
        "toestemming: sharing data also needs ontvanger and grondslag (to whom, on what legal basis, "
        "for what purpose)")


@pytest.mark.parametrize(("kind", "values", "context", "dutch", "english"), [
    ("huisbezoek", {}, {}, "onbekende soort bewijs 'huisbezoek' (kies uit: signal, plan, ",
     "unknown kind of evidence 'huisbezoek' (choose from: signal, plan, "),
    ("signal", {"area": "lezen", "note": "x", "kleur": "rood"}, {},
     "signalering: onbekend veld 'kleur' (velden: date, area, note)",
     "signalering: unknown field 'kleur' (fields: date, area, note)"),
    ("signal", {"area": "lezen", "note": "x", "date": "2026-03-03"}, {},
     "signalering: datum 2026-03-03 ligt in de toekomst", "signalering: date 2026-03-03 is in the future"),
    ("evaluation", {"outcome": "voldoende"}, {}, "evaluatie: er is nog geen plan vastgelegd om te evalueren",
     "evaluatie: no plan has been recorded yet to evaluate"),
    ("evaluation", {"outcome": "voldoende", "plan": "2"},
     {"plans": lambda: [(1, dt.date(2026, 1, 5), dt.date(2026, 3, 1))]},
     "evaluatie: er is geen plan met nummer 2", "evaluatie: there is no plan with number 2"),
    ("evaluation", {"outcome": "voldoende", "date": "2026-01-02"},
     {"plans": lambda: [(1, dt.date(2026, 1, 5), dt.date(2026, 3, 1))]},
     "evaluatie: datum 2026-01-02 ligt voor de start van plan #1 (2026-01-05)",
     "evaluatie: date 2026-01-02 is before the start of plan #1 (2026-01-05)"),
    ("meeting", {"kind": "bot", "participants": "x"}, {},
     "overleg: een BOT-overleg heeft een uitkomst (advies, arrangement, tlv)",
     "overleg: a BOT meeting has an outcome (advies, arrangement, tlv)"),
    ("consent", {"scope": "opp_handelingsdeel", "status": "granted", "by": "m"}, {"opp_scope": "opp_handelingsdeel"},
     "toestemming: er is nog geen OPP-versie om toestemming voor te geven; leg eerst een versie vast "
     "(passend opp draft)",
     "toestemming: there is no OPP version to consent to yet; record a version first (passend opp draft)"),
    ("consent", {"scope": "opp_handelingsdeel", "status": "granted", "by": "m", "opp_version": "3"},
     {"opp_scope": "opp_handelingsdeel", "opp_versions": lambda: [(1, "a", "b"), (2, "c", "d")]},
     "toestemming: er is geen OPP-versie 3 (versies: 1, 2)", "toestemming: there is no OPP version 3 (versions: 1, 2)"),
])
def test_a_record_reads_in_dutch_and_in_english(monkeypatch: pytest.MonkeyPatch, kind: str, values: dict[str, Any],
                                                context: dict[str, Any], dutch: str, english: str) -> None:
    err = _record(kind, values, **context)
    got = _both(monkeypatch, lambda: err.message)
    assert got[0].startswith(dutch) and got[1].startswith(english), got


def test_a_steps_choices_and_a_case_without_its_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    d = load_definition(DEFAULT)
    err = _refused(lambda: check_params(d, "vlieg", {}))
    assert type(err) is NotFound and err.exit_code == 2
    dutch, english = _both(monkeypatch, lambda: err.message)
    assert dutch.startswith("onbekende stap 'vlieg' (bekend: escalate, ")
    assert english.startswith("unknown step 'vlieg' (known: escalate, ")
    err = _refused(lambda: check_params(d, "close", {}))
    assert _both(monkeypatch, lambda: err.message) == (
        "Afsluiten: kies ook de reden (tlv, verhuisd, schoolverlater, niet_meer_nodig)",
        "Afsluiten: also choose de reden (tlv, verhuisd, schoolverlater, niet_meer_nodig)")
    err = _refused(lambda: check_params(d, "close", {"reason": "xx"}))
    assert _both(monkeypatch, lambda: err.message) == (
        "Afsluiten: de reden 'xx' is niet toegestaan (kies uit: tlv, verhuisd, schoolverlater, niet_meer_nodig)",
        "Afsluiten: de reden 'xx' is not allowed (choose from: tlv, verhuisd, schoolverlater, niet_meer_nodig)")
    err = _refused(lambda: check_params(d, "close", {"kleur": "rood"}))
    assert _both(monkeypatch, lambda: err.message) == ("Afsluiten: onbekende keuze 'kleur'",
                                                       "Afsluiten: unknown choice 'kleur'")
    err = _refused(lambda: Case.from_events([]))
    assert type(err) is NotFound
    assert _both(monkeypatch, lambda: err.message) == ("casus heeft geen openingsgebeurtenis",
                                                       "case has no opening event")


@pytest.mark.parametrize(("content", "dutch", "english"), [
    (opp.OppContent(uitstroombestemming="mavo_x"), "OPP: uitstroombestemming 'mavo_x' is niet toegestaan (kies uit: ",
     "OPP: expected destination 'mavo_x' is not allowed (choose from: "),
    (opp.OppContent(texts={"needs": " "}), "OPP: de onderwijsbehoeften mag niet leeg zijn",
     "OPP: de onderwijsbehoeften must not be empty"),
    (opp.OppContent(texts={"support": "x" * 20_001}),
     "OPP: de ondersteuning en begeleiding (handelingsdeel) is te lang (meer dan 20000 tekens)",
     "OPP: de ondersteuning en begeleiding (handelingsdeel) is too long (more than 20000 characters)"),
    (opp.OppContent(goals=[("kleuren", "x")]), "OPP: doel: gebied 'kleuren' is niet toegestaan (kies uit: lezen, ",
     "OPP: goal: area 'kleuren' is not allowed (choose from: lezen, "),
    (opp.OppContent(goals=[("lezen", "")]), "OPP: een doel heeft een tekst van 1 tot 20000 tekens",
     "OPP: a goal has a text of 1 to 20000 characters"),
    (opp.OppContent(evaluation_moments=[dt.date(2026, 5, 1)] * 2), "OPP: een evaluatiemoment staat er twee keer in",
     "OPP: an evaluation moment is listed twice"),
    (opp.OppContent(goals=[("lezen", "x")] * 41), "OPP: hooguit 40 doelen", "OPP: at most 40 goals"),
])
def test_an_opps_content_reads_in_dutch_and_in_english(
        monkeypatch: pytest.MonkeyPatch, content: opp.OppContent, dutch: str, english: str) -> None:
    spec = load_definition(STATES / "passend_po_v2.toml").opp
    assert spec is not None
    err = _refused(lambda: opp.check_content(spec, content))
    assert type(err) is BadInput
    got = _both(monkeypatch, lambda: err.message)
    assert got[0].startswith(dutch) and got[1].startswith(english), got


# ---- through the command line ----------------------------------------------------------------
def _passend(cfg: Path, *args: str, language: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PASSEND_LANGUAGE"}
    env["PYTHONPATH"] = str(REPO)
    if language:
        env["PASSEND_LANGUAGE"] = language
    return subprocess.run([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow  # four real passend processes
def test_the_cli_prints_an_evidence_problem_as_one_dutch_line_with_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    """A real `passend` process (README: exit 2 for bad input): the line is the catalog's
    sentence, never its key, and nothing else is printed."""
    cfg = write_config(tmp_path, sqlite_url)
    assert _passend(cfg, "init").returncode == 0
    opened = _passend(cfg, "case", "open", "--pupil", "LL-1001", "--school", "de-linde", "--group", "5",
                      "--actor", "ib.jansen")
    assert opened.returncode == 0, opened.stderr
    case_id = opened.stdout.split()[0]
    args = ("record", "plan", case_id, "--start", "2026-01-10", "--end", "2026-01-01", "--goals", "g",
            "--who", "w", "--frequency", "f", "--actor", "ib.jansen")
    r = _passend(cfg, *args)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "passend: handelingsplan: het einde moet na het begin liggen\n"
    r = _passend(cfg, *args, language="en")
    assert (r.returncode, r.stderr) == (2, "passend: handelingsplan: the end must be after the start\n")


def test_the_cli_says_a_sentence_even_when_nothing_loaded_the_catalog() -> None:
    """The error handler loads the catalog itself: an error said as a key, met before anything
    imported workflow.messages, still prints its sentence."""
    code = ("import sys; from workflow.domain.errors import BadInput, Said; "
            "from workflow.entrypoints.cli.app import handle; "
            "assert 'workflow.messages' not in sys.modules; "
            "sys.exit(handle(BadInput(Said('dom.case.no_opening_event'))))")
    env = {**{k: v for k, v in os.environ.items() if k != "PASSEND_LANGUAGE"}, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert (r.returncode, r.stderr) == (2, "passend: casus heeft geen openingsgebeurtenis\n")

"""The definition loader's parts (guards, declared evidence kinds, deadlines) say what is wrong
with a definition from the message catalog (`def.guard.*`, `def.kind.*`, `def.deadline.*` and
the loader's generic `def.*` keys), never as inline English: a functional maintainer reads it in
plain Dutch, or in English with `PASSEND_LANGUAGE=en`.

The scan reads workflow/domain/guards.py, kinds.py and deadline_defs.py with Python's own parser.
A problem is inline when the problem given to `fail(key, problem)` / `ctx.fail(key, problem)` is
a string literal, an f-string, strings glued with + or %, or a module constant holding one; or
when a DefinitionError or ConfigError is made with one. What the scan cannot see (a message
built in a variable first) review keeps out. The keys the parts use are in both catalogs with the
placeholders the code fills in, and no entry of their own prefixes is left that nothing uses.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import workflow.messages  # noqa: F401  (installs the catalog as the renderer of a Said)
from workflow.domain.deadline_defs import parse_deadlines
from workflow.domain.errors import DefinitionError, Said
from workflow.domain.evidence import BUILTIN_KINDS, FIELD_TYPES
from workflow.domain.guards import GUARD_KINDS, parse_guard
from workflow.domain.kinds import parse_kind

from .catalog_support import call_name, in_both_catalogs, is_str, po_catalog

REPO = Path(__file__).resolve().parents[1]
PARTS = [REPO / "workflow" / "domain" / name for name in ("guards.py", "kinds.py", "deadline_defs.py")]
OWN = ("def.guard.", "def.kind.", "def.deadline.")
# The loader's generic keys (workflow/domain/definition.py defines the same sentences).
GENERIC = frozenset({"def.must_be_table", "def.must_be_text", "def.must_be_bool", "def.unknown_key",
                     "def.unknown_state"})
FAILS = frozenset({"fail"})  # fail(key, problem) and ctx.fail(key, problem)
ERRORS = frozenset({"DefinitionError", "ConfigError"})  # made with the message first


def _problem(call: ast.Call, at: int, keyword: str) -> ast.expr | None:
    if len(call.args) > at:
        return call.args[at]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def inline_problems(source: str) -> list[tuple[int, str, str]]:
    """(line, the call's name, the inline problem) of every problem written into `source`."""
    tree = ast.parse(source)
    held = {t.id for node in tree.body if isinstance(node, ast.Assign) and is_str(node.value)
            for t in node.targets if isinstance(t, ast.Name)}
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node.func)
        if name in FAILS:
            problem = _problem(node, 1, "problem")
        elif name in ERRORS:
            problem = _problem(node, 0, "message")
        else:
            continue
        if is_str(problem) or (isinstance(problem, ast.Name) and problem.id in held):
            assert problem is not None
            found.append((node.lineno, str(name), ast.unparse(problem)))
    return sorted(found)


def said_keys(source: str) -> list[tuple[int, str, set[str]]]:
    """(line, key, the names it fills in) of every Said("key", ...) in `source`."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and call_name(node.func) == "Said" and node.args:
            key = node.args[0]
            assert isinstance(key, ast.Constant) and isinstance(key.value, str), ast.unparse(node)
            out.append((node.lineno, key.value, {str(k.arg) for k in node.keywords}))
    return out


def test_the_parts_write_no_problem_of_their_own() -> None:
    found = [f"{path.relative_to(REPO)}:{line}: {name}({problem})"
             for path in PARTS for line, name, problem in inline_problems(path.read_text(encoding="utf-8"))]
    assert found == [], "put these in passend.po (nl and en) as def.guard/kind/deadline.<what>: fail(key, Said(...))"


def test_the_scan_finds_inline_problems_where_they_are() -> None:
    """A literal, an f-string, a glued string and a constant are found, given to fail, ctx.fail
    or an error; a Said, and an id given as a value, are not."""
    source = '''
def f(x, fail, ctx):
    raise fail(x, "must be a table")
    raise ctx.fail(x + ".kind", f"unknown guard kind {x!r}")
    raise fail(x, "unknown key: " + x)
    raise DefinitionError("x.toml: broken")
    raise ConfigError(f"{x}: broken")
    raise fail(x, problem="must be true")
    raise fail(x, MESSAGE)
    raise fail(x, Said("def.must_be_table"))
    raise ctx.fail(x, Said("def.unknown_key", allowed="entered, evidence, where"))
    raise DefinitionError(Said("def.guard.min"))
    raise ValueError(f"guard kind {x!r} is registered twice")
MESSAGE = "must be a string"
'''
    assert [(line, name) for line, name, _ in inline_problems(source)] == [
        (3, "fail"), (4, "fail"), (5, "fail"), (6, "DefinitionError"), (7, "ConfigError"), (8, "fail"),
        (9, "fail")]


# ---- the keys --------------------------------------------------------------------------------


def _uses() -> list[tuple[str, str, set[str]]]:
    return [(f"{path.relative_to(REPO)}:{line}", key, names)
            for path in PARTS for line, key, names in said_keys(path.read_text(encoding="utf-8"))]


def test_every_key_the_parts_use_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _uses()
    assert len({key for _, key, _ in uses}) > 40  # the scan sees the code
    for where, key, names in uses:
        assert key.startswith(OWN) or key in GENERIC, f"{where}: {key} is not a def.guard/kind/deadline key"
        in_both_catalogs(where, key, names)


def test_no_entry_of_the_parts_is_left_unused() -> None:
    used = {key for _, key, _ in _uses()}
    assert [k for k in po_catalog("nl") if k.startswith(OWN) and k not in used] == []


# ---- the sentences, in Dutch and in English ---------------------------------------------------
def _problem_of(parse: Callable[[Callable[[str, str | Said], DefinitionError]], Any]) -> tuple[str, Said]:
    """The key and the problem the part gives its `fail` (as the loader does, file aside)."""
    seen: list[tuple[str, str | Said]] = []

    def fail(key: str, problem: str | Said) -> DefinitionError:
        seen.append((key, problem))
        return DefinitionError(problem)

    with pytest.raises(DefinitionError):
        parse(fail)
    ((key, problem),) = seen
    assert isinstance(problem, Said), f"{key}: {problem!r} is written inline"
    return key, problem


STATES: Mapping[str, Any] = {"basis": {}, "thuis": {}}


def _guard(raw: Any) -> Callable[[Any], Any]:
    return lambda fail: parse_guard(raw, key="g", fail=fail, states=STATES, scopes=("huisbezoek",), params={})


def _kind(name: str, spec: dict[str, Any]) -> Callable[[Any], Any]:
    return lambda fail: parse_kind(name, spec, f"evidence.{name}", fail)


def _field(**field: Any) -> Callable[[Any], Any]:
    return _kind("bezoek", {"fields": {"wie": field}})


def _deadline(**change: Any) -> Callable[[Any], Any]:
    spec = {"name": "x", "start": {"entered": "thuis"}, "due": "6w", **change}
    return lambda fail: parse_deadlines([spec], fail=fail, states=STATES, kinds=BUILTIN_KINDS)


SENTENCES = [
    # the loader's generic sentences (def.*), as the parts use them
    (_guard([]), "g", "moet een tabel zijn", "must be a table"),
    (_kind("bezoek", {"label": " ", "fields": {"wie": {}}}), "evidence.bezoek.label",
     "moet een niet-lege tekst zijn", "must be a non-empty string"),
    (_deadline(meeting="ja"), "deadlines[0].meeting", "moet true of false zijn", "must be true or false"),
    (_deadline(stop=[{"evidence": "signal", "wanneer": "nu"}]), "deadlines[0].stop[0].wanneer",
     "onbekende sleutel (toegestaan: entered, evidence, where)", "unknown key (allowed: entered, evidence, where)"),
    (_guard({"kind": "previous_state", "state": "nergens"}), "g.state",
     "onbekende status 'nergens'", "unknown state 'nergens'"),
    # the parts' own
    (_guard({"kind": "evidence", "evidence": "signal", "colour": "rood"}), "g.colour",
     "onbekende sleutel voor een voorwaarde van soort evidence (toegestaan: evidence, kind, message, min, since, "
     "where)",
     "unknown key for a evidence guard (allowed: evidence, kind, message, min, since, where)"),
    (_guard({"kind": "evidence", "evidence": "signal", "message": 3}), "g.message",
     "moet tekst zijn", "must be a string"),
    (_guard({"kind": "evidence", "evidence": "signal", "since": "entered:nergens"}), "g.since",
     "onbekend beginpunt 'entered:nergens' (kies uit: case_opened, state_entered, level_entered, "
     "entered:<status>)",
     "unknown anchor 'entered:nergens' (case_opened, state_entered, level_entered, entered:<state>)"),
    (_guard({"kind": "evidence", "evidence": "observation"}), "g.evidence",
     f"onbekende soort bewijs 'observation' (bekend: {', '.join(BUILTIN_KINDS)})",
     f"unknown evidence kind 'observation' (known: {', '.join(BUILTIN_KINDS)})"),
    (_guard({"kind": "evidence", "evidence": "signal", "where": "lezen"}), "g.where",
     "moet een tabel zijn van veld = waarde", "must be a table of field = value"),
    (_guard({"kind": "evidence", "evidence": "evaluation", "where": {"result": "goed"}}), "g.where.result",
     "soort bewijs evaluation heeft geen veld 'result'", "evaluation has no field 'result'"),
    (_guard({"kind": "evidence", "evidence": "signal", "where": {"note": "x"}}), "g.where.note",
     "geheime velden zijn versleuteld en kunnen niet in een filter staan",
     "secret fields are encrypted and cannot be matched"),
    (_guard({"kind": "evidence", "evidence": "signal", "where": {"area": "{uitkomst}"}}), "g.where.area",
     "verwijst naar '{uitkomst}', maar de stap heeft geen parameter met die naam",
     "refers to unknown trigger parameter '{uitkomst}'"),
    (_guard({"kind": "evidence", "evidence": "evaluation", "where": {"outcome": "goed"}}), "g.where.outcome",
     "'goed' is geen van deze keuzes: voldoende, onvoldoende", "'goed' is not one of voldoende, onvoldoende"),
    (_guard({"kind": "evidence", "evidence": "signal", "min": 0}), "g.min",
     "moet een geheel getal van 1 of meer zijn", "must be a whole number >= 1"),
    (_guard({"kind": "consent", "scope": "gegevensdeling"}), "g.scope",
     "onbekende soort toestemming 'gegevensdeling' (consent.scopes noemt: huisbezoek)",
     "unknown consent scope 'gegevensdeling' (declared: huisbezoek)"),
    (_guard({"kind": "consent", "scope": "huisbezoek", "expect": "ja"}), "g.expect",
     "moet 'granted' of 'withheld' zijn", "must be 'granted' or 'withheld'"),
    (_guard({"kind": "consent", "scope": "huisbezoek", "document": "plan"}), "g.document",
     "moet 'opp' zijn (de toestemming hoort dan bij één versie van het OPP)",
     "must be 'opp' (the consent binds to an OPP version)"),
    (_guard({"kind": "consent", "scope": "huisbezoek", "document": "opp"}), "g.document",
     "vraagt een tabel [opp] met consent_scope gelijk aan de scope van deze voorwaarde",
     "needs [opp] with consent_scope = this guard's scope"),
    (_guard({"kind": "opp_complete"}), "g.kind",
     "een voorwaarde van soort opp_complete vraagt de tabel [opp] in de definitie",
     "an opp_complete guard needs the definition's [opp] table"),
    (_kind("Bezoek", {}), "evidence.Bezoek",
     "de naam van een soort bewijs bestaat uit kleine letters a-z, cijfers 0-9 en _",
     "an evidence kind's name is lower-case a-z, 0-9 and _"),
    (_kind("bezoek", {"label": "bezoek"}), "evidence.bezoek.fields",
     "een nieuwe soort bewijs noemt zijn velden ([evidence.SOORT.fields.NAAM])",
     "a new evidence kind declares its fields ([evidence.KIND.fields.NAME])"),
    (_kind("bezoek", {"fields": {"date": {}}}), "evidence.bezoek.fields.date",
     "een veldnaam bestaat uit kleine letters a-z, cijfers 0-9 en _ (en is niet 'date': elke soort heeft dat "
     "veld al)",
     "a field name is lower-case a-z, 0-9 and _ (and not 'date': every kind has one)"),
    (_field(type="kleur"), "evidence.bezoek.fields.wie.type",
     f"moet een van deze typen zijn: {', '.join(FIELD_TYPES)}", f"must be one of {', '.join(FIELD_TYPES)}"),
    (_field(type="int", secret=True), "evidence.bezoek.fields.wie.secret",
     "alleen een veld van type text kan geheim zijn", "only a text field can be secret"),
    (_field(type="choice"), "evidence.bezoek.fields.wie.choices",
     "een veld van type choice heeft choices nodig: een lijst, of een tabel van waarde = label",
     "a choice field needs choices: a list, or a table of value = label"),
    (_field(choices=["a"]), "evidence.bezoek.fields.wie.choices",
     "alleen een veld van type choice heeft choices", "only a choice field has choices"),
    (_field(phrase="op bezoek"), "evidence.bezoek.fields.wie.phrase",
     "moet {value} bevatten", "must hold {value}"),
    (_kind("bezoek", {"fields": {"wie": {}}, "exactly_one_of": [["wie"]]}), "evidence.bezoek.exactly_one_of",
     "moet een lijst van lijsten zijn, elk met twee of meer veldnamen",
     "must be a list of lists of two or more field names"),
    (_kind("bezoek", {"fields": {"wie": {}}, "exactly_one_of": [["wie", "waar"]]}),
     "evidence.bezoek.exactly_one_of", "onbekend veld 'waar'", "unknown field 'waar'"),
    (lambda fail: parse_deadlines({"name": "x"}, fail=fail, states=STATES), "deadlines",
     "moet een lijst van tabellen zijn ([[deadlines]])", "must be an array of tables ([[deadlines]])"),
    (_deadline(name="Evaluatie"), "deadlines[0].name",
     "moet een korte naam zijn in kleine letters (a-z, 0-9, _)", "must be a short lower-case name (a-z, 0-9, _)"),
    (lambda fail: parse_deadlines([{"name": "x", "start": {"entered": "thuis"}, "due": "6w"}] * 2,
                                  fail=fail, states=STATES), "deadlines[1].name",
     "termijn 'x' staat twee keer in de definitie", "deadline 'x' is declared twice"),
    (_deadline(restart=[{"entered": "basis"}]), "deadlines[0].restart",
     "een termijn begint alleen opnieuw door bewijs, niet doordat de casus een status bereikt",
     "a clock restarts on evidence only, not on entering a state"),
    (_deadline(due="6 weken"), "deadlines[0].due",
     "moet een duur zijn zoals '6w' of '10d' (w = weken, d = dagen), of 'school_year_end'",
     "must be a duration such as '6w' or '10d', or 'school_year_end'"),
    (_deadline(remind=3), "deadlines[0].remind",
     "moet een lijst zijn met een duur per herinnering, zoals ['2w', '3d'] (w = weken, d = dagen)",
     "must be a list of durations such as ['2w', '3d']"),
    (_deadline(remind=["2x"]), "deadlines[0].remind[0]",
     "'2x' is geen duur zoals '2w' of '3d' (w = weken, d = dagen)", "'2x' is not a duration such as '2w' or '3d'"),
    (_deadline(remind=["2w", "14d"]), "deadlines[0].remind[1]",
     "'14d' valt op dezelfde dag als een andere herinnering", "'14d' is the same day as another reminder"),
    (_deadline(escalate_after="snel"), "deadlines[0].escalate_after",
     "'snel' is geen duur zoals '1w' (w = weken, d = dagen)", "'snel' is not a duration such as '1w'"),
    (_deadline(start={"entered": "thuis", "plan_end": True}), "deadlines[0].start",
     'moet een van deze zijn: { entered = "STATE" }, { plan_end = true }, { opp_adopted = true }, '
     "{ rod = true } (STATE: de naam van een status)",
     'must be one of { entered = "STATE" }, { plan_end = true }, { opp_adopted = true }, { rod = true }'),
    (_deadline(start={"plan_end": "ja"}), "deadlines[0].start.plan_end", "moet true zijn", "must be true"),
    (_deadline(start={"later": True}), "deadlines[0].start.later",
     "onbekend begin van de termijn (kies uit: entered, plan_end, opp_adopted, rod)",
     "unknown clock start (entered, plan_end, opp_adopted, rod)"),
    (_deadline(stop="thuis"), "deadlines[0].stop",
     "moet een lijst zijn van { entered = STATE } of { evidence = KIND, where = {...} } "
     "(STATE: een status, KIND: een soort bewijs)",
     "must be a list of { entered = STATE } or { evidence = KIND, where = {...} }"),
    (_deadline(stop=[{"entered": "thuis", "evidence": "signal"}]), "deadlines[0].stop[0]",
     "bij { entered = STATE } horen geen andere sleutels", "{ entered = STATE } takes no other keys"),
]


@pytest.mark.parametrize(("parse", "key", "dutch", "english"), SENTENCES,
                         ids=[f"{s[1]}:{i}" for i, s in enumerate(SENTENCES)])
def test_a_part_says_what_is_wrong_in_dutch_and_in_english(
        monkeypatch: pytest.MonkeyPatch, parse: Any, key: str, dutch: str, english: str) -> None:
    got, problem = _problem_of(parse)
    assert got == key
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    assert str(problem) == dutch
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert str(problem) == english


def test_an_unknown_guard_kind_names_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """The known kinds are the registered ones (a test may register its own beside them)."""
    key, problem = _problem_of(_guard({"kind": "approval"}))
    assert key == "g.kind"
    known = ", ".join(GUARD_KINDS)
    assert known.startswith("evidence, consent, previous_state, opp_complete")
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    assert str(problem) == f"onbekende soort voorwaarde 'approval' (bekend: {known})"
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert str(problem) == f"unknown guard kind 'approval' (known: {known})"


def test_a_loaded_definition_names_file_key_and_problem_in_the_language_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the loader, as a person meets it: the file, the key, then the part's problem."""
    import tomllib

    from tests.engine_support import DEFAULT
    from workflow.domain.definition import parse_definition

    raw = tomllib.loads(DEFAULT.read_text(encoding="utf-8"))
    raw["deadlines"][1]["due"] = "6 weken"
    for lang, problem in (("nl", "moet een duur zijn zoals '6w' of '10d' (w = weken, d = dagen), of "
                                 "'school_year_end'"),
                          ("en", "must be a duration such as '6w' or '10d', or 'school_year_end'")):
        monkeypatch.setenv("PASSEND_LANGUAGE", lang)
        with pytest.raises(DefinitionError) as err:
            parse_definition(raw, "x.toml")
        assert err.value.message == f"x.toml: deadlines[1].due: {problem}"

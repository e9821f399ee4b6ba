"""The process-definition loader's problems come from the message catalog (`def.*` keys), never
as inline English or Dutch: a functional maintainer reads them in plain Dutch (English with
`PASSEND_LANGUAGE=en`), and the wording lives in one place, the catalogs
(workflow/messages/locale/{nl,en}/LC_MESSAGES/passend.po).

The scan reads the loader's files with Python's own parser. A problem is inline when a string
literal, an f-string or strings glued with + or % (or a "...".format(...)) is what a
`fail(key, problem)` call is given as its problem (`fail`, `c.fail`, `self.fail`, `ctx.fail`:
any call named `fail`), or what an exception is made with (`DefinitionError(...)` and the other
domain errors). SCOPE says which files it reads, and in which of them only some functions; add
a file (or a function) there as its checks move to the catalog. What the scan cannot see: a
problem built in a variable first; review keeps those out.

The keys these files say (`Said("def....", ...)`) are in both catalogs with the placeholders the
code fills in, and no `def.*` entry of theirs is left that nothing uses.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

import pytest

import workflow.messages  # noqa: F401  (installs the catalog as the renderer of Said)
from workflow.domain import errors as domain_errors
from workflow.domain.definition import DefinitionRegistry, load_definition, parse_definition
from workflow.domain.errors import DefinitionError

from .catalog_support import call_name, in_both_catalogs, is_str, po_catalog
from .engine_support import DEFAULT, FIXTURES

REPO = Path(__file__).resolve().parents[1]
STATES = REPO / "states"

# file -> the functions the scan reads in it (None: the whole file).
SCOPE: dict[str, frozenset[str] | None] = {
    "workflow/domain/definition.py": None,
    "workflow/domain/upcasts.py": None,
    "workflow/domain/opp.py": frozenset({"parse_opp"}),  # the rest of opp.py is the OPP's content
}
FAIL_CALLS = frozenset({"fail"})  # fail(...), c.fail(...), self.fail(...), ctx.fail(...)
# Keys of the guard, evidence-kind and deadline parsers (guards.py, kinds.py, deadline_defs.py):
# theirs to use; the unused-key check below leaves them to those files' own test.
OTHER_PREFIXES = ("def.guard.", "def.kind.", "def.deadline.")


def _exception_names() -> set[str]:
    """The domain's errors, and the loader's own subclass of DefinitionError."""
    names = {n for n, v in vars(domain_errors).items() if isinstance(v, type) and issubclass(v, BaseException)}
    return names | {"_KeyedError"}


def _scanned(tree: ast.Module, functions: frozenset[str] | None) -> list[ast.AST]:
    if functions is None:
        return [tree]
    found: list[ast.AST] = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in functions:
            found.append(node)
            names.add(node.name)
    assert names == functions, "a function SCOPE names is gone: update SCOPE"
    return found


def inline_problems(source: str, functions: frozenset[str] | None = None) -> list[tuple[int, str, str]]:
    """(line, the call's name, the inline problem) of every problem written into `source`."""
    exceptions = _exception_names()
    found: list[tuple[int, str, str]] = []
    for root in _scanned(ast.parse(source), functions):
        for node in ast.walk(root):
            if not isinstance(node, ast.Call):
                continue
            name = call_name(node.func)
            if name in FAIL_CALLS:
                args = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "problem")]
            elif name in exceptions:
                args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "message")]
            else:
                continue
            found += [(node.lineno, str(name), ast.unparse(a)) for a in args if is_str(a)]
    return sorted(set(found))


def test_the_loader_writes_no_problem_of_its_own() -> None:
    found = []
    for file, functions in SCOPE.items():
        for line, name, problem in inline_problems((REPO / file).read_text(encoding="utf-8"), functions):
            found.append(f"{file}:{line}: {name}(... {problem})")
    assert found == [], "put these in passend.po (nl and en) as def.<what> and raise Said(...)"


def test_the_scan_finds_inline_problems_where_they_are() -> None:
    """The scan itself: a literal, an f-string, glued strings and a .format given to any fail,
    or an exception made with one, are found; a Said, a key and a variable are not; with
    functions named, only those are read."""
    source = '''
def parse(c, fail, ctx, self, key, p, why):
    raise fail("opp", "must be a table")
    raise c.fail(key, f"unknown state {key!r}")
    raise self.fail(key, "unknown key: " + key)
    raise ctx.fail(key, "{} is wrong".format(key))
    raise c.fail(key, problem="must be true or false")
    raise DefinitionError(f"{p}: process definition not found")
    raise _KeyedError("x: y: z", key)
    raise BadInput("%s: kapot" % p)
    raise fail("opp", Said("def.must_be_table"))
    raise c.fail(key, Said("def.unknown_state", state=key))
    raise DefinitionError(Said("def.load.not_found", path=str(p)))
    raise DefinitionError(why)
    raise c.fail("process.version", why)


def elsewhere(fail):
    raise fail("x", "not read when functions are named")
'''
    found = [(line, name) for line, name, _ in inline_problems(source)]
    assert found == [(3, "fail"), (4, "fail"), (5, "fail"), (6, "fail"), (7, "fail"), (8, "DefinitionError"),
                     (9, "_KeyedError"), (10, "BadInput"), (19, "fail")]
    assert [line for line, _, _ in inline_problems(source, frozenset({"parse"}))] == [3, 4, 5, 6, 7, 8, 9, 10]


# ---- the keys --------------------------------------------------------------------------------


def _said_keys() -> list[tuple[str, str, set[str]]]:
    """(where, key, the names it fills in) of every Said("...") in SCOPE's files."""
    uses = []
    for file, functions in SCOPE.items():
        for root in _scanned(ast.parse((REPO / file).read_text(encoding="utf-8")), functions):
            for node in ast.walk(root):
                if isinstance(node, ast.Call) and call_name(node.func) == "Said" and node.args \
                        and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    uses.append((f"{file}:{node.lineno}", node.args[0].value, {str(k.arg) for k in node.keywords}))
    return uses


def test_every_key_the_loader_says_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _said_keys()
    assert len({key for _, key, _ in uses}) > 40  # the scan sees the code
    for where, key, names in uses:
        assert key.startswith("def."), f"{where}: {key}"
        in_both_catalogs(where, key, names)


def test_no_def_entry_is_left_unused() -> None:
    used = {key for _, key, _ in _said_keys()}
    unused = [k for k in po_catalog("nl") if k.startswith("def.") and not k.startswith(OTHER_PREFIXES)
              and k not in used]
    assert unused == []


# ---- the language ----------------------------------------------------------------------------
def _both(monkeypatch: pytest.MonkeyPatch, err: DefinitionError) -> tuple[str, str]:
    """The same error read in Dutch (the default) and in English: a Said is rendered each time
    it is read, in the language in force then."""
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    dutch = err.message
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = err.message
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    return dutch, english


def _loaded(path: Path) -> DefinitionError:
    with pytest.raises(DefinitionError) as err:
        load_definition(path)
    return err.value


def _parsed(raw: dict[str, Any], path: str = "x.toml") -> DefinitionError:
    with pytest.raises(DefinitionError) as err:
        parse_definition(raw, path)
    return err.value


def _raw(path: Path = DEFAULT) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_a_bad_file_reads_in_dutch_and_in_english_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    path = FIXTURES / "bad_role.toml"
    assert _both(monkeypatch, _loaded(path)) == (
        f"{path}: transitions[0].roles: onbekende rol 'teacher' (bekend: ib, leerkracht, directeur, auditor)"
        " (regel 46)",
        f"{path}: transitions[0].roles: unknown role 'teacher' (known: ib, leerkracht, directeur, auditor)"
        " (line 46)",
    )
    path = FIXTURES / "bad_unknown_key.toml"
    assert _both(monkeypatch, _loaded(path)) == (
        f"{path}: states.intensief.colour: onbekende sleutel (toegestaan: final, label, level, pauses_deadlines)"
        " (regel 33)",
        f"{path}: states.intensief.colour: unknown key (allowed: final, label, level, pauses_deadlines) (line 33)",
    )


def test_a_file_that_is_not_there_or_not_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nope = tmp_path / "nope.toml"
    assert _both(monkeypatch, _loaded(nope)) == (f"{nope}: procesdefinitie niet gevonden",
                                                 f"{nope}: process definition not found")
    assert _both(monkeypatch, _loaded(tmp_path)) == (
        f"{tmp_path}: de procesdefinitie kan niet worden gelezen (IsADirectoryError)",
        f"{tmp_path}: cannot read process definition (IsADirectoryError)")
    syntax = FIXTURES / "bad_syntax.toml"  # the parser's own words stay its own; the place is ours
    assert _both(monkeypatch, _loaded(syntax)) == (
        f"{syntax}: ongeldige TOML op regel 30, kolom 9: Invalid value",
        f"{syntax}: invalid TOML: Invalid value (at line 30, column 9)")


@pytest.mark.parametrize(("change", "dutch", "english"), [
    (lambda r: r["process"].update(version=0),
     "process.version: moet een geheel getal van 1 of hoger zijn", "process.version: must be a whole number >= 1"),
    (lambda r: r["states"]["niveau_2"].pop("level"),
     "states.niveau_2.level: een status die geen eindstatus is (final), heeft een level nodig",
     "states.niveau_2.level: a state that is not final needs a level"),
    (lambda r: r["states"]["afgesloten"].update(final="ja"),
     "states.afgesloten.final: moet true of false zijn", "states.afgesloten.final: must be true or false"),
    (lambda r: r["transitions"][0].update(source="afgesloten"),
     "transitions[0].source: status 'afgesloten' is een eindstatus; daar gaat geen overgang vandaan",
     "transitions[0].source: state 'afgesloten' is final; nothing leaves it"),
    (lambda r: r["transitions"][0].update(dest="niveau_9"),
     "transitions[0].dest: onbekende status 'niveau_9'", "transitions[0].dest: unknown state 'niveau_9'"),
    (lambda r: r.update(transitions=[]),
     "transitions: moet een niet-lege lijst van tabellen zijn ([[transitions]])",
     "transitions: must be a non-empty array of tables ([[transitions]])"),
    (lambda r: r.update(upcasts=[{"event": "opened"}]),
     "upcasts[0].event: moet een van deze zijn: case_opened, evidence_recorded, transitioned, case_erased",
     "upcasts[0].event: must be one of case_opened, evidence_recorded, transitioned, case_erased"),
    (lambda r: r.update(upcasts=[{"event": "transitioned", "set": {}}]),
     "upcasts[0].set: moet een tabel van payload-sleutel = waarde zijn",
     "upcasts[0].set: must be a table of payload key = value"),
    (lambda r: (r["process"].update(version=3), r.update(migrate={"from": 3, "states": {}})),
     "migrate.from: moet een eerdere versie van dit proces zijn (1-2)",
     "migrate.from: must be an earlier version of this process (1-2)"),
])
def test_a_check_reads_in_dutch_and_in_english(
        monkeypatch: pytest.MonkeyPatch, change: Any, dutch: str, english: str) -> None:
    raw = _raw()
    change(raw)
    assert _both(monkeypatch, _parsed(raw)) == (f"x.toml: {dutch}", f"x.toml: {english}")


@pytest.mark.parametrize(("change", "dutch", "english"), [
    (lambda o: o.update(colour="rood"),
     "opp.colour: onbekende sleutel (toegestaan: consent_scope, labels, profiles, required)",
     "opp.colour: unknown key (allowed: consent_scope, labels, profiles, required)"),
    (lambda o: o.update(required=["plan"]), "opp.required: onbekend onderdeel 'plan' (onderdelen: ",
     "opp.required: unknown part 'plan' (parts: "),
    (lambda o: o.update(consent_scope="x"), "opp.consent_scope: onbekende soort toestemming 'x' (bekend: ",
     "opp.consent_scope: unknown consent scope 'x' (declared: "),
])
def test_an_opp_check_reads_in_dutch_and_in_english(
        monkeypatch: pytest.MonkeyPatch, change: Any, dutch: str, english: str) -> None:
    raw = _raw(STATES / "passend_po_v2.toml")
    change(raw["opp"])
    got = _both(monkeypatch, _parsed(raw))
    assert got[0].startswith(f"x.toml: {dutch}") and got[1].startswith(f"x.toml: {english}"), got


def test_a_broken_version_reads_in_the_language_of_its_reader(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The registry keeps a broken file's problem as said: read later, in English, it is English."""
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    folder = tmp_path / "states"
    folder.mkdir()
    shutil.copy(STATES / "passend_po_v2.toml", folder / "v2.toml")
    text = DEFAULT.read_text(encoding="utf-8").replace('[states.niveau_2]\n', '[states.niveau_2]\ncolour = 1\n', 1)
    assert "colour = 1" in text
    (folder / "v1.toml").write_text(text, encoding="utf-8")
    reg = DefinitionRegistry.from_folder(folder, folder / "v2.toml")
    with pytest.raises(DefinitionError) as err:
        reg.get("passend-po", 1)
    dutch, english = _both(monkeypatch, err.value)
    assert dutch.startswith(f"proces 'passend-po' versie 1 kan niet worden geladen: {folder / 'v1.toml'}: "
                            "states.niveau_2.colour: onbekende sleutel (toegestaan: ")
    assert dutch.endswith(")") and "(regel " in dutch
    assert english.startswith(f"process 'passend-po' version 1 cannot be loaded: {folder / 'v1.toml'}: "
                              "states.niveau_2.colour: unknown key (allowed: ")
    assert "(line " in english
    with pytest.raises(DefinitionError) as missing:
        reg.get("passend-po", 7)
    dutch, english = _both(monkeypatch, missing.value)
    assert dutch.startswith("proces 'passend-po' versie 7 is niet geïnstalleerd; zet het bestand ervan in states/; ")
    assert english.startswith("process 'passend-po' version 7 is not installed; keep its file in states/; ")
    assert "onbekende sleutel" in dutch and "unknown key" in english  # the files that did not load, too

"""What a person reads of the command line comes from the message catalog (cli.*), never written
inline: every help text (`help=` of a command, option or argument; a command's docstring would
be its help, so a command names its help by key) and every message of click.echo, UsageProblem,
BadValue, ClickException and the one-line failures (`_fail`) in workflow/entrypoints/cli, and
every result line a command prints (the text of `emit`, the line and the empty text of
`emit_each`), followed into the variables, the joined lines and the module's own helpers that
build it.

The scan reads the modules' syntax. A literal counts as prose when it has two words in a row
("geef een"); what is not prose (JSON fragments, column formats, metavars, command names) has no
such run, and the few literals that are prose but not read as such are allowed by name below.
Every cli.* key the code names is in both catalogs, with the placeholders the code fills in,
and the catalogs hold no cli.* key the code does not name. The Dutch reads as before (all help
pages and error lines were compared byte for byte when they moved; a few are pinned here), and
--help still loads no process definition to read its words.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workflow.entrypoints.cli.main import main
from workflow.messages.render import _catalog

from .catalog_support import placeholders

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "workflow" / "entrypoints" / "cli"
KEY = re.compile(r"cli\.[a-z0-9_.]+")
PROSE = re.compile(r"[^\W\d_]{2,} [^\W\d_]{2,}")
# calls whose first argument a person reads
SAID = {"echo", "UsageProblem", "BadValue", "ClickException", "_fail", "secho"}
# literals that look like prose but are not read as Dutch: (file, literal)
ALLOWED: set[tuple[str, str]] = set()


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literals(node: ast.expr) -> list[str]:
    """The literal text of an expression: its string constants and the fixed parts of f-strings,
    not a catalog key or what is inside a call (`nl.say(...)` is the catalog's)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [] if KEY.fullmatch(node.value) else [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    if isinstance(node, ast.BinOp):
        return _literals(node.left) + _literals(node.right)
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.BoolOp):  # `"\n".join(lines) or "geen tokens"`
        return [text for value in node.values for text in _literals(value)]
    return []


# the calls that print a command's result: the positions (after the data) a person reads
EMITS = {"emit": (1,), "emit_each": (1, 2)}


class _Result:
    """What a result line is built from, in one module: the values each name of a function is
    given (assigned, added to with +=, appended or extended), and what each of the module's
    functions returns, so the text passed to `emit` is followed to where its words are written."""

    def __init__(self, tree: ast.Module) -> None:
        self.returns: dict[str, list[ast.expr]] = {}
        self.values: dict[tuple[int, str], list[ast.expr]] = {}
        self.scope: dict[int, int] = {}  # id(node) -> id(its innermost function)
        for f in ast.walk(tree):
            if isinstance(f, ast.FunctionDef):
                self.returns.setdefault(f.name, []).extend(
                    n.value for n in ast.walk(f) if isinstance(n, ast.Return) and n.value is not None)
                for n in ast.walk(f):
                    self.scope[id(n)] = id(f)
                    if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign) and n.value is not None:
                        for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                            if isinstance(t, ast.Name):
                                self.values.setdefault((id(f), t.id), []).append(n.value)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                            and n.func.attr in ("append", "extend") and isinstance(n.func.value, ast.Name) and n.args:
                        self.values.setdefault((id(f), n.func.value.id), []).append(n.args[0])

    def literals(self, node: ast.expr, where: int, depth: int = 0) -> list[str]:
        """The literal text `node` is made of: its own, and that of what it names or calls here."""
        if depth > 4:
            return []
        if isinstance(node, ast.List | ast.Tuple):  # lines = [first, second]
            return [text for e in node.elts for text in self.literals(e, where, depth + 1)]
        found = _literals(node)
        for part in _parts(node):
            if isinstance(part, ast.Name):
                for value in self.values.get((where, part.id), []):
                    found += self.literals(value, where, depth + 1)
            elif isinstance(part, ast.Call):
                for arg in part.args:  # "\n".join(<lines>)
                    found += self.literals(arg, where, depth + 1)
                if isinstance(part.func, ast.Name):  # the module's own helper (`_line(r)`, `render(v)`)
                    for value in self.returns.get(part.func.id, []):
                        found += self.literals(value, self.scope.get(id(value), where), depth + 1)
            elif isinstance(part, ast.Lambda):
                found += self.literals(part.body, where, depth + 1)
            elif isinstance(part, ast.GeneratorExp | ast.ListComp):
                found += self.literals(part.elt, where, depth + 1)
        return found


def _parts(node: ast.expr) -> list[ast.expr]:
    """The expressions `node` is put together from (the pieces of a +, an `or`, an if-else)."""
    if isinstance(node, ast.BinOp):
        return _parts(node.left) + _parts(node.right)
    if isinstance(node, ast.BoolOp):
        return [p for value in node.values for p in _parts(value)]
    if isinstance(node, ast.IfExp):
        return _parts(node.body) + _parts(node.orelse)
    if isinstance(node, ast.JoinedStr):
        return [p for v in node.values if isinstance(v, ast.FormattedValue) for p in _parts(v.value)]
    return [node]


def inline_words(source: str, file: str) -> list[str]:
    """Each place in `source` where a person would read words that are not from the catalog."""
    found: list[str] = []
    tree = ast.parse(source)
    result = _Result(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            for at in EMITS.get(name, ()) if isinstance(node.func, ast.Name) else ():
                if at < len(node.args):
                    for text in result.literals(node.args[at], result.scope.get(id(node), 0)):
                        if PROSE.search(text) and (file, text) not in ALLOWED:
                            found.append(f"{file}:{node.lineno}: {name}({text!r})")
            for kw in node.keywords:
                if kw.arg in ("help", "short_help") and isinstance(kw.value, ast.Constant) \
                        and isinstance(kw.value.value, str) and not KEY.fullmatch(kw.value.value):
                    found.append(f"{file}:{kw.value.lineno}: {kw.arg}={kw.value.value!r}")
            if name in SAID and node.args:
                for text in _literals(node.args[0]):
                    if PROSE.search(text) and (file, text) not in ALLOWED:
                        found.append(f"{file}:{node.lineno}: {name}({text!r})")
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and _name(dec.func) in ("command", "group") \
                        and not any(kw.arg == "help" for kw in dec.keywords) and ast.get_docstring(node):
                    found.append(f"{file}:{node.lineno}: the docstring of {node.name} is its help")
    return found


def _sources() -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(CLI.glob("*.py"))]


def test_no_inline_words_in_the_command_line() -> None:
    found = [hit for file, source in _sources() for hit in inline_words(source, file)]
    assert found == []


def test_the_scan_sees_inline_words() -> None:
    """What it must catch, each way a text can be written inline."""
    source = '''
@click.command("x")
@click.option("--a", help="Wie dit doet.")
def x() -> None:
    """Doe iets."""
    click.echo(f"let op: school {s} heeft geen adres")
    raise nl.UsageProblem("geef een CASUS")
'''
    assert {int(hit.split(":")[1]) for hit in inline_words(source, "t.py")} == {3, 4, 6, 7}
    assert inline_words('@click.option("--a", metavar="GEBRUIKER", help="cli.x.option.a")\n'
                        'def f(): click.echo(\'{"as_of": \' + x)', "t.py") == []


def test_the_scan_sees_a_result_line_written_inline() -> None:
    """A command's result line, each way it is built: in the call, in a variable, joined from a
    list, a line of emit_each and its empty text, or in a helper of the module."""
    source = '''
def a(r):
    emit(r, f"{r['case_id']} geopend in {r['state']}")
def b(r):
    text = nl.say("cli.x.done")
    if r:
        text += "\\nNog niet volledig; ontbreekt: " + x
    emit(r, text)
def c(r):
    lines = [f"OPP van casus {x}"]
    lines.append("Ontbreekt nog: " + y)
    emit(r, "\\n".join(lines))
def d(rows):
    emit_each(rows, lambda r: f"{r['kind']:<10} aan de {r['recipient']}", "niets is nu aan de beurt")
def e(records):
    emit(records, "\\n".join(_line(r) for r in records) or "geen tokens")
def _line(t):
    return f"{t['name']} gemaakt door {t['by']}"
def f(r):
    emit(r, nl.say("cli.x.done", case=r["case_id"]) + f" ({r['where']})")
'''
    hits = [hit.split(": ", 1)[1] for hit in inline_words(source, "t.py")]
    assert sorted(hits) == sorted([
        "emit(' geopend in ')", "emit('\\nNog niet volledig; ontbreekt: ')", "emit('OPP van casus ')",
        "emit('Ontbreekt nog: ')", "emit_each(' aan de ')", "emit_each('niets is nu aan de beurt')",
        "emit('geen tokens')", "emit(' gemaakt door ')"])


def _uses() -> list[tuple[str, set[str] | None]]:
    """(key, the names it is filled in with, or None for a key written apart from its call)."""
    uses: list[tuple[str, set[str] | None]] = []
    for _, source in _sources():
        in_calls: set[int] = set()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in ("say", "text") and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str) \
                    and KEY.fullmatch(node.args[0].value):
                uses.append((node.args[0].value, {str(k.arg) for k in node.keywords}))
                in_calls.add(id(node.args[0]))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_calls \
                    and KEY.fullmatch(node.value):
                uses.append((node.value, None))
    return uses


def test_every_key_is_in_both_catalogs_with_its_placeholders_and_none_is_unused() -> None:
    uses = _uses()
    assert len({k for k, _ in uses}) > 250  # the scan sees the code
    nl, en = _catalog("nl"), _catalog("en")
    for key, names in uses:
        for messages in (nl, en):
            assert messages.gettext(key) != key, key
            if names is not None:
                assert placeholders(messages.gettext(key)) == names, key
    for messages in (nl, en):
        keys = {k for k in messages._messages if k.startswith("cli.")}
        assert keys == {k for k, _ in uses}
        for key in keys:
            assert placeholders(nl.gettext(key)) == placeholders(en.gettext(key)), key


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main([*args, "--help"]) == 0
    return capsys.readouterr().out


def test_the_help_reads_as_before_and_in_english(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    page = _help(capsys, "case", "open")
    assert page.startswith("Gebruik: passend case open [OPTIES]\n\n  Open een casus voor een leerling.\n")
    assert "  --group GROEP      De groep van de leerling.  [1 t/m 8]\n" in page
    assert "  -h, --help         Toon deze hulp en stop.\n" in page
    assert "  case       Casussen openen, opsommen, tonen, verder zetten en wissen.\n" in _help(capsys)
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    page = _help(capsys, "case", "open")
    assert page.startswith("Usage: passend case open [OPTIES]\n\n  Open a case for a pupil.\n")
    assert "  --group GROEP      The pupil's group.  [1 to 8]\n" in page
    assert "Options:\n" in page and "(required)" in page


def test_an_error_line_reads_as_before(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    assert main(["case", "opne"]) == 2
    assert capsys.readouterr().err == ("passend: onbekende opdracht 'opne' (bedoelt u 'open'?); kies uit: erase, "
                                       "fire, import, list, open, show\n")
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert main(["case", "opne"]) == 2
    assert capsys.readouterr().err == ("passend: unknown command 'opne' (did you mean 'open'?); choose from: erase, "
                                       "fire, import, list, open, show\n")


def test_help_reads_its_words_without_the_process_definition() -> None:
    """The catalog's words, not the modules that render a reason (workflow.messages.render
    imports them where it uses them)."""
    code = ("import sys; from workflow.entrypoints.cli.main import main; main(['case', 'open', '--help']); "
            "print(sorted(m for m in ('workflow.domain.definition', 'workflow.domain.evidence', "
            "'workflow.domain.guards', 'workflow.messages') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert "Open een casus" in r.stdout or "Open a case" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "['workflow.messages']"


@pytest.mark.parametrize(("lang", "words"), [
    ("nl", ["Casus C-1  school s, groep 4", "Termijn:  T: uiterlijk 2026-12-01 (verlopen)", "Bewijs:",
            "  (nog niets vastgelegd)", "Mogelijke stappen:", "  [ja ] Stap -> Doel"]),
    ("en", ["Case C-1  school s, group 4", "Deadline: T: by 2026-12-01 (overdue)", "Evidence:",
            "  (nothing recorded yet)", "Possible steps:", "  [yes] Stap -> Doel"]),
])
def test_case_show_speaks_the_catalogs_language(monkeypatch: pytest.MonkeyPatch, lang: str, words: list[str]) -> None:
    """`case show`'s text (cli.views, shared with the quick path) takes its words from the catalog."""
    from workflow.entrypoints.cli.views import render_case

    monkeypatch.setenv("PASSEND_LANGUAGE", lang)
    view = {"case_id": "C-1", "school": "s", "group": 4, "pupil": "P", "name": None, "state_label": "S",
            "level": 1, "version": 2, "process": "p@1", "closed_at": None,
            "deadlines": [{"label": "T", "due": "2026-12-01", "status": "overdue"}], "evidence": [],
            "options": [{"allowed": True, "trigger_label": "Stap", "dest_label": "Doel", "reasons": []}]}
    assert render_case(view).splitlines() == [words[0], *([
        "Leerling: P", "Stand:    S  (niveau 1, versie 2, proces p@1)"] if lang == "nl" else [
        "Pupil:    P", "State:    S  (level 1, version 2, process p@1)"]), *words[1:]]

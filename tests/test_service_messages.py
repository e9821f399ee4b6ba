"""The service layer's one-line errors come from the message catalog (`svc.*` keys), never as
inline Dutch or English: a person reads them in the language set (`PASSEND_LANGUAGE`), and the
wording lives in one place, the catalogs (workflow/messages/locale/{nl,en}/LC_MESSAGES/passend.po).

The scan reads workflow/service_layer with Python's own parser. A message is inline when a
string literal or f-string is what an exception is made with (its first argument, or the first
of `refused(...)`), or when words (two runs of letters with a space between) stand anywhere in
the arguments of such a call or of a call in a `raise` (a helper such as `fail(key, problem)`),
outside a `text(...)` call; or a module constant holding words is what an exception is made
with. An exception the person never reads (a broken invariant, a signal
the caller catches) is allowed by name below, each with its reason. What the scan cannot see: a
message built in a variable first, or imported from elsewhere; review keeps those out.

The keys the code uses are in both catalogs with the placeholders the code fills in, and no
`svc.*` entry is left that nothing uses.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from workflow.domain import errors as domain_errors
from workflow.domain.errors import BadInput, NotFound, PassendError

from .catalog_support import call_name, in_both_catalogs, is_str, po_catalog

REPO = Path(__file__).resolve().parents[1]
SERVICE_LAYER = REPO / "workflow" / "service_layer"
WORDS = re.compile(r"[^\W\d_]+\s+[^\W\d_]+", re.UNICODE)
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
TEXT_CALLS = frozenset({"text"})  # text(...) and messages.text(...)
MESSAGE_FIRST = frozenset({"refused"})  # helpers whose first argument is the message

# (file under workflow/service_layer, exception, the start of its message): why no person reads it.
ALLOWED = {
    ("access.py", "ValueError", "unknown access source"):
        "a programming error: the callers pass one of SOURCES, a constant",
    ("audit/verify.py", "RuntimeError", "the canonical template"):
        "an invariant of the code's own template, checked when the module is read",
    ("reminders/digest.py", "RuntimeError", "the digest lines were dropped"):
        "an invariant of the digest's own bookkeeping",
    ("reminders/planner.py", "ValueError", "event "):
        "caught by the planner and logged by case and event number; never shown",
    ("signin/sessions.py", "LookupError", "session already promoted"):
        "a signal: the sign-in page catches it and shows its own words (web.*)",
    ("signin/totp.py", "PermissionError", "already enrolled"):
        "a guard: the code page asks `enrolled` first and never enrols twice",
}


def _worded(node: ast.AST) -> list[str]:
    """Words written into `node`, outside any text(...) call."""
    found: list[str] = []
    if isinstance(node, ast.Call):
        if call_name(node.func) in TEXT_CALLS:
            return []
        for child in [*node.args, *(k.value for k in node.keywords)]:
            found += _worded(child)
        return found
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if WORDS.search(node.value) else []
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return [ast.unparse(node)] if LETTERS.search(parts) else []
    for child in ast.iter_child_nodes(node):
        found += _worded(child)
    return found


def _exception_names(module: Any) -> set[str]:
    """The names that make an exception in `module`: its own and imported classes, the
    builtins', and the domain's errors (a module may import one inside a function)."""
    spaces = [vars(module), vars(builtins), vars(domain_errors)]
    return {name for space in spaces for name, value in space.items()
            if isinstance(value, type) and issubclass(value, BaseException)}


def inline_messages(source: str, exceptions: set[str]) -> list[tuple[int, str, str]]:
    """(line, the call's name, the inline message) of every message written into `source`."""
    tree = ast.parse(source)
    held = {t.id for node in tree.body if isinstance(node, ast.Assign) and is_str(node.value)
            and _worded(node.value) for t in node.targets if isinstance(t, ast.Name)}  # a message in a constant
    in_raise: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            in_raise.update(id(n) for n in ast.walk(node.exc) if isinstance(n, ast.Call))
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node.func)
        if name is None or name in TEXT_CALLS:
            continue
        maker = name in exceptions
        if not (maker or name in MESSAGE_FIRST or id(node) in in_raise):
            continue
        first = node.args[0] if node.args else None
        if (maker or name in MESSAGE_FIRST) and first is not None and (
                is_str(first) or (isinstance(first, ast.Name) and first.id in held)):
            found.append((node.lineno, name, ast.unparse(first)))
            continue
        for child in [*node.args, *(k.value for k in node.keywords)]:
            found += [(node.lineno, name, words) for words in _worded(child)]
    return sorted(set(found))


def _modules() -> list[tuple[Path, str]]:
    return [(p, ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"))
            for p in sorted(SERVICE_LAYER.rglob("*.py"))]


def _allowed(path: Path, name: str, message: str) -> bool:
    where = path.relative_to(SERVICE_LAYER).as_posix()
    plain = message.strip("'\"").removeprefix("f'").removeprefix('f"')
    return any(where == w and name == n and plain.startswith(start) for w, n, start in ALLOWED)


def test_the_service_layer_writes_no_message_of_its_own() -> None:
    found = []
    for path, module in _modules():
        names = _exception_names(importlib.import_module(module))
        for line, name, message in inline_messages(path.read_text(encoding="utf-8"), names):
            if not _allowed(path, name, message):
                found.append(f"{path.relative_to(REPO)}:{line}: {name}({message})")
    assert found == [], "put these in passend.po (nl and en) as svc.<module>.<what> and raise text(...)"


def test_every_allowance_is_still_needed() -> None:
    """An allowed message that is gone (or moved to the catalog) leaves no stale allowance."""
    used = set()
    for path, module in _modules():
        names = _exception_names(importlib.import_module(module))
        for _, name, message in inline_messages(path.read_text(encoding="utf-8"), names):
            where = path.relative_to(SERVICE_LAYER).as_posix()
            plain = message.strip("'\"").removeprefix("f'").removeprefix('f"')
            used |= {a for a in ALLOWED if a[0] == where and a[1] == name and plain.startswith(a[2])}
    assert used == set(ALLOWED)


def test_the_scan_finds_inline_messages_where_they_are() -> None:
    """The scan itself: a literal, an f-string, a glued string, words given to a helper in a
    raise, a field's words and a constant with words are found; a text(...) call, an id and a
    key are not."""
    source = '''
def f(x, fail, refused):
    raise BadInput("kies een besluit")
    raise NotFound(f"casus {x} bestaat niet")
    raise BadInput("ouder: " + x)
    raise fail("digest", "must be true or false")
    raise refused("geweigerd", [], None)
    wrong = BadInput(text("svc.a"), fields={"pupil": "Een leerlingnummer van 1 tot 64 tekens"})
    raise BadInput(text("svc.b", choices=", ".join(x)), fields={"group": text("svc.c")})
    raise fail("digest", text("svc.d"))
    raise refused(messages.text("svc.e"), [Reason("case_closed")], None)
    log.info("case.opened", school=x)
    raise Refused(READ_ONLY)
    raise Refused(KEY)
READ_ONLY = ("de database is alleen-lezen, "
             "lees van de hoofddatabase")
KEY = "svc.access.read_only"
'''
    found = [(line, name) for line, name, _ in inline_messages(source, {"BadInput", "NotFound", "Refused"})]
    assert found == [(3, "BadInput"), (4, "NotFound"), (5, "BadInput"), (6, "fail"), (7, "refused"),
                     (8, "BadInput"), (13, "Refused")]


# ---- the keys --------------------------------------------------------------------------------


def _key_uses() -> tuple[list[tuple[str, str, set[str] | None]], list[re.Pattern[str]]]:
    """Every text(...) call of the service layer with a written key: (where, key, the names it
    fills in, or None when it passes **values), the keys chosen by an if-else or held in a
    variable first (as (where, key, None)), and the keys built with an f-string (as patterns)."""
    uses: list[tuple[str, str, set[str] | None]] = []
    patterns: list[re.Pattern[str]] = []
    for path, _ in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(REPO))
        in_calls: set[int] = set()
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and call_name(node.func) in TEXT_CALLS and node.args):
                continue
            key = node.args[0]
            names = None if any(k.arg is None for k in node.keywords) else {str(k.arg) for k in node.keywords}
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                uses.append((f"{where}:{node.lineno}", key.value, names))
                in_calls.add(id(key))
            elif isinstance(key, ast.JoinedStr):
                pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else r"[a-z_]+" for v in key.values)
                patterns.append(re.compile(pattern + "$"))
        for node in ast.walk(tree):  # keys written apart from their call (an if-else, a variable)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_calls \
                    and re.fullmatch(r"svc(\.[a-z_]+)+", node.value):
                uses.append((f"{where}:{node.lineno}", node.value, None))
    return uses, patterns


def test_every_key_the_code_uses_is_in_both_catalogs_with_its_placeholders() -> None:
    """svc.* keys, and the others the service layer reads (mail.*, a reason code's wording)."""
    uses, patterns = _key_uses()
    assert len({key for _, key, _ in uses if key.startswith("svc.")}) > 150  # the scan sees the code
    catalogs = {lang: po_catalog(lang) for lang in ("nl", "en")}
    for where, key, names in uses:
        in_both_catalogs(where, key, names)
    for pattern in patterns:
        for lang, cat in catalogs.items():
            assert any(pattern.match(k) for k in cat), f"no {pattern.pattern} in the {lang} catalog"


def test_no_svc_entry_is_left_unused() -> None:
    """The audit timeline's HTML template names its keys (svc.audit.timeline.html.*) itself;
    test_timeline_words reads them from it."""
    from tests.test_timeline_words import template_words_and_keys

    uses, patterns = _key_uses()
    used = {key for _, key, _ in uses} | template_words_and_keys()[1]
    unused = [k for k in po_catalog("nl") if k.startswith("svc.") and k not in used
              and not any(p.match(k) for p in patterns)]
    assert unused == []


# ---- the language ----------------------------------------------------------------------------
def test_a_service_error_reads_in_english_when_english_is_set(
        monkeypatch: pytest.MonkeyPatch, engine: Any) -> None:
    """The same refusal, in Dutch (the default) and in English (`PASSEND_LANGUAGE=en`)."""
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    with pytest.raises(NotFound) as dutch:
        engine.case("C-ZZZZZZZZ", actor="ib.jansen")
    assert dutch.value.message == "casus 'C-ZZZZZZZZ' bestaat niet"
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    with pytest.raises(NotFound) as english:
        engine.case("C-ZZZZZZZZ", actor="ib.jansen")
    assert english.value.message == "case 'C-ZZZZZZZZ' does not exist"
    with pytest.raises(BadInput) as kind:
        engine.record("sticker", "C-ZZZZZZZZ", actor="ib.jansen")
    assert kind.value.message.startswith("unknown kind of evidence 'sticker' (choose from: ")


def test_a_config_error_that_was_english_now_reads_in_dutch(monkeypatch: pytest.MonkeyPatch) -> None:
    """[reminders] used to answer in English whatever the language; now Dutch by default."""
    from workflow.service_layer.reminders.settings import parse_settings

    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    with pytest.raises(PassendError) as dutch:
        parse_settings([], "config.toml")
    assert dutch.value.message == "config.toml: reminders: moet een tabel zijn ([reminders])"
    with pytest.raises(PassendError) as bad_time:
        parse_settings({"send_time": "half acht"}, "config.toml")
    assert bad_time.value.message == 'config.toml: reminders.send_time: moet een tijd zijn zoals "07:30"'
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    with pytest.raises(PassendError) as english:
        parse_settings([], "config.toml")
    assert english.value.message == "config.toml: reminders: must be a table ([reminders])"

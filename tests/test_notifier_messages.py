"""The notifiers' config problems come from the message catalog (`notify.*` keys), never as an
inline sentence: an operator reads them in plain Dutch (English with `PASSEND_LANGUAGE=en`), and
the wording lives in the catalogs (workflow/messages/locale/{nl,en}/LC_MESSAGES/passend.po).

The notifiers stand alone (an import contract forbids them anything of workflow), so they cannot
say a `Said`. A NotifierConfigError carries the catalog's key and its values instead, and passend
words it (workflow/bootstrap.py's make_notifier, the reminder service's start). Its plain `str()`,
for a program that uses the notifiers on their own, is the English of one table, notifiers.base's
TEXTS, which this file holds to the English catalog word for word.

The scan reads notifiers/*.py with Python's own parser: every NotifierConfigError(...) is made
with a written `notify.*` key, and no words (two runs of letters with a space between) stand in its
arguments. What the scan cannot see: a sentence held in a variable or constant first, then given
as a value; review keeps those out. NotifierError (a send that failed, stored in the outbox's
last_error and shown later) keeps its inline Dutch on purpose and is not scanned.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

import notifiers
import workflow.messages  # noqa: F401  (installs the catalog as the renderer of Said)
from notifiers import NotifierConfigError
from notifiers.base import TEXTS
from workflow.domain.errors import ConfigError

from .catalog_support import call_name, in_both_catalogs, po_catalog
from .conftest import CliResult, write_config

REPO = Path(__file__).resolve().parents[1]
FILES = sorted((REPO / "notifiers").glob("*.py"))
KEY = re.compile(r"notify(\.[a-z_]+)+")
WORDS = re.compile(r"[^\W\d_]+\s+[^\W\d_]+", re.UNICODE)
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


def _worded(node: ast.AST) -> list[str]:
    """Words written into `node` (a key such as "notify.smtp.host_required" has none)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if WORDS.search(node.value) else []
    if isinstance(node, ast.JoinedStr):  # f"notifier.{k}" names a key; f"kan {x} niet maken" is a sentence
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return [ast.unparse(node)] if LETTERS.search(parts) and re.search(r"\s", parts) else []
    found: list[str] = []
    for child in ast.iter_child_nodes(node):
        found += _worded(child)
    return found


def inline_problems(source: str) -> list[tuple[int, str]]:
    """(line, what is wrong) of every NotifierConfigError in `source` not made with a written
    notify.* key, or with words among its arguments (a literal with two words, an f-string with
    letters and a space in its written parts)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name) and node.exc.id == "NotifierConfigError":
            found.append((node.lineno, "raised without a key"))
        if not (isinstance(node, ast.Call) and call_name(node.func) == "NotifierConfigError"):
            continue
        first = node.args[0] if node.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and KEY.fullmatch(first.value)):
            found.append((node.lineno, ast.unparse(first) if first is not None else "no key"))
            continue
        for child in [*node.args[1:], *(k.value for k in node.keywords)]:
            found += [(node.lineno, words) for words in _worded(child)]
    return sorted(set(found))


def test_no_notifier_config_error_is_made_with_a_sentence() -> None:
    found = [f"{path.relative_to(REPO)}:{line}: {what}"
             for path in FILES for line, what in inline_problems(path.read_text(encoding="utf-8"))]
    assert found == [], "put these in passend.po (nl and en) as notify.<area>.<what> and in notifiers.base.TEXTS"


def test_the_scan_finds_inline_sentences_where_they_are() -> None:
    source = '''
def f(k, folder, exc):
    raise NotifierConfigError("notifier.host: the SMTP server's host name is required")
    raise NotifierConfigError(f"notifier.{k}: unknown")
    raise NotifierConfigError("notify.file.folder_cannot_make", field="notifier.folder", reason=f"kan niet {exc}")
    raise NotifierConfigError("notify.smtp.host_required", field="notifier.host")
    raise NotifierConfigError("notify.options.unknown_key", field=f"notifier.{k}", allowed=", ".join(k))
    raise NotifierConfigError("notify.file.folder_not_writable", field="notifier.folder", folder=str(folder))
    raise NotifierError(f"kan niet schrijven naar {folder}", down=True)
    raise NotifierConfigError
'''
    assert [line for line, _ in inline_problems(source)] == [3, 4, 5, 10]


# ---- the keys --------------------------------------------------------------------------------


def _key_uses() -> list[tuple[str, str, set[str] | None]]:
    """(where, key, the names it fills in) of every NotifierConfigError("notify....", ...) in
    notifiers/, and (where, key, None) of every notify.* key written elsewhere there (TEXTS)."""
    uses: list[tuple[str, str, set[str] | None]] = []
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(REPO))
        in_calls: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and call_name(node.func) == "NotifierConfigError" and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                uses.append((f"{where}:{node.lineno}", node.args[0].value, {str(k.arg) for k in node.keywords}))
                in_calls.add(id(node.args[0]))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_calls \
                    and KEY.fullmatch(node.value):
                uses.append((f"{where}:{node.lineno}", node.value, None))
    return uses


def test_every_key_the_notifiers_name_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _key_uses()
    made = {key for _, key, names in uses if names is not None}
    assert len(made) >= 18  # the scan sees the code
    for where, key, names in uses:
        assert names is None or "field" in names, f"{where}: {key} names no field"
        in_both_catalogs(where, key, names)


def test_no_notify_entry_is_left_unused_and_the_fallback_is_the_english_catalog() -> None:
    """The notifiers' own TEXTS (their str() when used without passend) has exactly the keys
    they make, each the English catalog's sentence word for word."""
    made = {key for _, key, names in _key_uses() if names is not None}
    nl, en = po_catalog("nl"), po_catalog("en")
    assert sorted(k for k in nl if k.startswith("notify.")) == sorted(made)
    assert sorted(k for k in en if k.startswith("notify.")) == sorted(made)
    assert {k: en[k] for k in made} == TEXTS


def test_the_error_carries_its_key_and_values_and_reads_in_english_on_its_own() -> None:
    with pytest.raises(NotifierConfigError) as err:
        notifiers.create({"backend": "smtp", "host": "h", "username": "u"}, Path("."))
    assert (err.value.key, err.value.values, err.value.field) == (
        "notify.smtp.password_env_required", {"field": "notifier.password_env"}, "notifier.password_env")
    assert str(err.value) == "notifier.password_env: needed with username (the variable holding the password)"
    assert isinstance(err.value, ValueError)


# ---- real bad configs, read in Dutch and in English -------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> CliResult:
    from workflow.entrypoints.cli.main import main as cli_main

    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def _said(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> str:
    """The one line passend says (the log's JSON lines apart), with exit 2."""
    r = _run(capsys, cfg, *args)
    lines = [line for line in r.err.splitlines() if line.startswith("passend: ")]
    assert r.code == 2 and len(lines) == 1 and "Traceback" not in r.err, r.err
    return lines[0]


def _smtp(**keys: Any) -> str:
    lines = ["", "[notifier]", 'backend = "smtp"', 'host = "127.0.0.1"', "port = 2525"]
    lines += [f'{k} = "{v}"' for k, v in keys.items()]
    return "\n".join([*lines, ""])


BAD_CONFIGS = {
    "password_unset": (
        _smtp(username="passend", password_env="PASSEND_GEEN_WACHTWOORD"),
        "notifier.password_env: de omgevingsvariabele PASSEND_GEEN_WACHTWOORD (het SMTP-wachtwoord) is niet gezet",
        "notifier.password_env: the environment variable PASSEND_GEEN_WACHTWOORD (the SMTP password) is not set"),
    "ca_file_unreadable": (
        _smtp(ca_file="geen.pem"),
        "notifier.ca_file: {tmp}/geen.pem is geen leesbaar PEM-bestand (FileNotFoundError)",
        "notifier.ca_file: {tmp}/geen.pem is not a readable PEM file (FileNotFoundError)"),
    "folder_cannot_make": (
        '\n[notifier]\nbackend = "file"\nfolder = "een-bestand/uit"\n',
        "notifier.folder: kan {tmp}/een-bestand/uit niet maken (",
        "notifier.folder: cannot create {tmp}/een-bestand/uit ("),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_bad_notifier_config_is_one_dutch_line_and_english_under_en(
        case: str, tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`passend serve` and `passend reminders dispatch` check the notifier when they start."""
    extra, dutch, english = BAD_CONFIGS[case]
    monkeypatch.delenv("PASSEND_GEEN_WACHTWOORD", raising=False)
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    (tmp_path / "een-bestand").write_text("geen map\n")
    cfg = write_config(tmp_path, sqlite_url, extra=extra)
    assert _run(capsys, cfg, "init").code == 0
    for args in (("serve", "--once"), ("reminders", "dispatch", "--once")):
        monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
        assert _said(capsys, cfg, *args).startswith("passend: config.toml: " + dutch.format(tmp=tmp_path))
        monkeypatch.setenv("PASSEND_LANGUAGE", "en")
        assert _said(capsys, cfg, *args).startswith("passend: config.toml: " + english.format(tmp=tmp_path))


@pytest.mark.parametrize(("options", "dutch", "english"), [
    ({"backend": "duif"}, "notifier.backend: onbekende backend 'duif' (bekend: smtp, file, console)",
     "notifier.backend: unknown backend 'duif' (known: smtp, file, console)"),
    ({"backend": "smtp"}, "notifier.host: de naam van de SMTP-server is verplicht",
     "notifier.host: the SMTP server's host name is required"),
    ({"backend": "smtp", "host": "h", "port": 70000}, "notifier.port: moet een poortnummer zijn (1-65535)",
     "notifier.port: must be a port number (1-65535)"),
    ({"backend": "console", "folder": "x"},
     'notifier.folder: onbekende sleutel bij backend = "console" (toegestaan: backend, from)',
     "notifier.folder: unknown key for the console notifier (allowed: backend, from)"),
    ({"backend": "file", "from": "geen adres"},
     "notifier.from: moet een e-mailadres zijn, zoals passend@school.example",
     "notifier.from: must be an email address such as passend@school.example"),
])
def test_a_notifier_the_composition_root_cannot_make_reads_in_dutch(
        options: dict[str, Any], dutch: str, english: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What config.toml's schema check lets through reaches `notifiers.create`; a config changed
    after loading (as here) shows its answers, which were English whatever the language."""
    from workflow.bootstrap import bootstrap, make_notifier

    cfg = write_config(tmp_path, "memory://")
    engine = bootstrap(cfg, create_key=True)
    engine.config.raw["notifier"] = options
    with pytest.raises(ConfigError) as err:
        make_notifier(engine)
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    assert err.value.message == f"{cfg}: {dutch}"
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert err.value.message == f"{cfg}: {english}"
    assert str(err.value) == f"{cfg}: {english}"

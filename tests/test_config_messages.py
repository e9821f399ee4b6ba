"""config.toml's problems come from the message catalog (`cfg.*` keys), never as inline Dutch
or English: the person who keeps the config reads them in plain Dutch (English with
`PASSEND_LANGUAGE=en`), and the wording lives in one place, the catalogs
(workflow/messages/locale/{nl,en}/LC_MESSAGES/passend.po).

The files: the config loader (adapters/config.py), its schema (adapters/config_schema.py),
`[web]`'s settings (adapters/web_settings.py), the master key and the case keys
(adapters/crypto.py), the OIDC client (adapters/oidc.py) and the school calendar
(domain/calendar.py).

The scan reads them with Python's own parser. A message is inline when words (two runs of
letters with a space between) stand in a string literal or an f-string anywhere in them but a
docstring, or when a domain error (ConfigError and the others) is made with anything but a
`Said(...)`. What the scan cannot see: a sentence glued from single words; review keeps those
out. What stays inline is allowed below by file and call, each with its reason.

The keys these files say (`Said("cfg....", ...)`) are in both catalogs with the placeholders the
code fills in, and no `cfg.*` entry is left that nothing uses. Then real errors, made by the real
code (a config.toml in tmp_path read by `passend`, the schema, `[web]`, the master key, the
calendar), read in Dutch by default and in English under PASSEND_LANGUAGE=en.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

import workflow.messages  # noqa: F401  (installs the catalog as the renderer of Said)
from tests.conftest import write_config
from workflow.adapters.config import definition_file_of, load_config
from workflow.adapters.config_schema import check_roles
from workflow.adapters.crypto import CaseCipher, KeyRing, load_master_key
from workflow.adapters.web_settings import parse_web
from workflow.domain import errors as domain_errors
from workflow.domain.calendar import SchoolCalendar, parse_days_off
from workflow.domain.errors import ConfigError, PassendError
from workflow.entrypoints.cli.main import main as cli_main

from .catalog_support import call_name, in_both_catalogs, po_catalog

REPO = Path(__file__).resolve().parents[1]
FILES = (
    "workflow/adapters/config.py",
    "workflow/adapters/config_schema.py",
    "workflow/adapters/web_settings.py",
    "workflow/adapters/crypto.py",
    "workflow/adapters/oidc.py",
    "workflow/domain/calendar.py",
)
SAID_MAKERS = frozenset({"Said", "_invalid_toml"})  # calls that make a Said (config.py's _invalid_toml)
WORDS = re.compile(r"[^\W\d_]+\s+[^\W\d_]+", re.UNICODE)

# (file, the call the text is given to or "" outside a call, a piece of the text): why it stays inline.
ALLOWED = {
    ("workflow/adapters/oidc.py", "OidcError", ""):
        "not a domain error: the sign-in pages log it (signin.oidc_unavailable, signin.oidc_refused) "
        "and show their own words (web.*); the log stays English, as every log record does",
    ("workflow/adapters/config.py", "match", "(at line "):
        "the pattern of tomllib's own phrase, read to put its line and column in the reader's words",
    ("workflow/adapters/web_settings.py", "get", "Inloggen met uw schoolaccount"):
        "the sign-in button's default label (web.oidc.label's default), a value of the config, "
        "not a problem",
}


# ---- the scan --------------------------------------------------------------------------------


def _exception_names() -> set[str]:
    return {n for n, v in vars(domain_errors).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes (a bare string as a statement)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}


def _words(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(WORDS.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_words(v) for v in node.values if isinstance(v, ast.Constant))
    return False


def inline_messages(source: str) -> list[tuple[int, str, str]]:
    """(line, the call it is given to or "", the text) of every message written into `source`:
    words in a string outside a docstring, and a domain error made with anything but a Said."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    exceptions = _exception_names()
    calls: dict[int, str] = {}  # id of a node -> the innermost call it is an argument of
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for inner in ast.walk(arg):
                    calls[id(inner)] = str(call_name(node.func))  # outer first; inner calls overwrite
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            if _words(node):
                found.append((node.lineno, calls.get(id(node), ""), ast.unparse(node)))
        elif isinstance(node, ast.Constant) and id(node) not in docs | parts and _words(node):
            found.append((node.lineno, calls.get(id(node), ""), repr(node.value)))
        if isinstance(node, ast.Call) and call_name(node.func) in exceptions:
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Call) and call_name(first.func) in SAID_MAKERS):
                found.append((node.lineno, str(call_name(node.func)), ast.unparse(first) if first else ""))
    return sorted(set(found))


def _found() -> list[tuple[str, int, str, str]]:
    return [(file, line, call, text) for file in FILES
            for line, call, text in inline_messages((REPO / file).read_text(encoding="utf-8"))]


def _allowance(file: str, call: str, text: str) -> tuple[str, str, str] | None:
    return next((a for a in ALLOWED if a[:2] == (file, call) and a[2] in text), None)


def test_the_config_files_write_no_message_of_their_own() -> None:
    found = [f"{file}:{line}: {call}({text})" for file, line, call, text in _found()
             if _allowance(file, call, text) is None]
    assert found == [], "put these in passend.po (nl and en) as cfg.<area>.<what> and raise Said(...)"


def test_every_allowance_is_still_needed() -> None:
    used = {_allowance(file, call, text) for file, _, call, text in _found()}
    assert set(ALLOWED) <= used


def test_the_scan_finds_inline_messages_where_they_are() -> None:
    """Words in a literal or an f-string are found wherever they stand (an error, a fail helper,
    a check's return, a variable), and so is a domain error made with anything but a Said; a
    Said, a key, a docstring and single words are not."""
    source = '''
def check(value, fail, run, key, why):
    """A docstring has words and is not a message."""
    raise ConfigError(f"{key}: must be a table")
    raise run.fail(key, "onbekende sleutel")
    return f"moet een getal zijn, niet {value}"
    problem = "mag niet leeg zijn"
    raise ConfigError(why)
    raise fail(key, Said("cfg.value.empty"))
    raise ConfigError(Said("cfg.at", file="config.toml", key=f"web.{key}", problem=Said("cfg.web.table")))
    known = ", ".join(value) or Said("cfg.schema.none")
    return "true" if value else "false"
'''
    found = [(line, call) for line, call, _ in inline_messages(source)]
    assert found == [(4, "ConfigError"), (5, "fail"), (6, ""), (7, ""), (8, "ConfigError")]


# ---- the keys --------------------------------------------------------------------------------


def _keys_of(node: ast.expr) -> list[str]:
    """The key a Said is given: a literal, or either side of `"a" if x else "b"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _keys_of(node.body) + _keys_of(node.orelse)
    return []


def _said_keys() -> list[tuple[str, str, set[str]]]:
    """(where, key, the names it fills in) of every Said(...) in the files."""
    uses = []
    for file in FILES:
        for node in ast.walk(ast.parse((REPO / file).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and call_name(node.func) == "Said":
                keys = _keys_of(node.args[0]) if node.args else []
                assert keys, f"{file}:{node.lineno}: a Said whose key the scan cannot read"
                uses += [(f"{file}:{node.lineno}", key, {str(k.arg) for k in node.keywords}) for key in keys]
    return uses


def test_every_key_the_files_say_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _said_keys()
    assert len({key for _, key, _ in uses}) > 60  # the scan sees the code
    for where, key, names in uses:
        assert key.startswith("cfg."), f"{where}: {key}"
        in_both_catalogs(where, key, names)


def test_no_cfg_entry_is_left_unused() -> None:
    used = {key for _, key, _ in _said_keys()}
    for lang in ("nl", "en"):
        assert [k for k in po_catalog(lang) if k.startswith("cfg.") and k not in used] == [], lang


# ---- the language ----------------------------------------------------------------------------
def _both(monkeypatch: pytest.MonkeyPatch, err: PassendError) -> tuple[str, str]:
    """The same error read in Dutch (the default) and in English: a Said is rendered each time
    it is read, in the language in force then."""
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    dutch = err.message
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = err.message
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    return dutch, english


def _config(tmp_path: Path, old: str = "", new: str = "") -> Path:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}")
    text = cfg.read_text(encoding="utf-8")
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")
    return cfg


def _line_with(cfg: Path, needle: str) -> int:
    return next(i for i, line in enumerate(cfg.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def _loaded(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value


def test_passend_says_a_bad_config_in_one_dutch_line_and_in_english_when_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A real config.toml with a typo, read by `passend init` as a user runs it: one line, exit
    2, no database made; the same line in English with PASSEND_LANGUAGE=en."""
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)
    cfg = _config(tmp_path, 'url = "', 'uri = "postgresql://passend@db.example/passend"\nurl = "')
    line = _line_with(cfg, "uri = ")
    known = "group_commit, lock_timeout_seconds, statement_timeout_seconds, url"
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    capsys.readouterr()
    assert cli_main(["--config", str(cfg), "init"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"passend: config.toml, regel {line}: database.uri: onbekende sleutel (bekend: {known})"
                              "\n")
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert cli_main(["--config", str(cfg), "init"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"passend: config.toml, line {line}: database.uri: unknown key (known: {known})\n")
    assert not (tmp_path / "passend.db").exists()


def test_a_file_that_is_not_there_a_folder_or_not_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nope = tmp_path / "nope.toml"
    assert _both(monkeypatch, _loaded(nope)) == (
        f"{nope}: configuratiebestand niet gevonden (geef --config of PASSEND_CONFIG)",
        f"{nope}: config file not found (give --config or PASSEND_CONFIG)")
    assert _both(monkeypatch, _loaded(tmp_path)) == (
        f"{tmp_path} is een map; geef het configuratiebestand zelf (--config of PASSEND_CONFIG)",
        f"{tmp_path} is a folder; give the config file itself (--config or PASSEND_CONFIG)")
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\n", encoding="utf-8")  # the parser's own phrase stays its own
    assert _both(monkeypatch, _loaded(bad)) == (
        f"{bad}: geen geldige TOML op regel 1, kolom 10: Expected ']' at the end of a table declaration",
        f"{bad}: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 10)")
    bad.write_bytes(b"\xff\xfe[database]\n")
    assert _both(monkeypatch, _loaded(bad)) == (
        f"{bad}: kan het configuratiebestand niet lezen (UnicodeDecodeError)",
        f"{bad}: cannot read the config file (UnicodeDecodeError)")


# (what is replaced, by what, the key, the Dutch, the English, the text of the line named)
CHECKS = [
    ('level = "warning"', 'level = "loud"', "logging.level",
     "moet een van debug, info, warning, error, critical zijn, niet 'loud'",
     "must be one of debug, info, warning, error, critical, not 'loud'", 'level = "loud"'),
    ("[database]", "[database]\nlock_timeout_seconds = 0", "database.lock_timeout_seconds",
     "moet een getal groter dan 0 tot en met 3600 zijn, niet 0",
     "must be a number above 0 and at most 3600, not 0", "lock_timeout_seconds"),
    ("[logging]", "[reminders]\ntick_seconds = [1]\n\n[logging]", "reminders.tick_seconds",
     "moet een geheel getal van 1 tot en met 86400 zijn, niet een lijst",
     "must be a whole number from 1 to 86400, not a list", "tick_seconds"),
    ("[logging]", "[reminders]\nremind_roles = { ib = 1 }\n\n[logging]", "reminders.remind_roles",
     'moet een lijst zijn, zoals ["a", "b"], niet een tabel', 'must be a list such as ["a", "b"], not a table',
     "remind_roles"),
    ("[logging]", "[retention]\nyears_by_reason = 3\n\n[logging]", "retention.years_by_reason",
     "moet een tabel zijn, zoals { tlv = 3 }, niet 3", "must be a table such as { tlv = 3 }, not 3",
     "years_by_reason"),
    ('days_off = ["2026-10-02"]', 'days_off = ["2026-10-09/2026-10-05"]', "schools[0].days_off[0]",
     "'2026-10-09/2026-10-05' eindigt voor het begint", "'2026-10-09/2026-10-05' ends before it begins", "days_off"),
    ('email = "groep5@de-linde.school.example"', 'email = "IB@de-linde.school.example"', "users[1].email",
     "'IB@de-linde.school.example' is ook het adres van users[0]",
     "'IB@de-linde.school.example' is also the address of users[0]", "IB@de-linde"),
    ('schools = ["*"]', 'schools = ["de-eik"]', "users[4].schools[0]",
     "onbekende school 'de-eik' (bekend: de-linde, het-anker, of \"*\")",
     "unknown school 'de-eik' (known: de-linde, het-anker, or \"*\")", 'schools = ["de-eik"]'),
    ("[logging]", '[notifier]\nbackend = "smtp"\nhost = "mail"\nusername = "u"\npassword_env = "P"\n'
     'security = "none"\n\n[logging]', "notifier.security",
     '"none" met een username zou het wachtwoord onversleuteld versturen: gebruik starttls of ssl',
     '"none" with a username would send the password unencrypted: use starttls or ssl', 'security = "none"'),
    ("[logging]", '[notifier]\nbackend = "smtp"\n\n[logging]', "notifier.host",
     "de naam van de mailserver ontbreekt (verplicht bij smtp)",
     "the name of the mail server is missing (required with smtp)", "[notifier]"),
    ('url = "', 'url = "mysql://x/y"\n# was: "', "database.url",
     "moet een database-URL zijn zoals sqlite:///var/passend.db of postgresql://gebruiker@host/database",
     "must be a database URL such as sqlite:///var/passend.db or postgresql://user@host/database", "mysql://"),
]


@pytest.mark.parametrize(("old", "new", "key", "dutch", "english", "at"), CHECKS)
def test_a_check_of_the_file_reads_in_dutch_and_in_english(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, old: str, new: str, key: str, dutch: str, english: str,
        at: str) -> None:
    cfg = _config(tmp_path, old, new)
    line = _line_with(cfg, at)
    assert _both(monkeypatch, _loaded(cfg)) == (f"config.toml, regel {line}: {key}: {dutch}",
                                                f"config.toml, line {line}: {key}: {english}")


def test_a_missing_definition_and_an_unknown_role(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    definition = re.search(r'^definition = "(.*)"$', text, re.M)
    assert definition is not None
    cfg.write_text(text.replace(definition.group(1), "weg.toml"), encoding="utf-8")
    line = _line_with(cfg, 'definition = "weg.toml"')
    assert _both(monkeypatch, _loaded(cfg)) == (
        f"config.toml, regel {line}: process.definition: {tmp_path / 'weg.toml'} bestaat niet",
        f"config.toml, line {line}: process.definition: {tmp_path / 'weg.toml'} does not exist")
    cfg = _config(tmp_path, 'role = "leerkracht"', 'role = "koning"')
    config = load_config(cfg)
    with pytest.raises(ConfigError) as err:
        check_roles(config.raw, config.source, config.path, ("ib", "leerkracht"))
    line = _line_with(cfg, 'role = "koning"')
    assert _both(monkeypatch, err.value) == (
        f"config.toml, regel {line}: users[1].role: onbekende rol 'koning' (bekend: ib, leerkracht)",
        f"config.toml, line {line}: users[1].role: unknown role 'koning' (known: ib, leerkracht)")
    empty = tmp_path / "empty.toml"
    empty.write_text('[process]\ndefinition = ""\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        definition_file_of(empty)
    assert _both(monkeypatch, err.value) == (
        f"{empty}: process.definition: moet een pad naar een procesdefinitie zijn",
        f"{empty}: process.definition: must be the path of a process definition")


@pytest.mark.parametrize(("web", "env", "dutch", "english"), [
    ("https", {}, "web: moet een tabel zijn", "web: must be a table"),
    ({"colour": "blue"}, {}, "web.colour: onbekende sleutel (bekend: base_url, email_link, idle_minutes, "
     "link_minutes, max_hours, metrics_token_env, oidc, secure_cookies)",
     "web.colour: unknown key (known: base_url, email_link, idle_minutes, link_minutes, max_hours, "
     "metrics_token_env, oidc, secure_cookies)"),
    ({"idle_minutes": 0}, {}, "web.idle_minutes: moet een geheel getal van 5 tot en met 1440 zijn",
     "web.idle_minutes: must be a whole number from 5 to 1440"),
    ({"email_link": False}, {}, "web.email_link: met email_link = false is [web.oidc] nodig: anders kan niemand "
     "inloggen", "web.email_link: with email_link = false, [web.oidc] is needed: else nobody can sign in"),
    ({"metrics_token_env": "TOKEN"}, {}, "web.metrics_token_env: de omgevingsvariabele TOKEN (het token voor "
     "/metrics) is niet gezet", "web.metrics_token_env: the environment variable TOKEN (the token for /metrics) "
     "is not set"),
    ({"oidc": {"issuer": "http://idp.example", "client_id": "x"}}, {},
     "web.oidc.issuer: moet https zijn (http alleen voor een provider op deze computer)",
     "web.oidc.issuer: must be https (http only for a provider on this machine)"),
    ({"oidc": {"issuer": "https://idp.example", "client_id": "x", "client_secret_env": "S"}}, {},
     "web.oidc.client_secret_env: de omgevingsvariabele S is niet gezet",
     "web.oidc.client_secret_env: environment variable S is not set"),
    ({"oidc": {"issuer": "https://idp.example", "client_id": "x", "scopes": ["email"]}}, {},
     'web.oidc.scopes: moet een lijst van scopes zijn met "openid" erbij',
     'web.oidc.scopes: must be a list of scopes that includes "openid"'),
])
def test_web_reads_in_dutch_now_and_in_english_when_asked(
        monkeypatch: pytest.MonkeyPatch, web: Any, env: dict[str, str], dutch: str, english: str) -> None:
    """[web]'s checks answered in English whatever the language; now Dutch by default."""
    with pytest.raises(ConfigError) as err:
        parse_web(web, "config.toml", env=env)
    assert _both(monkeypatch, err.value) == (f"config.toml: {dutch}", f"config.toml: {english}")


def test_the_master_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PASSEND_MASTER_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        load_master_key(None)
    assert _both(monkeypatch, err.value) == (
        "geen hoofdsleutel: zet PASSEND_MASTER_KEY of security.master_key_file",
        "no master key: set PASSEND_MASTER_KEY or security.master_key_file")
    key = tmp_path / "master.key"
    with pytest.raises(ConfigError) as err:
        load_master_key(key)
    assert _both(monkeypatch, err.value) == (
        f"het sleutelbestand {key} bestaat niet; voer 'passend init' uit",
        f"the key file {key} does not exist; run 'passend init'")
    with pytest.raises(ConfigError) as err:
        load_master_key(tmp_path)
    assert _both(monkeypatch, err.value) == (
        f"security.master_key_file: {tmp_path} is een map; daar hoort het sleutelbestand",
        f"security.master_key_file: {tmp_path} is a folder; the key file belongs there")
    key.write_text("te kort\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_master_key(key)
    assert _both(monkeypatch, err.value) == (
        f"de hoofdsleutel uit {key} moet 32 bytes zijn, base64url-gecodeerd",
        f"the master key from {key} must be 32 bytes, base64url-encoded")


def test_another_master_key_and_an_erased_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both were English whatever the language; now Dutch by default."""
    _, wrapped = KeyRing(b"a" * 32).new_case_key("C-1")
    with pytest.raises(ConfigError) as err:
        KeyRing(b"b" * 32).unwrap("C-1", wrapped)
    assert _both(monkeypatch, err.value) == (
        "de hoofdsleutel opent de sleutels van de casussen in deze database niet",
        "the master key does not open this database's case keys")
    sealed = KeyRing(b"a" * 32).seal_secret("totp/ib.jansen", "geheim")
    with pytest.raises(ConfigError) as err:
        KeyRing(b"b" * 32).open_secret("totp/ib.jansen", sealed)
    assert _both(monkeypatch, err.value) == (
        "de hoofdsleutel opent de inloggeheimen in deze database niet",
        "the master key does not open this database's sign-in secrets")
    with pytest.raises(ConfigError) as err:
        CaseCipher("C-1", None).seal("notes", "x")
    assert _both(monkeypatch, err.value) == (
        "casus C-1 is gewist; er kan niets meer aan worden toegevoegd",
        "case C-1 is erased; nothing can be added to it")


def test_a_wrong_master_key_on_a_real_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQLite file made with one master key, opened with another: one Dutch line (exit 2), and
    the same in English when asked."""
    cfg = _config(tmp_path)
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)
    assert cli_main(["--config", str(cfg), "init"]) == 0
    capsys.readouterr()
    assert cli_main(["--config", str(cfg), "case", "open", "--pupil", "LL-1", "--school", "de-linde",
                     "--actor", "ib.jansen", "--json"]) == 0
    case = json.loads(capsys.readouterr().out)["case_id"]
    monkeypatch.setenv("PASSEND_MASTER_KEY", "B" * 43)
    assert cli_main(["--config", str(cfg), "case", "show", case, "--actor", "ib.jansen"]) == 2
    assert capsys.readouterr().err == \
        "passend: de hoofdsleutel opent de sleutels van de casussen in deze database niet\n"
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert cli_main(["--config", str(cfg), "case", "show", case, "--actor", "ib.jansen"]) == 2
    assert capsys.readouterr().err == "passend: the master key does not open this database's case keys\n"


def test_the_calendar_reads_in_dutch_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calendar's problems were English whatever the language; now Dutch by default."""
    with pytest.raises(ConfigError) as err:
        parse_days_off(["2026-10-02", "volgende week"], "schools[1].days_off")
    assert _both(monkeypatch, err.value) == (
        "schools[1].days_off[1]: 'volgende week' is geen datum of reeks (JJJJ-MM-DD of JJJJ-MM-DD/JJJJ-MM-DD)",
        "schools[1].days_off[1]: 'volgende week' is not a date or range (YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD)")
    with pytest.raises(ConfigError) as err:
        parse_days_off(["2026-01-01/2027-06-01"], "days_off")
    assert _both(monkeypatch, err.value) == ("days_off[0]: '2026-01-01/2027-06-01' is langer dan een jaar",
                                             "days_off[0]: '2026-01-01/2027-06-01' is longer than a year")
    with pytest.raises(ConfigError) as err:
        SchoolCalendar("west")
    assert _both(monkeypatch, err.value) == ("onbekende regio 'west' (bekend: noord, midden, zuid)",
                                             "region 'west' is not one of noord, midden, zuid")

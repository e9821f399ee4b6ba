"""config.toml is checked whole against one schema before anything runs (issue 15): unknown keys
in every section, wrong types, invalid addresses and URLs, schools and roles that do not exist;
each one Dutch line naming file, line and key, exit 2, and nothing made or changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from workflow.adapters.config_schema import line_of
from workflow.entrypoints.cli.main import main as cli_main


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> Any:
    from tests.conftest import CliResult

    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)


def _config(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    db = tmp_path / "passend.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    text = cfg.read_text()
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1))
    return cfg, db


def line_with(cfg: Path, needle: str) -> int:
    return next(i for i, line in enumerate(cfg.read_text().splitlines(), 1) if needle in line)


# (what is replaced, by what, the key named, a word of the problem, the line holding this text)
CASES = [
    ('url = "', 'uri = "postgresql://passend@db.example/passend"\nurl = "', "database.uri", "onbekende sleutel",
     "uri = "),
    ('[database]', '[database]\nlock_timeout_seconds = "lang"', "database.lock_timeout_seconds", "getal",
     "lock_timeout_seconds"),
    ('[database]', '[database]\nstatement_timeout_seconds = -1', "database.statement_timeout_seconds", "getal",
     "statement_timeout_seconds"),
    ('master_key_file = ', 'masterkey_file = "x"\nmaster_key_file = ', "security.masterkey_file",
     "onbekende sleutel", "masterkey_file"),
    ('folder = "', 'folders = "x"\nfolder = "', "process.folders", "onbekende sleutel", "folders = "),
    ('region = "zuid"', 'region = "zuid"\nkleur = "blauw"', "schools[1].kleur", "onbekende sleutel", "kleur"),
    ('region = "zuid"', 'region = "west"', "schools[1].region", "noord, midden, zuid", 'region = "west"'),
    ('region = "zuid"', 'region = "zuid"\nfrom = "geen adres"', "schools[1].from", "geen geldig e-mailadres",
     "geen adres"),
    ('days_off = ["2026-10-02"]', 'days_off = ["2 oktober"]', "schools[0].days_off[0]", "geen datum",
     "days_off"),
    ('email = "ib@de-linde.school.example"', 'email = 42', "users[0].email", "moet tekst zijn", "email = 42"),
    ('email = "ib@de-linde.school.example"', 'email = "ib at de-linde"', "users[0].email",
     "geen geldig e-mailadres", "ib at de-linde"),
    ('email = "groep5@de-linde.school.example"', 'email = "IB@de-linde.school.example"', "users[1].email",
     "ook het adres van users[0]", 'email = "IB@'),
    ('role = "ib"\nschools = ["de-linde"]', 'role = "ib"\nschools = ["de-linde"]\ntelefoon = "06"',
     "users[0].telefoon", "onbekende sleutel", "telefoon"),
    ('schools = ["de-linde"]\nemail = "ib@', 'schools = ["de-lind"]\nemail = "ib@', "users[0].schools[0]",
     "onbekende school 'de-lind'", 'schools = ["de-lind"]'),
    ('role = "ib"\nschools = ["de-linde"]', 'role = "koning"\nschools = ["de-linde"]', "users[0].role",
     "onbekende rol 'koning'", 'role = "koning"'),
    ('[logging]', '[reminders]\nremind_roles = ["ib", "conciërge"]\n\n[logging]', "reminders.remind_roles[1]",
     "onbekende rol 'conciërge'", "remind_roles"),
    ('[logging]', '[reminders]\nsend_tijd = "07:30"\n\n[logging]', "reminders.send_tijd", "onbekende sleutel",
     "send_tijd"),
    ('[logging]', '[retention]\nerase_roles = ["directie"]\n\n[logging]', "retention.erase_roles[0]",
     "onbekende rol", "erase_roles"),
    ('[logging]', '[web]\nbase_url = "passend.school.example"\n\n[logging]', "web.base_url", "http(s)-adres",
     "base_url"),
    ('[logging]', '[web.oidc]\nissuer = "https://idp.example"\nclient_id = "x"\nclient = "y"\n\n[logging]',
     "web.oidc.client", "onbekende sleutel", 'client = "y"'),
    ('[logging]', '[notifier]\nbackend = "smtp"\nhost = "mail"\nfolder = "x"\n\n[logging]', "notifier.folder",
     "hoort niet bij backend", 'folder = "x"'),
    ('[logging]', '[notifier]\nbackend = "smtp"\nhost = "mail"\nport = "587"\n\n[logging]', "notifier.port",
     "geheel getal", 'port = "587"'),
    ('health_port = 0', 'health_port = 70000', "serve.health_port", "geheel getal", "health_port"),
    ('[logging]', '[witness]\nto = ["auditor@bestuur.example", "geen adres"]\n\n[logging]', "witness.to[1]",
     "geen geldig e-mailadres", "to = "),
]


@pytest.mark.parametrize(("old", "new", "key", "problem", "where"), CASES, ids=[c[2] for c in CASES])
def test_every_mistake_is_one_line_naming_file_line_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, key: str, problem: str,
        where: str) -> None:
    cfg, db = _config(tmp_path, old, new)
    r = run(capsys, cfg, "init")
    assert r.code == 2, (r.code, r.err)
    assert r.err.startswith(f"passend: config.toml, regel {line_with(cfg, where)}: {key}: "), r.err
    assert problem in r.err and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    assert not db.exists()  # nothing was made: the check comes before anything runs


def test_the_typo_uri_no_longer_falls_back_to_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "sqlite:///unused.db")
    cfg.write_text(cfg.read_text().replace('url = "sqlite:///unused.db"', 'uri = "postgresql://x@y/z"'))
    r = run(capsys, cfg, "init")
    assert r.code == 2 and "database.uri: onbekende sleutel" in r.err
    assert not (tmp_path / "var" / "passend.db").exists() and not list(tmp_path.glob("*.db"))


def test_line_of_finds_keys_in_tables_arrays_and_inline_tables() -> None:
    text = ('[database]\nurl = "x"\n\n[[schools]]\nid = "a"\n\n[[schools]]\nid = "b"\nregion = "zuid"\n'
            '[web.oidc]\nissuer = "i"\n[retention]\nyears_by_reason = { tlv = "drie" }\n')
    assert line_of(text, "database.url") == 2
    assert line_of(text, "schools[1].region") == 9
    assert line_of(text, "schools[1]") == 7
    assert line_of(text, "web.oidc.issuer") == 11
    assert line_of(text, "retention.years_by_reason") == 13
    assert line_of(text, "schools[5].id") is None

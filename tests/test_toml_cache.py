"""The TOML cache (workflow.adapters.toml_cache): a parsed table kept under its text's hash and
read back instead of parsed; nothing kept that the cache must not hold (a config whose database
URL carries a password)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflow.adapters.config import holds_password
from workflow.adapters.toml_cache import TomlCache
from workflow.domain.errors import ConfigError

TEXT = 'title = "passend"\n[database]\nurl = "sqlite:///var/passend.db"\n'


def _kept(folder: Path) -> list[Path]:
    return sorted((folder / "toml").glob("*.json")) if (folder / "toml").exists() else []


def test_a_table_is_kept_once_and_read_back(tmp_path: Path) -> None:
    cache = TomlCache(tmp_path)
    table = cache(TEXT)
    assert table == {"title": "passend", "database": {"url": "sqlite:///var/passend.db"}}
    [file] = _kept(tmp_path)
    assert json.loads(file.read_text(encoding="utf-8")) == table
    file.write_text(json.dumps({"title": "read back"}), encoding="utf-8")  # proves the read is the file's
    assert cache(TEXT) == {"title": "read back"}
    assert cache(TEXT + "# edited\n")["title"] == "passend"  # another text: parsed afresh
    assert len(_kept(tmp_path)) == 2


@pytest.mark.parametrize(("url", "secret"), [
    ("sqlite:///var/passend.db", False),
    ("postgresql://passend@db.example/passend", False),
    ("postgresql://passend:geheim@db.example/passend", True),
    ("postgresql+psycopg://passend:@db.example/passend", True),  # an empty password is still one
    ("postgresql://[::1/broken", True),  # unreadable: kept out rather than guessed at
])
def test_a_database_url_with_a_password_is_a_secret(url: str, secret: bool) -> None:
    assert holds_password({"database": {"url": url}}) is secret
    assert holds_password({"title": "no database section"}) is False


def test_a_table_that_must_not_be_kept_is_parsed_but_never_written(tmp_path: Path) -> None:
    text = '[database]\nurl = "postgresql://passend:geheim@127.0.0.1:1/passend"\n'
    cache = TomlCache(tmp_path, keep=lambda table: not holds_password(table))
    assert cache(text)["database"]["url"].endswith("@127.0.0.1:1/passend")
    assert _kept(tmp_path) == []
    assert cache(TEXT) and len(_kept(tmp_path)) == 1  # a config without one is kept as before


def test_case_shows_reader_keeps_no_password_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bootstrap.reader (the quick `case show`) reads config.toml through the cache: a config
    whose database URL holds a password is parsed there, and no file of the cache holds it."""
    from workflow import bootstrap

    monkeypatch.setenv("PASSEND_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PASSEND_DATABASE_URL", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql://passend:geheim@127.0.0.1:1/passend"\n', encoding="utf-8")
    with pytest.raises(ConfigError):  # it has no definition beside it: refused after the parse
        bootstrap.reader(config)
    held = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and b"geheim" in p.read_bytes()]
    assert held == []

"""config.toml: where the database is, which process runs, the schools and the users.

Relative paths are taken from the config file's folder, so the service behaves the same from
any working directory. The whole file is checked against its schema first
(workflow.adapters.config_schema: unknown keys, types, addresses, URLs, schools), so nothing
below meets a value of the wrong kind. Sections that belong to other parts (reminders, notifier,
retention, web) are kept raw for those parts to read into their typed settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.domain.errors import ConfigError, Said

CONFIG_ENV = "PASSEND_CONFIG"
DATABASE_ENV = "PASSEND_DATABASE_URL"
REGIONS = ("noord", "midden", "zuid")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class School:
    """A school of config.toml: its region (for the holidays) and own days off."""

    id: str
    name: str
    region: str
    days_off: tuple[str, ...] = ()
    sender: str | None = None  # `from`: this school's messages go out from it (else [notifier] from)


@dataclass(frozen=True)
class User:
    """A user acting in passend: role and the schools served (`*`: all of them)."""

    id: str
    role: str
    schools: tuple[str, ...]
    name: str = ""
    email: str | None = None

    def serves(self, school: str) -> bool:
        return "*" in self.schools or school in self.schools


@dataclass(frozen=True)
class Config:
    """config.toml, checked, with its paths resolved against the file's folder."""

    path: Path
    database_url: str
    master_key_file: Path | None
    definition_file: Path
    definitions_folder: Path
    schools: dict[str, School]
    users: dict[str, User]
    log_level: str = "info"
    lock_timeout_seconds: float = 15.0  # [database]: SQLite's busy timeout, PostgreSQL's lock_timeout
    statement_timeout_seconds: float = 300.0  # [database]: PostgreSQL's statement_timeout (0: none)
    group_commit: bool = True  # [database]: the web app's and the service's writers share commits (SQLite)
    file_group: str | None = None  # [security]: files with personal data 0640 for this group (else 0600)
    source: str = field(default="", repr=False)  # the file's text, for the line of a later problem
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def base(self) -> Path:
        return self.path.parent

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p


def default_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or "config.toml")


def _sqlite_url(url: str, base: Path) -> str:
    """Make a relative sqlite path relative to the config folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url


def _known_url(url: str) -> bool:
    """A URL SQLAlchemy can parse, for a store passend has (`memory://`: the in-memory fake).
    A SQLite file's URL is one without asking SQLAlchemy (its pattern takes any text after
    `sqlite:///`): importing it costs more than a whole `case show` may (issue 17)."""
    if url.startswith("sqlite:///"):
        return True
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        driver = make_url(url).drivername
    except (ArgumentError, ValueError):
        return False
    return driver.split("+")[0] in ("sqlite", "postgresql", "postgres", "memory")


TomlParser = Callable[[str], dict[str, Any]]


def parse_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads`, its import paid only by a process that parses a text (a `case show`
    whose config is kept parsed, workflow.adapters.toml_cache, never imports it: issue 17)."""
    import tomllib

    return tomllib.loads(text)


def _read(p: Path, parse: TomlParser = parse_toml) -> tuple[dict[str, Any], str]:
    """The parsed file and its text, or one line saying why not (exit 2). TOML's parser's own
    phrase stays its own (English); the sentence around it is the catalog's."""
    try:
        source = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Said("cfg.read.not_found", path=str(p), env=CONFIG_ENV)) from None
    except IsADirectoryError:
        raise ConfigError(Said("cfg.read.is_folder", path=str(p), env=CONFIG_ENV)) from None
    except PermissionError:
        raise ConfigError(Said("cfg.read.no_permission", path=str(p))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Said("cfg.read.unreadable", path=str(p), error=type(exc).__name__)) from None
    try:
        return parse(source), source
    except ValueError as exc:  # tomllib.TOMLDecodeError, a ValueError
        raise ConfigError(_invalid_toml(str(p), str(exc))) from None


def _invalid_toml(path: str, error: str) -> Said:
    """The parser's complaint with its place in the reader's words: tomllib ends it with "(at
    line N, column M)"; what it says before that is its own (English) and is kept."""
    import re

    m = re.match(r"^(.*?)\s*\(at line (\d+), column (\d+)\)$", error, re.DOTALL)
    if m is None:
        return Said("cfg.read.invalid_toml", path=path, error=error)
    return Said("cfg.read.invalid_toml_at", path=path, error=m.group(1), line=int(m.group(2)),
                column=int(m.group(3)))


def _fail(p: Path, source: str, key: str, problem: Said) -> ConfigError:
    from workflow.adapters.config_schema import problem_at

    return problem_at(p, source, key, problem)


def holds_password(table: dict[str, Any]) -> bool:
    """Whether a config's table holds a password (a database URL with one, which the schema
    allows): such a table is never copied into a cache (workflow.adapters.toml_cache)."""
    db = table.get("database")
    url = db.get("url") if isinstance(db, dict) else None
    if not isinstance(url, str):
        return False
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password is not None
    except ValueError:
        return True  # not a URL we can read: kept out rather than guessed at


def load_config(path: str | Path | None = None, *, database_url: str | None = None,
                parse: TomlParser = parse_toml) -> Config:
    """The config file at `path`, checked whole against its schema (workflow.adapters.config_schema)
    before anything uses it; a problem is one line naming file, line and key (exit 2).

    `parse`: how its text becomes its table, as tomllib.loads does (the composition root may
    put workflow.adapters.toml_cache in front of it)."""
    from workflow.adapters.config_schema import check

    p = Path(path) if path is not None else default_path()
    raw, source = _read(p, parse)
    check(raw, source, p)
    db = raw.get("database", {})
    env_url = os.environ.get(DATABASE_ENV)
    url_key = "--database-url" if database_url else DATABASE_ENV if env_url else "database.url"
    url = database_url or env_url or db.get("url", "sqlite:///var/passend.db")
    if not _known_url(url):
        raise _fail(p, source if url_key == "database.url" else "", url_key, Said("cfg.database.url"))
    base = p.resolve().parent
    key_file = raw.get("security", {}).get("master_key_file")
    proc = raw.get("process", {})
    definition = proc.get("definition", "states/passend_po_v2.toml")
    folder = proc.get("folder", str(Path(definition).parent))
    schools = {
        s["id"]: School(s["id"], str(s.get("name", s["id"])), s.get("region", "midden"),
                        tuple(s.get("days_off", [])), s.get("from"))
        for s in raw.get("schools", [])
    }
    users: dict[str, User] = {}
    for u in raw.get("users", []):
        us = u.get("schools", [])
        users[u["id"]] = User(u["id"], u["role"], tuple([us] if isinstance(us, str) else us),
                              str(u.get("name", "")), u.get("email"))
    cfg_base = Config(
        path=p.resolve(), database_url="", master_key_file=None, definition_file=Path(),
        definitions_folder=Path(), schools=schools, users=users, raw=raw,
    )
    for key, value, want_dir in (("process.definition", definition, False), ("process.folder", folder, True)):
        target = cfg_base.resolve(value)
        if not target.exists():
            if want_dir:  # no folder: only the active definition is installed
                continue
            raise _fail(p, source, key, Said("cfg.process.missing", path=str(target)))
        if target.is_dir() != want_dir:
            raise _fail(p, source, key, Said("cfg.process.not_a_folder" if want_dir else "cfg.process.a_folder",
                                             path=str(target)))
    return Config(
        path=p.resolve(),
        database_url=_sqlite_url(url, base),
        master_key_file=cfg_base.resolve(key_file) if key_file else None,
        definition_file=cfg_base.resolve(definition),
        definitions_folder=cfg_base.resolve(folder),
        schools=schools,
        users=users,
        log_level=raw.get("logging", {}).get("level", "info"),
        lock_timeout_seconds=float(db.get("lock_timeout_seconds", 15)),
        statement_timeout_seconds=float(db.get("statement_timeout_seconds", 300)),
        group_commit=bool(db.get("group_commit", True)),
        file_group=raw.get("security", {}).get("file_group"),
        source=source,
        raw=raw,
    )


def definition_file_of(path: str | Path | None = None) -> Path:
    """The active process definition a config file names, read without checking the rest.

    The CLI's `record` group lists the evidence kinds of the active definition, also for
    `--help`; `load_config` would import SQLAlchemy to check the database URL (half a second).
    """
    p = Path(path) if path is not None else default_path()
    raw, _ = _read(p)
    proc = raw.get("process", {})
    definition = proc.get("definition", "states/passend_po_v2.toml") if isinstance(proc, dict) else None
    if not isinstance(definition, str) or not definition:
        raise ConfigError(Said("cfg.at", file=str(p), key="process.definition", problem=Said("cfg.process.definition")))
    f = Path(definition).expanduser()
    return f if f.is_absolute() else p.resolve().parent / f

"""config.toml: where the database is, which process runs, the schools and the users.

Relative paths are taken from the config file's folder, so the service behaves the same from
any working directory. Sections that belong to other parts (reminders, notifier, retention)
are kept raw for those parts to read.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.domain.errors import ConfigError

CONFIG_ENV = "PASSEND_CONFIG"
DATABASE_ENV = "PASSEND_DATABASE_URL"
REGIONS = ("noord", "midden", "zuid")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
KNOWN_SECTIONS = {
    "database", "security", "process", "logging", "schools", "users", "reminders", "notifier",
    "retention", "audit", "web", "witness",
}


@dataclass(frozen=True)
class School:
    id: str
    name: str
    region: str
    days_off: tuple[str, ...] = ()


@dataclass(frozen=True)
class User:
    id: str
    role: str
    schools: tuple[str, ...]
    name: str = ""
    email: str | None = None

    def serves(self, school: str) -> bool:
        return "*" in self.schools or school in self.schools


@dataclass(frozen=True)
class Config:
    path: Path
    database_url: str
    master_key_file: Path | None
    definition_file: Path
    definitions_folder: Path
    schools: dict[str, School]
    users: dict[str, User]
    log_level: str = "info"
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
    """A URL SQLAlchemy can parse, for a store passend has (`memory://`: the in-memory fake)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        driver = make_url(url).drivername
    except (ArgumentError, ValueError):
        return False
    return driver.split("+")[0] in ("sqlite", "postgresql", "postgres", "memory")


def load_config(path: str | Path | None = None, *, database_url: str | None = None) -> Config:
    p = Path(path) if path is not None else default_path()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (use --config or {CONFIG_ENV})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config file ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{p}: {key}: {problem}")

    for k in raw:
        if k not in KNOWN_SECTIONS:
            raise fail(k, f"unknown section (known: {', '.join(sorted(KNOWN_SECTIONS))})")

    def table(key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise fail(key, "must be a table")
        return value

    def text(section: dict[str, Any], key: str, default: str | None) -> str | None:
        value = section.get(key.split(".")[-1], default)
        if value is not None and (not isinstance(value, str) or not value):
            raise fail(key, "must be a non-empty string")
        return value

    base = p.resolve().parent
    db = table("database")
    url_key = "--database-url" if database_url else DATABASE_ENV if os.environ.get(DATABASE_ENV) else "database.url"
    url = database_url or os.environ.get(DATABASE_ENV) or text(db, "database.url", "sqlite:///var/passend.db")
    if not isinstance(url, str) or not _known_url(url):
        raise fail(url_key, "must be a database URL such as sqlite:///var/passend.db or "
                            "postgresql://user@host/db")
    sec = table("security")
    key_file = text(sec, "security.master_key_file", None)
    proc = table("process")
    definition = text(proc, "process.definition", "states/passend_po_v1.toml")
    assert definition is not None
    folder = text(proc, "process.folder", str(Path(definition).parent))
    assert folder is not None
    for section in ("schools", "users"):
        if not isinstance(raw.get(section, []), list):
            raise fail(section, f"must be an array of tables ([[{section}]])")

    schools: dict[str, School] = {}
    for i, s in enumerate(raw.get("schools", [])):
        key = f"schools[{i}]"
        if not isinstance(s, dict) or not isinstance(s.get("id"), str) or not s["id"]:
            raise fail(key + ".id", "each school needs an id")
        region = s.get("region", "midden")
        if region not in REGIONS:
            raise fail(key + ".region", f"must be one of {', '.join(REGIONS)}")
        days_off = s.get("days_off", [])
        if not isinstance(days_off, list) or not all(isinstance(d, str) for d in days_off):
            raise fail(key + ".days_off", "must be a list of dates (YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD)")
        if s["id"] in schools:
            raise fail(key + ".id", f"school {s['id']!r} is listed twice")
        schools[s["id"]] = School(s["id"], str(s.get("name", s["id"])), region, tuple(days_off))

    users: dict[str, User] = {}
    for i, u in enumerate(raw.get("users", [])):
        key = f"users[{i}]"
        if not isinstance(u, dict) or not isinstance(u.get("id"), str) or not u["id"]:
            raise fail(key + ".id", "each user needs an id")
        role = u.get("role")
        if not isinstance(role, str):
            raise fail(key + ".role", "each user needs a role")
        us = u.get("schools", [])
        if isinstance(us, str):
            us = [us]
        if not isinstance(us, list) or not all(isinstance(sid, str) for sid in us):
            raise fail(key + ".schools", "must be a list of school ids (or \"*\")")
        for sid in us:
            if sid != "*" and sid not in schools:
                raise fail(key + ".schools", f"unknown school {sid!r}")
        if u["id"] in users:
            raise fail(key + ".id", f"user {u['id']!r} is listed twice")
        users[u["id"]] = User(u["id"], role, tuple(us), str(u.get("name", "")), u.get("email"))

    log_level = table("logging").get("level", "info")
    if not isinstance(log_level, str) or log_level.lower() not in LOG_LEVELS:
        raise fail("logging.level", f"must be one of {', '.join(LOG_LEVELS)}")

    cfg_base = Config(
        path=p.resolve(), database_url="", master_key_file=None, definition_file=Path(),
        definitions_folder=Path(), schools=schools, users=users, raw=raw,
    )
    return Config(
        path=p.resolve(),
        database_url=_sqlite_url(url, base),
        master_key_file=cfg_base.resolve(key_file) if key_file else None,
        definition_file=cfg_base.resolve(definition),
        definitions_folder=cfg_base.resolve(folder),
        schools=schools,
        users=users,
        log_level=log_level,
        raw=raw,
    )


def definition_file_of(path: str | Path | None = None) -> Path:
    """The active process definition a config file names, read without checking the rest.

    The CLI's `record` group lists the evidence kinds of the active definition, also for
    `--help`; `load_config` would import SQLAlchemy to check the database URL (half a second).
    """
    p = Path(path) if path is not None else default_path()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (use --config or {CONFIG_ENV})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config file ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    proc = raw.get("process", {})
    definition = proc.get("definition", "states/passend_po_v1.toml") if isinstance(proc, dict) else None
    if not isinstance(definition, str) or not definition:
        raise ConfigError(f"{p}: process.definition: must be a non-empty string")
    f = Path(definition).expanduser()
    return f if f.is_absolute() else p.resolve().parent / f

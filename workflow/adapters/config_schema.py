"""config.toml's schema: every section, every key, its type and its range, checked as a whole
before anything runs.

A typo must not pass for a default: `uri = "postgresql://..."` under `[database]` once fell back
to the SQLite file and `passend init` succeeded on the wrong database. So every table of the
file is declared here, key by key, and anything not declared is refused; so are wrong types,
invalid e-mail addresses and URLs, schools listed twice, users of schools that do not exist, and
(once the process definition is loaded, `check_roles`) roles the definition does not know.

Each problem is one Dutch line naming the file, the line and the key:
`config.toml, regel 7: database.uri: onbekende sleutel (bekend: url, lock_timeout_seconds, ...)`.
tomllib gives no line numbers, so the line is found in the text, as the definition loader does.

The sections' own readers (workflow.bootstrap, reminders.settings, retention, web.settings,
notifiers) still turn the checked values into typed settings; this module is what makes sure
they are only ever given a file that passed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workflow.domain.errors import ConfigError, Said

Check = Callable[[Any], Said | None]  # a value's problem (a catalog sentence), or None

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# ---- value checks ------------------------------------------------------------------------------
def text(value: Any) -> Said | None:
    if not isinstance(value, str):
        return Said("cfg.value.text", got=_shown(value))
    if not value.strip():
        return Said("cfg.value.empty")
    return None


def ident(value: Any) -> Said | None:
    problem = text(value)
    if problem is None and not _ID.match(value):
        return Said("cfg.value.ident", value=value)
    return problem


def email(value: Any) -> Said | None:
    problem = text(value)
    if problem is None and (not _EMAIL.match(value) or len(value) > 254):
        return Said("cfg.value.email", value=value)
    return problem


def http_url(value: Any) -> Said | None:
    problem = text(value)
    if problem is not None:
        return problem
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return Said("cfg.value.http_url", value=value)
    return None


def boolean(value: Any) -> Said | None:
    return None if isinstance(value, bool) else Said("cfg.value.boolean", got=_shown(value))


def whole(low: int, high: int) -> Check:
    def check(value: Any) -> Said | None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return Said("cfg.value.whole", low=low, high=high, got=_shown(value))
        return None
    return check


def number(low: float, high: float, *, above: bool = False) -> Check:
    def check(value: Any) -> Said | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and \
            (low < value if above else low <= value) and value <= high
        if not ok:
            return Said("cfg.value.number_above" if above else "cfg.value.number", low=low, high=high,
                        got=_shown(value))
        return None
    return check


def choice(*values: str) -> Check:
    def check(value: Any) -> Said | None:
        return None if value in values else Said("cfg.value.choice", choices=", ".join(values), got=_shown(value))
    return check


def time_of_day(value: Any) -> Said | None:
    try:
        if not isinstance(value, str):
            raise ValueError
        dt.time.fromisoformat(value)
    except ValueError:
        return Said("cfg.value.time", got=_shown(value))
    return None


def day_or_range(value: Any) -> Said | None:
    if not isinstance(value, str):
        return Said("cfg.value.day", got=_shown(value))
    first, _, last = value.strip().partition("/")
    try:
        begin = dt.date.fromisoformat(first)
        end = dt.date.fromisoformat(last) if last else begin
    except ValueError:
        return Said("cfg.value.day_bad", value=value)
    if end < begin:
        return Said("cfg.value.day_reversed", value=value)
    if (end - begin).days > 366:
        return Said("cfg.value.day_too_long", value=value)
    return None


def _shown(value: Any) -> str | Said:
    """A value as the problem quotes it: TOML's own spelling, or what kind of value it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return Said("cfg.shown.table")
    if isinstance(value, list):
        return Said("cfg.shown.list")
    return str(value)


# ---- structure ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListOf:
    """A list whose items pass `item`."""

    item: Check
    nonempty: bool = True
    one_allowed: bool = False  # a single value may stand for a list of one


@dataclass(frozen=True)
class Table:
    """A table with these keys, some required."""

    keys: dict[str, Any]  # key -> Check | ListOf | Table | MapOf
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class MapOf:
    """A table whose keys are free (e.g. close reasons) and whose values share one check."""

    value: Check


@dataclass(frozen=True)
class ArrayOf:
    """An array of tables ([[users]])."""

    table: Table


_NOTIFIER_KEYS: dict[str, dict[str, Any]] = {
    "file": {"folder": text, "from": email},
    "console": {"from": email},
    "smtp": {"host": text, "port": whole(1, 65535), "security": choice("starttls", "ssl", "none"),
             "username": text, "password_env": text, "from": email, "timeout": number(0, 600, above=True),
             "ca_file": text},
}

SCHEMA: dict[str, Any] = {
    "database": Table({"url": text, "lock_timeout_seconds": number(0, 3600, above=True),
                       "statement_timeout_seconds": number(0, 86_400), "group_commit": boolean}),
    "security": Table({"master_key_file": text, "file_group": text}),
    "process": Table({"definition": text, "folder": text}),
    "logging": Table({"level": choice("debug", "info", "warning", "error", "critical")}),
    "schools": ArrayOf(Table({"id": ident, "name": text, "region": choice("noord", "midden", "zuid"),
                              "days_off": ListOf(day_or_range, nonempty=False), "from": email},
                             required=("id",))),
    "users": ArrayOf(Table({"id": ident, "name": text, "role": text, "email": email,
                            "schools": ListOf(text, one_allowed=True)}, required=("id", "role"))),
    "reminders": Table({
        "tick_seconds": whole(1, 86_400), "send_time": time_of_day, "digest": boolean,
        "digest_time": time_of_day, "remind_roles": ListOf(text, one_allowed=True),
        "escalate_roles": ListOf(text, one_allowed=True), "max_attempts": whole(1, 100),
        "backoff_seconds": whole(0, 86_400), "backoff_max_seconds": whole(0, 7 * 86_400),
        "lease_seconds": whole(1, 86_400), "batch_size": whole(1, 10_000), "keep_sent_days": whole(1, 36_500),
    }),
    "notifier": Table({"backend": choice(*_NOTIFIER_KEYS),
                       **{k: v for keys in _NOTIFIER_KEYS.values() for k, v in keys.items()}}),
    "retention": Table({"years": whole(0, 100), "years_by_reason": MapOf(whole(0, 100)),
                        "erase_roles": ListOf(text, one_allowed=True)}),
    "serve": Table({"health_host": text, "health_port": whole(0, 65535)}),
    "web": Table({
        "base_url": http_url, "secure_cookies": boolean, "idle_minutes": whole(5, 24 * 60),
        "max_hours": whole(1, 7 * 24), "email_link": boolean, "link_minutes": whole(5, 60),
        "metrics_token_env": text,
        "oidc": Table({"issuer": http_url, "discovery_url": http_url, "client_id": text,
                       "client_secret_env": text, "scopes": ListOf(text), "email_claim": text, "label": text},
                      required=("issuer", "client_id")),
    }),
    "audit": Table({}),
    # the daily witness of the audit chains (service_layer.witness, merged alongside): its keys
    "witness": Table({"to": ListOf(email, nonempty=False, one_allowed=True), "time": time_of_day,
                      "tsa_url": http_url, "tsa_timeout": whole(1, 120), "tsa_certificate": text}),
}


# ---- finding the line --------------------------------------------------------------------------
# Patterns, not compiled ones: `re` compiles (and keeps) them when a line is first looked for,
# which only a broken file needs; compiled here, they cost every command's start (issue 17).
_HEADER = r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$"
_PART = r"\[(\d+)\]|([^.\[\]]+)"


def line_of(source: str, key: str) -> int | None:
    """The 1-based line of `key` (`database.uri`, `users[2].email`, `web.oidc.issuer`), or of
    the table it is in, in the text of a config file; None when it cannot be told."""
    lines = source.splitlines()
    parts: list[str | int] = [int(i) if i else n for i, n in re.findall(_PART, key)]
    headers = [(n, m.group(2).replace(" ", ""), m.group(1) == "[[") for n, line in enumerate(lines)
               if (m := re.match(_HEADER, line))]
    start, rest = -1, parts
    if len(parts) >= 2 and isinstance(parts[1], int):
        arrays = [n for n, name, is_array in headers if is_array and name == parts[0]]
        if parts[1] >= len(arrays):
            return None
        start, rest = arrays[parts[1]], parts[2:]
    else:
        for k in range(len(parts), 0, -1):
            name = ".".join(str(x) for x in parts[:k])
            found = [n for n, h, is_array in headers if h == name]
            if found:
                start, rest = found[0], parts[k:]
                break
    end = next((n for n, _, _ in headers if n > start), len(lines))
    if not rest:
        return start + 1 if start >= 0 else None
    first = str(rest[0])
    pattern = re.compile(rf"^\s*(\"{re.escape(first)}\"|{re.escape(first)})\s*(=|\.)")
    at = next((n for n in range(start + 1, end) if pattern.match(lines[n])), None)
    if at is None:
        return start + 1 if start >= 0 else None
    return at + 1


# ---- the check ---------------------------------------------------------------------------------
@dataclass
class _Run:
    """One check of a config file, collecting its problems."""

    path: Path
    source: str
    problems: list[str] = field(default_factory=list)

    def fail(self, key: str, problem: Said, at: str | None = None) -> ConfigError:
        return problem_at(self.path, self.source, key, problem, at)


def problem_at(path: Path, source: str, key: str, problem: Said, at: str | None = None) -> ConfigError:
    """One line naming the file, the line of `at` (else of `key`) when the text tells it, the
    key and the problem: `config.toml, regel 7: database.uri: onbekende sleutel (...)`."""
    line = line_of(source, at or key) if source else None
    if line:
        return ConfigError(Said("cfg.at_line", file=path.name, line=line, key=key, problem=problem))
    return ConfigError(Said("cfg.at", file=path.name, key=key, problem=problem))


def check(raw: dict[str, Any], source: str, path: Path) -> None:
    """Check a parsed config file whole; the first problem is raised as one line (ConfigError)."""
    run = _Run(path, source)
    for name, value in raw.items():
        spec = SCHEMA.get(name)
        if spec is None:
            raise run.fail(name, Said("cfg.schema.unknown_section", known=", ".join(sorted(SCHEMA))))
        _value(run, spec, value, name)
    _notifier(run, raw.get("notifier"))
    _schools(run, raw.get("schools", []))
    _users(run, raw.get("users", []), {s["id"] for s in raw.get("schools", [])})
    reminders = raw.get("reminders", {})
    if "backoff_max_seconds" in reminders and reminders.get("backoff_max_seconds", 0) < reminders.get(
            "backoff_seconds", 60):
        raise run.fail("reminders.backoff_max_seconds", Said("cfg.schema.backoff_max"))


def _value(run: _Run, spec: Any, value: Any, key: str) -> None:
    if isinstance(spec, Table):
        if not isinstance(value, dict):
            raise run.fail(key, Said("cfg.schema.table", key=key, got=_shown(value)))
        for k, v in value.items():
            sub = spec.keys.get(k)
            if sub is None:
                known = ", ".join(sorted(spec.keys)) or Said("cfg.schema.none")
                raise run.fail(f"{key}.{k}", Said("cfg.schema.unknown_key", known=known))
            _value(run, sub, v, f"{key}.{k}")
        for k in spec.required:
            if k not in value:
                raise run.fail(f"{key}.{k}", Said("cfg.schema.required"), at=key)
    elif isinstance(spec, ArrayOf):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise run.fail(key, Said("cfg.schema.array", key=key))
        for i, item in enumerate(value):
            _value(run, spec.table, item, f"{key}[{i}]")
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise run.fail(key, Said("cfg.schema.map", got=_shown(value)))
        for k, v in value.items():
            problem = spec.value(v)
            if problem is not None:
                raise run.fail(f"{key}.{k}", problem, at=key)
    elif isinstance(spec, ListOf):
        items = [value] if spec.one_allowed and isinstance(value, str) else value
        if not isinstance(items, list):
            raise run.fail(key, Said("cfg.schema.list", got=_shown(value)))
        if spec.nonempty and not items:
            raise run.fail(key, Said("cfg.value.empty"))
        for i, item in enumerate(items):
            problem = spec.item(item)
            if problem is not None:
                raise run.fail(f"{key}[{i}]", problem, at=key)
    else:
        problem = spec(value)
        if problem is not None:
            raise run.fail(key, problem)


def _notifier(run: _Run, section: Any) -> None:
    if section is None:
        return
    backend = section.get("backend", "file")
    allowed = _NOTIFIER_KEYS[backend]
    for k in section:
        if k != "backend" and k not in allowed:
            raise run.fail(f"notifier.{k}", Said("cfg.notifier.other_backend", backend=backend,
                                                 known=", ".join(sorted(allowed))))
    if backend != "smtp":
        return
    if "host" not in section:
        raise run.fail("notifier.host", Said("cfg.notifier.host"), at="notifier")
    if "username" in section and "password_env" not in section:
        raise run.fail("notifier.password_env", Said("cfg.notifier.password_env"), at="notifier.username")
    if "username" in section and section.get("security", "starttls") == "none":
        raise run.fail("notifier.security", Said("cfg.notifier.security"))


def _schools(run: _Run, schools: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(schools):
        if s["id"] in seen:
            raise run.fail(f"schools[{i}].id", Said("cfg.schools.twice", school=s["id"], first=seen[s["id"]]))
        seen[s["id"]] = i


def _users(run: _Run, users: list[dict[str, Any]], schools: set[str]) -> None:
    ids: dict[str, int] = {}
    addresses: dict[str, int] = {}
    for i, u in enumerate(users):
        if u["id"] in ids:
            raise run.fail(f"users[{i}].id", Said("cfg.users.twice", user=u["id"], first=ids[u["id"]]))
        ids[u["id"]] = i
        listed = u.get("schools", [])
        for k, sid in enumerate([listed] if isinstance(listed, str) else listed):
            if sid != "*" and sid not in schools:
                known = ", ".join(sorted(schools)) or Said("cfg.schema.none")
                raise run.fail(f"users[{i}].schools[{k}]", Said("cfg.users.unknown_school", school=sid, known=known),
                               at=f"users[{i}].schools")
        address = u.get("email")
        if address is not None:
            low = address.lower()
            if low in addresses:
                raise run.fail(f"users[{i}].email", Said("cfg.users.same_email", email=address, other=addresses[low]))
            addresses[low] = i


def check_roles(raw: dict[str, Any], source: str, path: Path, roles: tuple[str, ...] | list[str]) -> None:
    """Every role the file names exists in the active process definition (known only once it
    is loaded): users' roles, the reminded and escalated roles, who may erase."""
    run = _Run(path, source)
    known = ", ".join(roles)

    def one(key: str, role: Any, at: str | None = None) -> None:
        if role not in roles:
            raise run.fail(key, Said("cfg.roles.unknown", role=role, known=known), at=at)

    for i, u in enumerate(raw.get("users", [])):
        one(f"users[{i}].role", u.get("role"))
    for section, keys in (("reminders", ("remind_roles", "escalate_roles")), ("retention", ("erase_roles",))):
        for key in keys:
            value = raw.get(section, {}).get(key)
            for k, role in enumerate([value] if isinstance(value, str) else value or []):
                one(f"{section}.{key}[{k}]", role, at=f"{section}.{key}")

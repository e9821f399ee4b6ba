"""Users: who may act, with which role and for which schools. They live in the database.

Why the database and not config.toml alone: an operator must be able to add a user or shut one
out without editing a file and restarting every process, and a user who is disabled must be
refused by every running process (the CLI, `passend web`, several of each) at once.

config.toml's `[[users]]` remain the easy way to set up a school: `passend init` imports them
(`sync_config`), as an upsert. A user listed in the file is *config-managed*: the file decides its
name, role, schools and e-mail address at every `init`. Whether it may sign in is not the file's
to decide: a config user disabled with `passend user disable` stays disabled through every later
`init` until `passend user enable`. A config-managed user that is no longer in the file is
disabled by the next `init` (taking a user out of the file ends its access); its row stays,
since events name users by id. Users added with `passend user add` are *cli-managed*; `init`
leaves them alone.

`Engine.user(actor)` reads the user here for every command: one indexed read by primary key on
the engine's kept connection (see `get_acting`), measured against `bench fire` in BENCHMARKS.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from workflow.adapters.config import User
from workflow.adapters.store.db import begin_write, is_sqlite
from workflow.adapters.store.lookup import KeptReader
from workflow.adapters.store.reserve import Reserve
from workflow.adapters.store.tables import users, web_sessions
from workflow.domain.errors import BadInput, ConfigError, NotFound, Refused

USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
MANAGED = ("config", "cli")
_GET = "SELECT name, role, schools, email, disabled_at IS NOT NULL FROM users WHERE id = ?"


@dataclass(frozen=True)
class UserRecord:
    """A user as stored: the acting `User` plus what only management and sign-in need."""

    id: str
    name: str
    role: str
    schools: tuple[str, ...]
    email: str | None
    managed: str
    disabled_at: dt.datetime | None
    totp_enrolled: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def as_user(self) -> User:
        return User(self.id, self.role, self.schools, self.name, self.email)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "role": self.role, "schools": list(self.schools),
            "email": self.email, "managed": self.managed, "active": self.active,
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "totp": self.totp_enrolled,
        }


def _record(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id, name=row.name, role=row.role, schools=tuple(json.loads(row.schools)),
        email=row.email, managed=row.managed, disabled_at=row.disabled_at,
        totp_enrolled=row.totp_enrolled_at is not None, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def normalise_email(value: Any, key: str = "--email") -> str:
    """An e-mail address as stored and compared: trimmed and lower-case (addresses differing in
    case reach one mailbox in practice, and one person must map to one user)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if len(text) > 254 or not EMAIL.match(text):
        raise BadInput(f"{key}: geen geldig e-mailadres")
    return text


class UserDirectory:
    """The users table: the one read on every command (`get_acting`) and the management API."""

    def __init__(self, db: SqlEngine, *, reserve: Reserve | None = None) -> None:
        self.db = db
        self._reserve = reserve if is_sqlite(db) else None
        self._reader = None if is_sqlite(db) else KeptReader(db)
        if self._reserve is None and self._reader is None:
            self._reserve = Reserve(db)
        self._sql = _GET if is_sqlite(db) else _GET.replace("?", "%s")

    # ---- the hot read ------------------------------------------------------------------------
    def get_acting(self, user_id: str) -> User:
        """The user `user_id` acting now: unknown -> NotFound (exit 2), disabled -> Refused (3).

        Straight on a driver connection kept between commands: on SQLite the engine's own
        (store.reserve), where a read by primary key costs ~18 us; on PostgreSQL one of its own in
        autocommit (store.lookup), one round trip instead of the pool's three. Through the pool
        it cost more than SQLite's work for a whole `fire` (BENCHMARKS.md, fire)."""
        row = self._fetch(user_id) if isinstance(user_id, str) else None
        if row is None:
            raise NotFound(f"onbekende gebruiker '{user_id}' (zie passend user list)")
        name, role, schools, email, disabled = row
        if disabled:
            raise Refused(f"gebruiker '{user_id}' is uitgeschakeld",
                          reasons=[f"gebruiker '{user_id}' is uitgeschakeld (passend user enable zet hem aan)"])
        return User(user_id, role, tuple(json.loads(schools)), name, email)

    def _fetch(self, user_id: str) -> tuple[Any, ...] | None:
        dbapi = self.db.dialect.loaded_dbapi
        try:
            if self._reader is not None:
                return self._reader.fetchone(self._sql, (user_id,))
            assert self._reserve is not None
            kept = self._reserve.take()
            try:
                row = kept.dbapi.execute(self._sql, (user_id,)).fetchone()
            except BaseException:
                kept.fairy.close()
                raise
            self._reserve.give(kept)
            return row  # type: ignore[no-any-return]
        except dbapi.Error as exc:  # as a Core statement would raise it: the CLI names the problem
            raise DBAPIError.instance(None, None, exc, dbapi.Error, hide_parameters=True,
                                      dialect=self.db.dialect) from exc

    # ---- reads -------------------------------------------------------------------------------
    def get(self, user_id: str) -> UserRecord | None:
        with self.db.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _record(row)

    def by_email(self, email: str) -> UserRecord | None:
        """The user with this address (compared lower-case), or None."""
        text = email.strip().lower() if isinstance(email, str) else ""
        if not text:
            return None
        with self.db.connect() as conn:
            row = conn.execute(select(users).where(users.c.email == text)).first()
        return None if row is None else _record(row)

    def all(self) -> list[UserRecord]:
        with self.db.connect() as conn:
            return [_record(r) for r in conn.execute(select(users).order_by(users.c.id))]

    # ---- changes -----------------------------------------------------------------------------
    def add(
        self, *, user_id: str, role: str, schools: Iterable[str], name: str = "", email: str | None,
        roles: Iterable[str], known_schools: Iterable[str], now: dt.datetime,
    ) -> UserRecord:
        """A new cli-managed user. An id or address already in use is refused (exit 2)."""
        if not isinstance(user_id, str) or not USER_ID.match(user_id):
            raise BadInput("id: 1-128 tekens: letters, cijfers en . _ @ - (begint met een letter of cijfer)")
        roles = tuple(roles)
        if role not in roles:
            raise BadInput(f"--role: onbekende rol '{role}' (kies uit: {', '.join(roles)})")
        picked = _schools(schools, set(known_schools), "--school")
        name = " ".join((name or "").split())
        if len(name) > 200:
            raise BadInput("--name: hoogstens 200 tekens")
        address = normalise_email(email) if email is not None else None
        with begin_write(self.db) as conn:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is not None:
                raise BadInput(f"gebruiker '{user_id}' bestaat al")
            if address is not None:
                _email_free(conn, address, user_id, "--email")
            conn.execute(insert(users).values(
                id=user_id, name=name, role=role, schools=json.dumps(list(picked)), email=address,
                managed="cli", created_at=now, updated_at=now))
        record = self.get(user_id)
        assert record is not None
        return record

    def set_disabled(self, user_id: str, disabled: bool, *, now: dt.datetime) -> tuple[UserRecord, bool]:
        """Disable (ending every web session of the user in the same transaction) or enable a
        user. Returns the user and whether anything changed."""
        with begin_write(self.db) as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
            if row is None:
                raise NotFound(f"onbekende gebruiker '{user_id}' (zie passend user list)")
            changed = (row.disabled_at is None) == disabled
            if changed:
                conn.execute(update(users).where(users.c.id == user_id).values(
                    disabled_at=now if disabled else None, updated_at=now))
            if disabled:
                conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
        record = self.get(user_id)
        assert record is not None
        return record, changed

    def reset_totp(self, user_id: str, *, now: dt.datetime) -> UserRecord:
        """Forget a user's authenticator (a lost phone): the next sign-in by link enrols anew.
        Their web sessions end too."""
        with begin_write(self.db) as conn:
            done = conn.execute(update(users).where(users.c.id == user_id).values(
                totp_secret=None, totp_enrolled_at=None, totp_last_step=None, updated_at=now))
            if done.rowcount != 1:
                raise NotFound(f"onbekende gebruiker '{user_id}' (zie passend user list)")
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
        record = self.get(user_id)
        assert record is not None
        return record

    def sync_config(self, config_users: Mapping[str, User], *, source: str, known_schools: Iterable[str],
                    now: dt.datetime) -> dict[str, list[str]]:
        """Import config.toml's users (see the module's docstring for the rules). Returns the
        ids added, updated and disabled because they left the file. One transaction."""
        known = set(known_schools)
        wanted: dict[str, dict[str, Any]] = {}
        for u in config_users.values():
            key = f"{source}: users.{u.id}"
            if not USER_ID.match(u.id):
                raise ConfigError(f"{key}.id: 1-128 tekens: letters, cijfers en . _ @ -")
            try:
                email = normalise_email(u.email, f"{key}.email") if u.email is not None else None
                schools = _schools(u.schools, known, f"{key}.schools", required=False)
            except BadInput as exc:
                raise ConfigError(exc.message) from None
            wanted[u.id] = {"name": u.name or "", "role": u.role, "schools": json.dumps(list(schools)),
                            "email": email, "managed": "config"}
        by_email: dict[str, str] = {}
        for uid, values in wanted.items():
            if values["email"] is not None:
                other = by_email.setdefault(values["email"], uid)
                if other != uid:
                    raise ConfigError(f"{source}: users.{uid}.email: hetzelfde adres als users.{other}")
        report: dict[str, list[str]] = {"added": [], "updated": [], "disabled": []}
        with begin_write(self.db) as conn:
            rows = {r.id: r for r in conn.execute(select(users))}
            for uid, values in wanted.items():
                taken = next((r.id for r in rows.values() if r.email is not None
                              and r.email == values["email"] and r.id != uid and r.id not in wanted), None)
                if taken is not None:
                    raise ConfigError(f"{source}: users.{uid}.email: dit adres hoort al bij gebruiker "
                                      f"'{taken}' (passend user list)")
            # Addresses move between users in two steps, so the unique index never sees one twice.
            moved = [uid for uid, v in wanted.items() if uid in rows and rows[uid].email != v["email"]]
            if moved:
                conn.execute(update(users).where(users.c.id.in_(moved)).values(email=None))
            for uid, values in wanted.items():
                row = rows.get(uid)
                if row is None:
                    conn.execute(insert(users).values(id=uid, created_at=now, updated_at=now, **values))
                    report["added"].append(uid)
                elif uid in moved or any(getattr(row, k) != v for k, v in values.items()):
                    conn.execute(update(users).where(users.c.id == uid).values(updated_at=now, **values))
                    report["updated"].append(uid)
            for uid, row in rows.items():
                if row.managed == "config" and uid not in wanted and row.disabled_at is None:
                    conn.execute(update(users).where(users.c.id == uid).values(disabled_at=now, updated_at=now))
                    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == uid))
                    report["disabled"].append(uid)
        return report


def _schools(schools: Iterable[str], known: set[str], key: str, *, required: bool = True) -> tuple[str, ...]:
    picked = tuple(dict.fromkeys(s.strip() for s in schools if isinstance(s, str)))
    if required and not picked:
        raise BadInput(f"{key}: geef minstens één school (of * voor alle scholen)")
    for s in picked:
        if s != "*" and s not in known:
            raise BadInput(f"{key}: onbekende school '{s}' (bekend: {', '.join(sorted(known))})")
    return picked


def _email_free(conn: Any, address: str, user_id: str, key: str) -> None:
    other = conn.execute(select(users.c.id).where(users.c.email == address, users.c.id != user_id)).first()
    if other is not None:
        raise BadInput(f"{key}: dit adres hoort al bij gebruiker '{other.id}'")

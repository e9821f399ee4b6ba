"""Users: who may act, with which role and for which schools; kept by the store (the `Users` port).

Why the store and not config.toml alone: an operator must be able to add a user or shut one out
without editing a file and restarting every process, and a user who is disabled must be refused
by every running process (the CLI, `passend web`, `passend serve`, several of each) at once.

config.toml's `[[users]]` remain the easy way to set up a school: `passend init` imports them
(`sync_config`), as an upsert. A user listed in the file is *config-managed*: the file decides its
name, role, schools and e-mail address at every `init`. Whether it may sign in is not the file's
to decide: a config user disabled with `passend user disable` stays disabled through every later
`init` until `passend user enable`. A config-managed user that is no longer in the file is
disabled by the next `init` (taking a user out of the file ends its access); its row stays,
since events name users by id. Users added with `passend user add` are *cli-managed*; `init`
leaves them alone. Disabling a user ends their web sessions in the same unit of work.

The acting user of every command is read through the store's `UserLookup` (one read by primary
key on a connection the store keeps for it, measured against `bench fire` in BENCHMARKS.md), or,
for the commands on one case (fire, check, preview, record), in the command's own unit of work,
where on PostgreSQL it travels with the case's events (`ServiceContext.acting_and_case`). Either
way it is read afresh for every command, never cached; a disabled user is refused with the
reason `user_disabled`. The reminders go to the active users
with an address (`recipients`), read once per planning tick.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from workflow.adapters.config import User
from workflow.domain.errors import BadInput, ConfigError, NotFound
from workflow.domain.reasons import Reason
from workflow.messages import text
from workflow.service_layer import tokens
from workflow.service_layer.refusals import refused

if TYPE_CHECKING:
    from workflow.adapters.ports import Acting, Store, UserChanges, UserRecord

__all__ = ["Recipients", "UserDirectory", "normalise_email"]

USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
MANAGED = ("config", "cli")


def normalise_email(value: Any, key: str = "--email") -> str:
    """An e-mail address as stored and compared: trimmed and lower-case (addresses differing in
    case reach one mailbox in practice, and one person must map to one user)."""
    address = value.strip().lower() if isinstance(value, str) else ""
    if len(address) > 254 or not EMAIL.match(address):
        raise BadInput(text("svc.users.bad_email", key=key))
    return address


def _unknown(user_id: object) -> NotFound:
    return NotFound(text("svc.users.unknown.listed", user=user_id))


class Recipients:
    """The users a message can go to: active, with an e-mail address. Read once (a tick of the
    reminder service, a start-up check), asked many times (per case, per deadline)."""

    def __init__(self, users: Iterable[User]) -> None:
        self.users = [u for u in users if u.email]
        self._of: dict[tuple[tuple[str, ...], str], list[User]] = {}

    def of(self, roles: tuple[str, ...], school: str) -> list[User]:
        """Who a school's message for these roles goes to: users of one of the roles who serve it."""
        key = (roles, school)
        found = self._of.get(key)
        if found is None:
            found = self._of[key] = [u for u in self.users if u.role in roles and u.serves(school)]
        return found

    def with_roles(self, roles: tuple[str, ...]) -> list[User]:
        return [u for u in self.users if u.role in roles]

    def get(self, user_id: str) -> User | None:
        """The recipient `user_id` (active, with an address), or None."""
        return next((u for u in self.users if u.id == user_id), None)


class UserDirectory:
    """The users of a store: the acting user of every command, the management behind
    `passend user`, config.toml's import, and the reminders' recipients."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # ---- the hot read ------------------------------------------------------------------------
    def acting(self, user_id: str) -> User:
        """The user `user_id` acting now: unknown -> NotFound (exit 2), disabled -> Refused (3).
        An API token's actor (`api:<name>`, no user id has a colon) is the token's role and schools."""
        if isinstance(user_id, str) and user_id.startswith(tokens.ACTOR_PREFIX):
            return tokens.acting(self._store, user_id)
        return self.judge(user_id, self._store.users.acting(user_id) if isinstance(user_id, str) else None)

    @staticmethod
    def judge(user_id: str, found: Acting | None) -> User:
        """`acting`'s verdict on the user's row as read (`found`, None: no such user), wherever
        it was read: by the lookup, or in a command's own first round trip (`Users.acting_later`)."""
        if found is None:
            raise _unknown(user_id)
        if not found.active:
            raise refused(text("svc.users.disabled", user=user_id), [Reason("user_disabled", {"user": user_id})],
                          None)
        return found.user

    # ---- reads -------------------------------------------------------------------------------
    def get(self, user_id: str) -> UserRecord | None:
        with self._store.uow(write=False) as uow:
            return uow.users.get(user_id)

    def by_email(self, email: str) -> UserRecord | None:
        """The user with this address (compared lower-case), or None."""
        address = email.strip().lower() if isinstance(email, str) else ""
        if not address:
            return None
        with self._store.uow(write=False) as uow:
            return uow.users.by_email(address)

    def all(self) -> list[UserRecord]:
        with self._store.uow(write=False) as uow:
            return uow.users.all()

    def recipients(self) -> Recipients:
        """The active users with an e-mail address, read now."""
        return Recipients(r.as_user() for r in self.all() if r.active)

    # ---- changes -----------------------------------------------------------------------------
    def add(
        self, *, user_id: str, role: str, schools: Iterable[str], name: str = "", email: str | None,
        roles: Iterable[str], known_schools: Iterable[str], now: dt.datetime,
    ) -> UserRecord:
        """A new cli-managed user. An id or address already in use is refused (exit 2)."""
        if not isinstance(user_id, str) or not USER_ID.match(user_id):
            raise BadInput(text("svc.users.id"))
        roles = tuple(roles)
        if role not in roles:
            raise BadInput(text("svc.users.unknown_role", role=role, roles=", ".join(roles)))
        picked = _schools(schools, set(known_schools), "--school")
        name = " ".join((name or "").split())
        if len(name) > 200:
            raise BadInput(text("svc.users.name"))
        address = normalise_email(email) if email is not None else None
        with self._store.uow() as uow:
            if uow.users.get(user_id) is not None:
                raise BadInput(text("svc.users.exists", user=user_id))
            other = uow.users.by_email(address) if address is not None else None
            if other is not None:
                raise BadInput(text("svc.users.email_taken", user=other.id))
            uow.users.insert(user_id=user_id, name=name, role=role, schools=picked, email=address,
                             managed="cli", now=now)
            record = uow.users.get(user_id)
            uow.commit()
        assert record is not None
        return record

    def set_disabled(self, user_id: str, disabled: bool, *, now: dt.datetime) -> tuple[UserRecord, bool]:
        """Disable (ending every web session of the user in the same unit of work) or enable a
        user. Returns the user and whether anything changed."""
        with self._store.uow() as uow:
            record = uow.users.get(user_id)
            if record is None:
                raise _unknown(user_id)
            changed = record.active == disabled
            if changed:
                uow.users.set_disabled(user_id, now if disabled else None, now=now)
            if disabled:
                uow.web_sessions.end_user(user_id)
            record = uow.users.get(user_id)
            uow.commit()
        assert record is not None
        return record, changed

    def reset_totp(self, user_id: str, *, now: dt.datetime) -> UserRecord:
        """Forget a user's authenticator (a lost phone): the next sign-in by link enrols anew.
        Their web sessions end too."""
        with self._store.uow() as uow:
            if not uow.users.reset_totp(user_id, now=now):
                raise _unknown(user_id)
            uow.web_sessions.end_user(user_id)
            record = uow.users.get(user_id)
            uow.commit()
        assert record is not None
        return record

    def sync_config(self, config_users: Mapping[str, User], *, source: str, known_schools: Iterable[str],
                    now: dt.datetime) -> dict[str, list[str]]:
        """Import config.toml's users (see the module's docstring for the rules). Returns the
        ids added, updated and disabled because they left the file. One unit of work."""
        known = set(known_schools)
        wanted: dict[str, UserChanges] = {}
        for u in config_users.values():
            key = f"{source}: users.{u.id}"
            if not USER_ID.match(u.id):
                raise ConfigError(text("svc.users.config_id", key=key))
            try:
                email = normalise_email(u.email, f"{key}.email") if u.email is not None else None
                schools = _schools(u.schools, known, f"{key}.schools", required=False)
            except BadInput as exc:
                raise ConfigError(exc.message) from None
            wanted[u.id] = {"name": u.name or "", "role": u.role, "schools": schools, "email": email,
                            "managed": "config"}
        by_email: dict[str, str] = {}
        for uid, values in wanted.items():
            if values["email"] is not None:
                other = by_email.setdefault(values["email"], uid)
                if other != uid:
                    raise ConfigError(text("svc.users.config_same_email", config=source, user=uid, other=other))
        report: dict[str, list[str]] = {"added": [], "updated": [], "disabled": []}
        with self._store.uow() as uow:
            rows = {r.id: r for r in uow.users.all()}
            for uid, values in wanted.items():
                taken = next((r.id for r in rows.values() if r.email is not None
                              and r.email == values["email"] and r.id != uid and r.id not in wanted), None)
                if taken is not None:
                    raise ConfigError(text("svc.users.config_email_taken", config=source, user=uid, other=taken))
            # Addresses move between users in two steps, so no address is ever held twice.
            moved = [uid for uid, v in wanted.items() if uid in rows and rows[uid].email != v["email"]]
            for uid in moved:
                uow.users.update(uid, {"email": None}, now=now)
            for uid, values in wanted.items():
                row = rows.get(uid)
                if row is None:
                    uow.users.insert(user_id=uid, name=values["name"], role=values["role"],
                                     schools=values["schools"], email=values["email"], managed="config", now=now)
                    report["added"].append(uid)
                elif uid in moved or any(getattr(row, k) != v for k, v in values.items()):
                    uow.users.update(uid, values, now=now)
                    report["updated"].append(uid)
            for uid, row in rows.items():
                if row.managed == "config" and uid not in wanted and row.active:
                    uow.users.set_disabled(uid, now, now=now)
                    uow.web_sessions.end_user(uid)
                    report["disabled"].append(uid)
            uow.commit()
        return report


def _schools(schools: Iterable[str], known: set[str], key: str, *, required: bool = True) -> tuple[str, ...]:
    picked = tuple(dict.fromkeys(s.strip() for s in schools if isinstance(s, str)))
    if required and not picked:
        raise BadInput(text("svc.users.no_school", key=key))
    for s in picked:
        if s != "*" and s not in known:
            raise BadInput(text("svc.users.unknown_school", key=key, school=s, schools=", ".join(sorted(known))))
    return picked

"""The fake's users: the `Users` port over a dict, and the acting user's lookup.

As in the database, ids and addresses are unique: an insert or update that would give a second
user an address conflicts (Conflict), and the unit of work's journal puts everything back when
the unit ends without a commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from workflow.adapters.config import User
from workflow.adapters.memory.database import LOST, Journal, MemoryDatabase
from workflow.adapters.ports import Acting, TokenRecord, TotpState, UserChanges, UserRecord
from workflow.domain.errors import Conflict


def _record(row: dict[str, Any]) -> UserRecord:
    return UserRecord(
        id=row["id"], name=row["name"], role=row["role"], schools=row["schools"], email=row["email"],
        managed=row["managed"], disabled_at=row["disabled_at"], totp_enrolled=row["totp_enrolled_at"] is not None,
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


class MemoryUsers:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def get(self, user_id: str) -> UserRecord | None:
        row = self._db.users.get(user_id)
        return None if row is None else _record(row)

    def acting_later(self, user_id: str) -> Callable[[], Acting | None]:
        found = _acting(self._db.users.get(user_id))
        return lambda: found

    def by_email(self, email: str) -> UserRecord | None:
        row = next((r for r in self._db.users.values() if r["email"] is not None and r["email"] == email), None)
        return None if row is None else _record(row)

    def all(self) -> list[UserRecord]:
        return [_record(self._db.users[k]) for k in sorted(self._db.users)]

    def _email_free(self, email: str | None, user_id: str) -> None:
        if email is not None and any(r["email"] == email and k != user_id for k, r in self._db.users.items()):
            raise Conflict(LOST)  # the unique index on users.email

    def insert(self, *, user_id: str, name: str, role: str, schools: Sequence[str], email: str | None,
               managed: str, now: dt.datetime) -> None:
        if user_id in self._db.users:
            raise Conflict(LOST)
        self._email_free(email, user_id)
        self._j.put(self._db.users, user_id, {
            "id": user_id, "name": name, "role": role, "schools": tuple(schools), "email": email,
            "managed": managed, "disabled_at": None, "totp_secret": None, "totp_enrolled_at": None,
            "totp_last_step": None, "created_at": now, "updated_at": now})

    def update(self, user_id: str, changes: UserChanges, *, now: dt.datetime) -> bool:
        row = self._db.users.get(user_id)
        if row is None:
            return False
        values: dict[str, Any] = dict(changes)
        if "email" in values:
            self._email_free(values["email"], user_id)
        if "schools" in values:
            values["schools"] = tuple(values["schools"])
        self._j.update(row, updated_at=now, **values)
        return True

    def set_disabled(self, user_id: str, disabled_at: dt.datetime | None, *, now: dt.datetime) -> bool:
        row = self._db.users.get(user_id)
        if row is None:
            return False
        self._j.update(row, disabled_at=disabled_at, updated_at=now)
        return True

    def totp(self, user_id: str) -> TotpState | None:
        row = self._db.users.get(user_id)
        return None if row is None else TotpState(row["totp_secret"], row["totp_enrolled_at"], row["totp_last_step"])

    def set_totp_secret(self, user_id: str, sealed: bytes) -> None:
        row = self._db.users.get(user_id)
        if row is not None:
            self._j.update(row, totp_secret=bytes(sealed))

    def accept_totp(self, user_id: str, step: int, *, now: dt.datetime) -> None:
        row = self._db.users.get(user_id)
        if row is None:
            return
        if row["totp_enrolled_at"] is None:
            self._j.update(row, totp_last_step=step, totp_enrolled_at=now, updated_at=now)
        else:
            self._j.update(row, totp_last_step=step)

    def reset_totp(self, user_id: str, *, now: dt.datetime) -> bool:
        row = self._db.users.get(user_id)
        if row is None:
            return False
        self._j.update(row, totp_secret=None, totp_enrolled_at=None, totp_last_step=None, updated_at=now)
        return True


class MemoryUserLookup:
    """`UserLookup`: one dict read under the store's lock."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def acting(self, user_id: str) -> Acting | None:
        with self._db.lock:
            return _acting(self._db.users.get(user_id))

    def token(self, token_hash: str) -> TokenRecord | None:
        with self._db.lock:
            return next((r for r in self._db.api_tokens.values() if r.token_hash == token_hash), None)


def _acting(row: dict[str, Any] | None) -> Acting | None:
    if row is None:
        return None
    user = User(row["id"], row["role"], row["schools"], row["name"], row["email"])
    return Acting(user, row["disabled_at"] is None)

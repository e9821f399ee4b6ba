"""The fake's API tokens: the `ApiTokens` port over a dict (names and hashes unique, as in the
database; the unit of work's journal puts everything back when it ends without a commit)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from workflow.adapters.memory.database import LOST, Journal, MemoryDatabase
from workflow.adapters.ports import TokenRecord
from workflow.domain.errors import Conflict


class MemoryApiTokens:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def get(self, name: str) -> TokenRecord | None:
        return self._db.api_tokens.get(name)

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        return next((r for r in self._db.api_tokens.values() if r.token_hash == token_hash), None)

    def acting_later(self, name: str) -> Callable[[], TokenRecord | None]:
        found = self.get(name)
        return lambda: found

    def all(self) -> list[TokenRecord]:
        return [self._db.api_tokens[k] for k in sorted(self._db.api_tokens)]

    def insert(self, record: TokenRecord) -> None:
        if record.name in self._db.api_tokens or self.by_hash(record.token_hash) is not None:
            raise Conflict(LOST)  # the primary key, the unique index on token_hash
        self._j.put(self._db.api_tokens, record.name, record)

    def revoke(self, name: str, now: dt.datetime) -> bool:
        row = self._db.api_tokens.get(name)
        if row is None or row.revoked_at is not None:
            return False
        self._j.put(self._db.api_tokens, name, dataclasses.replace(row, revoked_at=now))
        return True

    def touch(self, name: str, now: dt.datetime) -> None:
        row = self._db.api_tokens.get(name)
        if row is not None:
            self._j.put(self._db.api_tokens, name, dataclasses.replace(row, last_used_at=now))

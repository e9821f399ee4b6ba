"""The api_tokens table on SQLite and PostgreSQL: the `ApiTokens` port, on a unit of work's
connection (and transaction)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, insert, select, update

from workflow.adapters.ports import TokenRecord
from workflow.adapters.store import rows
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import api_tokens


def _record(row: Any) -> TokenRecord:
    return TokenRecord(name=row.name, token_hash=row.token_hash, role=row.role,
                       schools=tuple(json.loads(row.schools)), created_by=row.created_by,
                       created_at=row.created_at, revoked_at=row.revoked_at, last_used_at=row.last_used_at)


class SqlApiTokens:
    """`driver`: the unit's driver connection, for the reads by hash and by name (a command's
    acting token, read with the command's first statement: `acting_later`)."""

    def __init__(self, connection: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._conn = connection
        self._driver = driver or (lambda: Driver.of(connection()))

    def _one(self, sql: str, value: str) -> TokenRecord | None:
        cur = self._driver().execute(sql, (value,))
        try:
            return rows.token(cur.fetchone())
        finally:
            cur.close()

    def get(self, name: str) -> TokenRecord | None:
        return self._one(rows.TOKEN_BY_NAME_SQL, name)

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        return self._one(rows.TOKEN_BY_HASH_SQL, token_hash)

    def acting_later(self, name: str) -> Callable[[], TokenRecord | None]:
        """As `SqlUsers.acting_later`: deferred on the unit's driver, on PostgreSQL sent with
        the unit's next statement (a command's case events)."""
        cur = self._driver().defer(rows.TOKEN_BY_NAME_SQL, (name,), read=True)
        return lambda: rows.token(cur.fetchone())

    def all(self) -> list[TokenRecord]:
        return [_record(r) for r in self._conn().execute(select(api_tokens).order_by(api_tokens.c.name))]

    def insert(self, record: TokenRecord) -> None:
        self._conn().execute(insert(api_tokens).values(
            name=record.name, token_hash=record.token_hash, role=record.role,
            schools=json.dumps(list(record.schools)), created_by=record.created_by, created_at=record.created_at,
            revoked_at=record.revoked_at, last_used_at=record.last_used_at))

    def revoke(self, name: str, now: dt.datetime) -> bool:
        done = self._conn().execute(update(api_tokens).where(
            api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None)).values(revoked_at=now))
        return bool(done.rowcount == 1)

    def touch(self, name: str, now: dt.datetime) -> None:
        self._conn().execute(update(api_tokens).where(api_tokens.c.name == name).values(last_used_at=now))

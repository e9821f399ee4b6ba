"""The api_tokens table on SQLite and PostgreSQL: the `ApiTokens` port, on a unit of work's
connection (and transaction)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, insert, select, update

from workflow.adapters.codec import read_instant, stored_instant
from workflow.adapters.ports import TokenRecord
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import api_tokens


def _record(row: Any) -> TokenRecord:
    return TokenRecord(name=row.name, token_hash=row.token_hash, role=row.role,
                       schools=tuple(json.loads(row.schools)), created_by=row.created_by,
                       created_at=row.created_at, revoked_at=row.revoked_at, last_used_at=row.last_used_at)


_COLUMNS = "name, token_hash, role, schools, created_by, created_at, revoked_at, last_used_at"


def _driver_record(r: Any) -> TokenRecord:
    return TokenRecord(name=r[0], token_hash=r[1], role=r[2], schools=tuple(json.loads(r[3])), created_by=r[4],
                       created_at=stored_instant(r[5]), revoked_at=read_instant(r[6]),
                       last_used_at=read_instant(r[7]))


class SqlApiTokens:
    """`driver`: the unit's driver connection; every API call looks its token up twice (by
    hash, then by name for the acting user), straight through it."""

    def __init__(self, connection: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._conn = connection
        self._driver = driver or (lambda: Driver.of(connection()))

    def _one(self, column: str, value: str) -> TokenRecord | None:
        cur = self._driver().execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE {column} = ?", (value,))
        try:
            r = cur.fetchone()
        finally:
            cur.close()
        return None if r is None else _driver_record(r)

    def get(self, name: str) -> TokenRecord | None:
        return self._one("name", name)

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        return self._one("token_hash", token_hash)

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

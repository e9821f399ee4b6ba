"""The users table on SQLite and PostgreSQL: the `Users` port (in a unit of work) and the
`UserLookup` port (the acting user's read, outside any unit of work).

Why the lookup is its own path: every command reads its acting user first. Through the pool that
read cost more than SQLite's work for a whole `fire`, and three round trips on PostgreSQL (the
pool's pre-ping, the SELECT, the rollback on return). So it goes straight to the driver
connection the store keeps between units of work (store.reserve): on SQLite a read by primary
key costs ~18 us; on PostgreSQL it is one round trip, outside any transaction. (Until issue 17
PostgreSQL's had a detached autocommit connection of its own; the reserve keeps one there too
now, pinged after an idle time.) The commands on one case (fire, check, preview, record) read
their acting user in their own unit of work instead (`SqlUsers.acting_later`). An API request's
bearer token is found the same way as a user (`SqlUserLookup.token`): before it, a unit of work
of its own for that one read cost the web app more than the command's own transaction (BENCHMARKS
section 15). Measured against `bench fire` in BENCHMARKS.md (1e, 13).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.exc import DBAPIError

from workflow.adapters.ports import Acting, TokenRecord, TotpState, UserChanges, UserRecord
from workflow.adapters.store import rows
from workflow.adapters.store.db import is_sqlite
from workflow.adapters.store.eventstore import Driver, pipelines
from workflow.adapters.store.reserve import Kept, Reserve
from workflow.adapters.store.rows import ACTING_SQL, TOKEN_BY_HASH_SQL
from workflow.adapters.store.tables import users

_ACTING = ACTING_SQL
_ACTING_PG = ACTING_SQL.replace("?", "%s")  # psycopg's style, for a libpq without pipelines
_TOKEN = TOKEN_BY_HASH_SQL
_TOKEN_PG = TOKEN_BY_HASH_SQL.replace("?", "%s")


def _record(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id, name=row.name, role=row.role, schools=tuple(json.loads(row.schools)),
        email=row.email, managed=row.managed, disabled_at=row.disabled_at,
        totp_enrolled=row.totp_enrolled_at is not None, created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlUsers:
    """`Users` on a unit of work's connection (and transaction)."""

    def __init__(self, connection: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._conn = connection
        self._driver = driver or (lambda: Driver.of(connection()))

    def get(self, user_id: str) -> UserRecord | None:
        row = self._conn().execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _record(row)

    def acting_later(self, user_id: str) -> Callable[[], Acting | None]:
        """Deferred on the unit's driver (store.eventstore.Driver.defer): on PostgreSQL it goes
        with the unit's next statement; on SQLite it is read at once, in the unit's transaction."""
        cur = self._driver().defer(_ACTING, (user_id,), read=True)
        return lambda: rows.acting(user_id, cur.fetchone())

    def by_email(self, email: str) -> UserRecord | None:
        row = self._conn().execute(select(users).where(users.c.email == email)).first()
        return None if row is None else _record(row)

    def all(self) -> list[UserRecord]:
        return [_record(r) for r in self._conn().execute(select(users).order_by(users.c.id))]

    def insert(self, *, user_id: str, name: str, role: str, schools: Sequence[str], email: str | None,
               managed: str, now: dt.datetime) -> None:
        self._conn().execute(insert(users).values(
            id=user_id, name=name, role=role, schools=json.dumps(list(schools)), email=email, managed=managed,
            created_at=now, updated_at=now))

    def update(self, user_id: str, changes: UserChanges, *, now: dt.datetime) -> bool:
        values: dict[str, Any] = dict(changes)
        if "schools" in values:
            values["schools"] = json.dumps(list(values["schools"]))
        done = self._conn().execute(update(users).where(users.c.id == user_id).values(updated_at=now, **values))
        return bool(done.rowcount == 1)

    def set_disabled(self, user_id: str, disabled_at: dt.datetime | None, *, now: dt.datetime) -> bool:
        done = self._conn().execute(update(users).where(users.c.id == user_id).values(
            disabled_at=disabled_at, updated_at=now))
        return bool(done.rowcount == 1)

    def totp(self, user_id: str) -> TotpState | None:
        row = self._conn().execute(select(users.c.totp_secret, users.c.totp_enrolled_at, users.c.totp_last_step)
                                   .where(users.c.id == user_id)).first()
        if row is None:
            return None
        secret = bytes(row.totp_secret) if row.totp_secret is not None else None
        return TotpState(secret, row.totp_enrolled_at, row.totp_last_step)

    def set_totp_secret(self, user_id: str, sealed: bytes) -> None:
        self._conn().execute(update(users).where(users.c.id == user_id).values(totp_secret=sealed))

    def accept_totp(self, user_id: str, step: int, *, now: dt.datetime) -> None:
        conn = self._conn()
        enrolled = conn.execute(select(users.c.totp_enrolled_at).where(users.c.id == user_id)).scalar()
        values: dict[str, Any] = {"totp_last_step": step}
        if enrolled is None:
            values.update(totp_enrolled_at=now, updated_at=now)
        conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def reset_totp(self, user_id: str, *, now: dt.datetime) -> bool:
        done = self._conn().execute(update(users).where(users.c.id == user_id).values(
            totp_secret=None, totp_enrolled_at=None, totp_last_step=None, updated_at=now))
        return bool(done.rowcount == 1)


class SqlUserLookup:
    """`UserLookup`: the acting user's read on a kept driver connection (see the module's docstring)."""

    def __init__(self, db: SqlEngine, *, reserve: Reserve | None = None) -> None:
        self.db = db
        self._sqlite = is_sqlite(db)
        self._reserve = reserve if reserve is not None else Reserve(db)

    def acting(self, user_id: str) -> Acting | None:
        return rows.acting(user_id, self._fetch(_ACTING, _ACTING_PG, user_id))

    def token(self, token_hash: str) -> TokenRecord | None:
        return rows.token(self._fetch(_TOKEN, _TOKEN_PG, token_hash))

    def _fetch(self, sql: str, sql_pg: str, key: str) -> tuple[Any, ...] | None:
        dbapi = self.db.dialect.loaded_dbapi
        try:
            for attempt in (1, 2):
                kept = self._reserve.take()
                try:
                    row = self._read(kept, sql, sql_pg, key)
                except dbapi.OperationalError:
                    # PostgreSQL: a connection the server dropped under us; once, a fresh one.
                    kept.fairy.invalidate()
                    if self._sqlite or attempt == 2:
                        raise
                    continue
                except BaseException:
                    kept.fairy.close()
                    raise
                self._reserve.give(kept)
                return row
        except dbapi.Error as exc:  # as a Core statement would raise it: the CLI names the problem
            raise DBAPIError.instance(None, None, exc, dbapi.Error, hide_parameters=True,
                                      dialect=self.db.dialect) from exc
        raise AssertionError("unreachable")

    def _read(self, kept: Kept, sql: str, sql_pg: str, key: str) -> tuple[Any, ...] | None:
        conn = kept.dbapi
        if self._sqlite:
            return conn.execute(sql, (key,)).fetchone()  # type: ignore[no-any-return]
        # PostgreSQL: outside any transaction, prepared, through libpq directly (store.pgwire).
        if pipelines():
            from workflow.adapters.store.pgwire import wire_of

            wire = wire_of(conn, kept.fairy.info)
            result = wire.result()
            wire.run([(sql, (key,), result, True)])
            return result.fetchone()
        if not conn.autocommit:
            conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql_pg, (key,))
            return cur.fetchone()  # type: ignore[no-any-return]

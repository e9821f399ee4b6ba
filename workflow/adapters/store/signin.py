"""The web sign-in's tables on SQLite and PostgreSQL: `WebSessions`, `SigninLinks`, `OidcFlows`
and `Throttle`, each on a unit of work's connection (and transaction).

The races are settled here, where the database can settle them: a link is marked used by a
conditional UPDATE (of two requests with one link, one changes a row), a flow is taken by a
DELETE whose row count says who took it, a session is promoted only from stage "code", and a
throttle counter is made if missing (INSERT ... ON CONFLICT DO NOTHING) and then locked (FOR
UPDATE on PostgreSQL; on SQLite a writing unit holds the database's write lock from its BEGIN
IMMEDIATE), so two requests never count from the same old value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.adapters.codec import stored_instant
from workflow.adapters.config import User
from workflow.adapters.ports import FlowRow, LinkRow, SessionRow
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import signin_flows, signin_links, signin_throttle, users, web_sessions

_SESSION = ("SELECT s.id, s.user_id, s.stage, s.method, s.csrf, s.created_at, s.last_seen_at, s.expires_at, "
            "u.name, u.role, u.schools, u.email, u.disabled_at IS NULL FROM web_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.id = ?")


class SqlWebSessions:
    """`driver`: the unit's driver connection; every page asks for its session first, and that
    read goes straight to it (SQLAlchemy's statement machinery costs more than the read)."""

    def __init__(self, connection: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._conn = connection
        self._driver = driver or (lambda: Driver.of(connection()))

    def add(self, *, session_id: str, user_id: str, stage: str, method: str, csrf: str, now: dt.datetime,
            expires_at: dt.datetime) -> None:
        self._conn().execute(insert(web_sessions).values(
            id=session_id, user_id=user_id, stage=stage, method=method, csrf=csrf, created_at=now,
            last_seen_at=now, expires_at=expires_at))

    def get(self, session_id: str) -> SessionRow | None:
        cur = self._driver().execute(_SESSION, (session_id,))
        try:
            r = cur.fetchone()
        finally:
            cur.close()
        if r is None:
            return None
        user = User(r[1], r[9], tuple(json.loads(r[10])), r[8], r[11])
        return SessionRow(id=r[0], user=user, user_active=bool(r[12]), stage=r[2], method=r[3], csrf=r[4],
                          created_at=stored_instant(r[5]), last_seen_at=stored_instant(r[6]),
                          expires_at=stored_instant(r[7]))

    def touch(self, session_id: str, now: dt.datetime) -> None:
        self._conn().execute(update(web_sessions).where(web_sessions.c.id == session_id).values(last_seen_at=now))

    def promote(self, session_id: str, *, new_id: str, csrf: str, now: dt.datetime,
                expires_at: dt.datetime) -> bool:
        done = self._conn().execute(update(web_sessions).where(
            web_sessions.c.id == session_id, web_sessions.c.stage == "code").values(
            id=new_id, stage="full", csrf=csrf, last_seen_at=now, expires_at=expires_at))
        return bool(done.rowcount == 1)

    def end(self, session_id: str) -> None:
        self._conn().execute(delete(web_sessions).where(web_sessions.c.id == session_id))

    def end_user(self, user_id: str) -> int:
        return int(self._conn().execute(delete(web_sessions).where(web_sessions.c.user_id == user_id)).rowcount)

    def purge(self, *, now: dt.datetime) -> int:
        return int(self._conn().execute(delete(web_sessions).where(web_sessions.c.expires_at < now)).rowcount)


class SqlSigninLinks:
    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._conn = connection

    def add(self, *, link_id: str, user_id: str, now: dt.datetime, expires_at: dt.datetime) -> None:
        self._conn().execute(insert(signin_links).values(
            id=link_id, user_id=user_id, created_at=now, expires_at=expires_at))

    def get(self, link_id: str) -> LinkRow | None:
        row = self._conn().execute(
            select(signin_links.c.user_id, signin_links.c.expires_at, signin_links.c.used_at, users.c.disabled_at)
            .join(users, users.c.id == signin_links.c.user_id)
            .where(signin_links.c.id == link_id)).first()
        if row is None:
            return None
        return LinkRow(row.user_id, row.expires_at, row.used_at, row.disabled_at is None)

    def use(self, link_id: str, now: dt.datetime) -> bool:
        done = self._conn().execute(update(signin_links).where(
            signin_links.c.id == link_id, signin_links.c.used_at.is_(None)).values(used_at=now))
        return bool(done.rowcount == 1)

    def purge(self, *, before: dt.datetime) -> int:
        return int(self._conn().execute(delete(signin_links).where(signin_links.c.expires_at < before)).rowcount)


class SqlOidcFlows:
    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._conn = connection

    def add(self, *, flow_id: str, nonce: str, verifier: str, browser: str, now: dt.datetime,
            expires_at: dt.datetime) -> None:
        self._conn().execute(insert(signin_flows).values(
            id=flow_id, nonce=nonce, verifier=verifier, browser=browser, created_at=now, expires_at=expires_at))

    def take(self, flow_id: str) -> FlowRow | None:
        conn = self._conn()
        row = conn.execute(select(signin_flows).where(signin_flows.c.id == flow_id)).first()
        if row is None:
            return None
        if conn.execute(delete(signin_flows).where(signin_flows.c.id == flow_id)).rowcount != 1:
            return None  # another request took it between the two statements
        return FlowRow(row.nonce, row.verifier, row.browser, row.expires_at)

    def purge(self, *, now: dt.datetime) -> int:
        return int(self._conn().execute(delete(signin_flows).where(signin_flows.c.expires_at < now)).rowcount)


class SqlThrottle:
    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._conn = connection

    def get(self, key: str) -> tuple[dt.datetime, int] | None:
        row = self._conn().execute(select(signin_throttle.c.window_start, signin_throttle.c.count)
                                   .where(signin_throttle.c.key == key)).first()
        return None if row is None else (row[0], int(row[1]))

    def lock(self, key: str, now: dt.datetime) -> tuple[dt.datetime, int]:
        conn = self._conn()
        make: Any = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
        conn.execute(make(signin_throttle).values(key=key, window_start=now, count=0).on_conflict_do_nothing())
        row = conn.execute(select(signin_throttle.c.window_start, signin_throttle.c.count)
                           .where(signin_throttle.c.key == key).with_for_update()).one()
        return row[0], int(row[1])

    def put(self, key: str, window_start: dt.datetime, count: int) -> None:
        self._conn().execute(update(signin_throttle).where(signin_throttle.c.key == key).values(
            window_start=window_start, count=count))

    def clear(self, key: str) -> None:
        self._conn().execute(delete(signin_throttle).where(signin_throttle.c.key == key))

    def purge(self, *, older_than: dt.datetime) -> int:
        return int(self._conn().execute(
            delete(signin_throttle).where(signin_throttle.c.window_start < older_than)).rowcount)

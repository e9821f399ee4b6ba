"""The parents on a case and their sign-in state, on SQLite and PostgreSQL (the `Parents` port).

A link is marked used by a conditional UPDATE (of two requests with one link, one changes a
row); removing a parent deletes their links and sessions in the same transaction, so neither
works a moment after the removal is committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from workflow.adapters.codec import read_instant, stored_instant
from workflow.adapters.ports import ParentLinkRow, ParentRow, ParentSessionRow
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import case_parents, parent_links, parent_sessions

_P = case_parents.c


def _parent(row: Any) -> ParentRow:
    return ParentRow(row.id, row.case_id, row.school, row.name, row.email, row.added_by, row.added_at,
                     row.removed_at)


_OF_CASE = ("SELECT id, case_id, school, name, email, added_by, added_at, removed_at FROM case_parents "
            "WHERE case_id = ? AND removed_at IS NULL ORDER BY added_at, id")


class SqlParents:
    """`driver`: the unit's driver connection; the case page's read of a case's parents goes
    straight to it (SQLAlchemy's statement machinery costs more than the read)."""

    def __init__(self, connection: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._conn = connection
        self._driver = driver or (lambda: Driver.of(connection()))

    def add(self, row: ParentRow) -> None:
        self._conn().execute(insert(case_parents).values(**row._asdict()))

    def get(self, parent_id: str) -> ParentRow | None:
        row = self._conn().execute(select(case_parents).where(_P.id == parent_id)).first()
        return None if row is None else _parent(row)

    def of_case(self, case_id: str) -> list[ParentRow]:
        cur = self._driver().execute(_OF_CASE, (case_id,))
        try:
            return [ParentRow(r[0], r[1], r[2], r[3], r[4], r[5], stored_instant(r[6]), read_instant(r[7]))
                    for r in cur.fetchall()]
        finally:
            cur.close()

    def remove(self, parent_id: str, now: dt.datetime) -> bool:
        conn = self._conn()
        done = conn.execute(update(case_parents).where(_P.id == parent_id, _P.removed_at.is_(None))
                            .values(removed_at=now))
        conn.execute(delete(parent_links).where(parent_links.c.parent_id == parent_id))
        conn.execute(delete(parent_sessions).where(parent_sessions.c.parent_id == parent_id))
        return bool(done.rowcount == 1)

    def add_link(self, *, link_id: str, parent_id: str, now: dt.datetime, expires_at: dt.datetime) -> None:
        self._conn().execute(insert(parent_links).values(id=link_id, parent_id=parent_id, created_at=now,
                                                         expires_at=expires_at))

    def drop_links(self, parent_id: str) -> int:
        return int(self._conn().execute(delete(parent_links).where(
            parent_links.c.parent_id == parent_id, parent_links.c.used_at.is_(None))).rowcount)

    def link(self, link_id: str) -> ParentLinkRow | None:
        row = self._conn().execute(
            select(case_parents, parent_links.c.expires_at.label("link_expires"),
                   parent_links.c.used_at.label("link_used"))
            .join(case_parents, _P.id == parent_links.c.parent_id)
            .where(parent_links.c.id == link_id)).first()
        return None if row is None else ParentLinkRow(_parent(row), row.link_expires, row.link_used)

    def use_link(self, link_id: str, now: dt.datetime) -> bool:
        done = self._conn().execute(update(parent_links).where(
            parent_links.c.id == link_id, parent_links.c.used_at.is_(None)).values(used_at=now))
        return bool(done.rowcount == 1)

    def add_session(self, *, session_id: str, parent_id: str, csrf: str, now: dt.datetime,
                    expires_at: dt.datetime) -> None:
        self._conn().execute(insert(parent_sessions).values(
            id=session_id, parent_id=parent_id, csrf=csrf, created_at=now, last_seen_at=now, expires_at=expires_at))

    def session(self, session_id: str) -> ParentSessionRow | None:
        s = parent_sessions.c
        row = self._conn().execute(
            select(case_parents, s.id.label("sid"), s.csrf, s.created_at, s.last_seen_at, s.expires_at)
            .join(case_parents, _P.id == s.parent_id).where(s.id == session_id)).first()
        if row is None:
            return None
        return ParentSessionRow(row.sid, _parent(row), row.csrf, row.created_at, row.last_seen_at, row.expires_at)

    def touch_session(self, session_id: str, now: dt.datetime) -> None:
        self._conn().execute(update(parent_sessions).where(parent_sessions.c.id == session_id)
                             .values(last_seen_at=now))

    def end_session(self, session_id: str) -> None:
        self._conn().execute(delete(parent_sessions).where(parent_sessions.c.id == session_id))

    def purge(self, *, now: dt.datetime) -> int:
        conn = self._conn()
        n = conn.execute(delete(parent_sessions).where(parent_sessions.c.expires_at < now)).rowcount
        n += conn.execute(delete(parent_links).where(
            parent_links.c.expires_at < now - dt.timedelta(days=1))).rowcount
        return int(n)

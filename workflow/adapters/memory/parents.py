"""The fake's parents on a case and their sign-in state, in dicts (the `Parents` port).

A unit of work holds the store's lock from start to end, so a link is used once as in the database.
"""

from __future__ import annotations

import datetime as dt

from workflow.adapters.memory.database import Journal, MemoryDatabase
from workflow.adapters.ports import ParentLinkRow, ParentRow, ParentSessionRow


class MemoryParents:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def add(self, row: ParentRow) -> None:
        self._j.put(self._db.parents, row.id, row)

    def get(self, parent_id: str) -> ParentRow | None:
        row: ParentRow | None = self._db.parents.get(parent_id)
        return row

    def of_case(self, case_id: str) -> list[ParentRow]:
        rows = [r for r in self._db.parents.values() if r.case_id == case_id and r.removed_at is None]
        return sorted(rows, key=lambda r: (r.added_at, r.id))

    def remove(self, parent_id: str, now: dt.datetime) -> bool:
        row = self.get(parent_id)
        for table in (self._db.parent_links, self._db.parent_sessions):
            for k in [k for k, r in table.items() if r["parent_id"] == parent_id]:
                self._j.delete(table, k)
        if row is None or row.removed_at is not None:
            return False
        self._j.put(self._db.parents, parent_id, row._replace(removed_at=now))
        return True

    def add_link(self, *, link_id: str, parent_id: str, now: dt.datetime, expires_at: dt.datetime) -> None:
        self._j.put(self._db.parent_links, link_id, {"parent_id": parent_id, "created_at": now,
                                                     "expires_at": expires_at, "used_at": None})

    def drop_links(self, parent_id: str) -> int:
        ids = [k for k, r in self._db.parent_links.items() if r["parent_id"] == parent_id and r["used_at"] is None]
        for k in ids:
            self._j.delete(self._db.parent_links, k)
        return len(ids)

    def link(self, link_id: str) -> ParentLinkRow | None:
        row = self._db.parent_links.get(link_id)
        parent = self.get(row["parent_id"]) if row is not None else None
        if row is None or parent is None:
            return None
        return ParentLinkRow(parent, row["expires_at"], row["used_at"])

    def use_link(self, link_id: str, now: dt.datetime) -> bool:
        row = self._db.parent_links.get(link_id)
        if row is None or row["used_at"] is not None:
            return False
        self._j.update(row, used_at=now)
        return True

    def add_session(self, *, session_id: str, parent_id: str, csrf: str, now: dt.datetime,
                    expires_at: dt.datetime) -> None:
        self._j.put(self._db.parent_sessions, session_id, {
            "parent_id": parent_id, "csrf": csrf, "created_at": now, "last_seen_at": now, "expires_at": expires_at})

    def session(self, session_id: str) -> ParentSessionRow | None:
        row = self._db.parent_sessions.get(session_id)
        parent = self.get(row["parent_id"]) if row is not None else None
        if row is None or parent is None:
            return None
        return ParentSessionRow(session_id, parent, row["csrf"], row["created_at"], row["last_seen_at"],
                                row["expires_at"])

    def touch_session(self, session_id: str, now: dt.datetime) -> None:
        row = self._db.parent_sessions.get(session_id)
        if row is not None:
            self._j.update(row, last_seen_at=now)

    def end_session(self, session_id: str) -> None:
        self._j.delete(self._db.parent_sessions, session_id)

    def purge(self, *, now: dt.datetime) -> int:
        n = 0
        for table, cut in ((self._db.parent_sessions, now), (self._db.parent_links, now - dt.timedelta(days=1))):
            for k in [k for k, r in table.items() if r["expires_at"] < cut]:
                n += self._j.delete(table, k)
        return n

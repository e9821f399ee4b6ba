"""The fake's web sign-in tables: sessions, links, OIDC flows and throttle counters in dicts.

A unit of work holds the store's lock from start to end, so "once" (a link used, a flow taken,
a session promoted) and a counter's lock hold as they do in the database.
"""

from __future__ import annotations

import datetime as dt

from workflow.adapters.config import User
from workflow.adapters.memory.database import Journal, MemoryDatabase
from workflow.adapters.ports import FlowRow, LinkRow, SessionRow


class MemoryWebSessions:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def add(self, *, session_id: str, user_id: str, stage: str, method: str, csrf: str, now: dt.datetime,
            expires_at: dt.datetime) -> None:
        self._j.put(self._db.web_sessions, session_id, {
            "id": session_id, "user_id": user_id, "stage": stage, "method": method, "csrf": csrf,
            "created_at": now, "last_seen_at": now, "expires_at": expires_at})

    def get(self, session_id: str) -> SessionRow | None:
        row = self._db.web_sessions.get(session_id)
        u = self._db.users.get(row["user_id"]) if row is not None else None
        if row is None or u is None:
            return None
        user = User(u["id"], u["role"], u["schools"], u["name"], u["email"])
        return SessionRow(id=row["id"], user=user, user_active=u["disabled_at"] is None, stage=row["stage"],
                          method=row["method"], csrf=row["csrf"], created_at=row["created_at"],
                          last_seen_at=row["last_seen_at"], expires_at=row["expires_at"])

    def touch(self, session_id: str, now: dt.datetime) -> None:
        row = self._db.web_sessions.get(session_id)
        if row is not None:
            self._j.update(row, last_seen_at=now)

    def promote(self, session_id: str, *, new_id: str, csrf: str, now: dt.datetime,
                expires_at: dt.datetime) -> bool:
        row = self._db.web_sessions.get(session_id)
        if row is None or row["stage"] != "code":
            return False
        self._j.delete(self._db.web_sessions, session_id)
        self._j.put(self._db.web_sessions, new_id, {**row, "id": new_id, "stage": "full", "csrf": csrf,
                                                    "last_seen_at": now, "expires_at": expires_at})
        return True

    def end(self, session_id: str) -> None:
        self._j.delete(self._db.web_sessions, session_id)

    def end_user(self, user_id: str) -> int:
        ids = [k for k, r in self._db.web_sessions.items() if r["user_id"] == user_id]
        for k in ids:
            self._j.delete(self._db.web_sessions, k)
        return len(ids)

    def purge(self, *, now: dt.datetime) -> int:
        ids = [k for k, r in self._db.web_sessions.items() if r["expires_at"] < now]
        for k in ids:
            self._j.delete(self._db.web_sessions, k)
        return len(ids)


class MemorySigninLinks:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def add(self, *, link_id: str, user_id: str, now: dt.datetime, expires_at: dt.datetime) -> None:
        self._j.put(self._db.signin_links, link_id, {
            "id": link_id, "user_id": user_id, "created_at": now, "expires_at": expires_at, "used_at": None})

    def get(self, link_id: str) -> LinkRow | None:
        row = self._db.signin_links.get(link_id)
        u = self._db.users.get(row["user_id"]) if row is not None else None
        if row is None or u is None:
            return None
        return LinkRow(row["user_id"], row["expires_at"], row["used_at"], u["disabled_at"] is None)

    def use(self, link_id: str, now: dt.datetime) -> bool:
        row = self._db.signin_links.get(link_id)
        if row is None or row["used_at"] is not None:
            return False
        self._j.update(row, used_at=now)
        return True

    def purge(self, *, before: dt.datetime) -> int:
        ids = [k for k, r in self._db.signin_links.items() if r["expires_at"] < before]
        for k in ids:
            self._j.delete(self._db.signin_links, k)
        return len(ids)


class MemoryOidcFlows:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def add(self, *, flow_id: str, nonce: str, verifier: str, browser: str, now: dt.datetime,
            expires_at: dt.datetime) -> None:
        self._j.put(self._db.signin_flows, flow_id, {
            "nonce": nonce, "verifier": verifier, "browser": browser, "created_at": now, "expires_at": expires_at})

    def take(self, flow_id: str) -> FlowRow | None:
        row = self._db.signin_flows.get(flow_id)
        if row is None:
            return None
        self._j.delete(self._db.signin_flows, flow_id)
        return FlowRow(row["nonce"], row["verifier"], row["browser"], row["expires_at"])

    def purge(self, *, now: dt.datetime) -> int:
        ids = [k for k, r in self._db.signin_flows.items() if r["expires_at"] < now]
        for k in ids:
            self._j.delete(self._db.signin_flows, k)
        return len(ids)


class MemoryThrottle:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def get(self, key: str) -> tuple[dt.datetime, int] | None:
        row = self._db.throttle.get(key)
        return None if row is None else (row["window_start"], row["count"])

    def lock(self, key: str, now: dt.datetime) -> tuple[dt.datetime, int]:
        row = self._db.throttle.get(key)
        if row is None:
            row = {"window_start": now, "count": 0}
            self._j.put(self._db.throttle, key, row)
        return row["window_start"], row["count"]

    def put(self, key: str, window_start: dt.datetime, count: int) -> None:
        row = self._db.throttle.get(key)
        if row is not None:
            self._j.update(row, window_start=window_start, count=count)

    def clear(self, key: str) -> None:
        self._j.delete(self._db.throttle, key)

    def purge(self, *, older_than: dt.datetime) -> int:
        keys = [k for k, r in self._db.throttle.items() if r["window_start"] < older_than]
        for k in keys:
            self._j.delete(self._db.throttle, k)
        return len(keys)

"""Fixed-window counters against guessing: sign-in links per address and per IP, codes per user.

A counter is a row (`signin_throttle`): its key, when its window began, how many attempts it
holds. Counting is race-free on both databases: the row is made if missing (INSERT ... ON
CONFLICT DO NOTHING), then locked (FOR UPDATE on PostgreSQL; SQLite's writer lock is held from
BEGIN IMMEDIATE) and moved on. Keys never hold an e-mail address as such (see links.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.adapters.store.tables import signin_throttle as t


def hit(conn: Any, key: str, *, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
    """Count one attempt under `key`; True while the window holds at most `limit` of them."""
    make = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    conn.execute(make(t).values(key=key, window_start=now, count=0).on_conflict_do_nothing())
    row = conn.execute(select(t).where(t.c.key == key).with_for_update()).one()
    if row.window_start <= now - window:
        conn.execute(update(t).where(t.c.key == key).values(window_start=now, count=1))
        return limit >= 1
    conn.execute(update(t).where(t.c.key == key).values(count=row.count + 1))
    return bool(row.count + 1 <= limit)


def over(conn: Any, key: str, *, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
    """Whether `key` has used up its window already (without counting)."""
    row = conn.execute(select(t).where(t.c.key == key)).first()
    return row is not None and row.window_start > now - window and row.count >= limit


def clear(conn: Any, key: str) -> None:
    conn.execute(delete(t).where(t.c.key == key))


def purge(conn: Any, *, older_than: dt.datetime) -> None:
    """Forget counters whose window ended long ago (they hold IP addresses)."""
    conn.execute(delete(t).where(t.c.window_start < older_than))

"""The stored form of events, shared by every store: reading an instant and a payload back (fast
on the common forms), the stored time text, and a stored row as an Event.

Per event these two parses are most of the cost of loading a case (every command) and of
replaying a store (audit). SQLite's naive UTC text gets its zone inside the parse (a separate
datetime.replace costs ten times the parse), and the payload goes to json's C scanner without
json.loads' Python layers. Anything else takes the general forms, so a value is read exactly as
before, whichever path it takes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from workflow.domain.events import Event, restore_event
from workflow.domain.instants import as_utc, iso_utc

_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
UNREADABLE: Any = object()


def read_instant(at: Any) -> dt.datetime | None:
    """A stored time as aware UTC (a datetime from PostgreSQL, text from SQLite); None when it
    cannot be read."""
    if type(at) is str and len(at) == 26:  # SQLite's 'YYYY-MM-DD HH:MM:SS.ffffff'
        try:
            when = dt.datetime.fromisoformat(at + "+00:00")
            if when.tzinfo is dt.UTC:
                return when
        except ValueError:  # not that form after all
            pass
    try:
        when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def read_payload(text: Any) -> Any:
    """The stored payload parsed exactly as json.loads would, or UNREADABLE."""
    try:
        body, end = _SCAN(text, 0)
        if end == len(text):
            return body
    except (TypeError, ValueError, StopIteration):
        pass
    try:
        return json.loads(text)  # spaces around it, bytes, ...: json.loads decides, as before
    except (TypeError, ValueError):
        return UNREADABLE


def stored_time(value: dt.datetime | None) -> str | None:
    """An instant in the text form SQLAlchemy stores on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff',
    naive UTC): what the event store binds on SQLite, what the audit's raw reads hand out on
    every store (PostgreSQL formats its timestamptz so), and what the in-memory store keeps."""
    if value is None:
        return None
    if value.tzinfo is dt.UTC:  # the engine's own instants: drop the '+00:00' instead of the zone
        return value.isoformat(" ", "microseconds")[:-6]
    return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def iso_text(value: Any) -> str:
    """The canonical time text (docs/event-chain.md) from a stored value: the stored text form
    or a driver's datetime. A value that is neither is returned as escaped text, so it hashes to
    something no record of the engine's has."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return value[:10] + "T" + value[11:] + "Z"
        text_value: str = value
        try:
            value = dt.datetime.fromisoformat(text_value)
        except ValueError:  # garbage: hashed as text, so it matches nothing the engine wrote
            return text_value.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    return json.dumps(value, default=str)  # garbage in a time column: hash it as text, it will not match


# A case's events as the event store selects them: every stored column but the case's id, which is
# the one asked for (an exact match), so it is not fetched back once per event.
CASE_EVENTS_SQL = ("SELECT seq, type, process_id, process_version, actor, role, recorded_at, payload, "
                   "prev_hash, hash FROM events WHERE case_id = ? ORDER BY seq")
CASE_KEY_SQL = "SELECT wrapped FROM case_keys WHERE case_id = ?"


def stored_instant(at: Any) -> dt.datetime:
    """`read_instant` of a NOT NULL time column: one that cannot be read is a ValueError."""
    when = read_instant(at)
    if when is None:
        raise ValueError("a stored time that cannot be read")
    return when


def restore_case_rows(case_id: str, rows: Iterable[tuple[Any, ...]]) -> list[Event]:
    """A case's events from its CASE_EVENTS_SQL rows; ValueError when a time or payload cannot
    be read. Shared by the SQL store's event store and the driver-only read (store.direct)."""
    out = []
    for seq, type_, pid, pver, actor, role, at, payload, prev, h in rows:
        when, body = read_instant(at), read_payload(payload)
        if when is None or body is UNREADABLE:
            raise ValueError(f"event {seq} of case {case_id}: time or payload unreadable")
        out.append(restore_event(case_id, seq, type_, pid, pver, actor, role, when, body, prev, h, payload))
    return out


def restore_row(row: tuple[Any, ...]) -> Event:
    """A stored event row (workflow.adapters.ports.RAW_EVENT_COLUMNS) as an Event; ValueError
    when its time or payload cannot be read."""
    cid, seq, typ, pid, pver, actor, role, at, payload, prev, h = row
    when, body = read_instant(at), read_payload(payload)
    if when is None or body is UNREADABLE:
        raise ValueError(f"event {seq} of case {cid}: time or payload unreadable")
    return restore_event(cid, seq, typ, pid, pver, actor, role, when, body, prev, h, payload)

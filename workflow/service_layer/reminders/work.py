"""Reminder work: which cases the planner has to look at, so a tick folds only those.

Folding every open case on every tick costs seconds per few thousand cases. Instead the `cases`
row carries two dates (migration 0005):

- `next_action_on`: the first day on which the planner could have a reminder or escalation to
  plan for the case. Every write sets it to LOOK_NOW (1970-01-01) and `planned_on` to NULL (the
  event store, in the same transaction as the events), because any event may start, stop or
  move a clock. The planner folds such a case at its next tick, plans what is due, and stores
  the send day of the first action it has not reached yet (NULL: none, until the next event).
- `planned_on`: the day the planner last planned the case up to.

A tick on day T folds the cases with `next_action_on <= T` (before `send_time`: `< T`, as
nothing dated T is reached yet; an index range) or
`planned_on > T` (a run with `--now` later than T planned them: at T, a reminder may be due that
the later run found past its window, so they are looked at in full; this never happens with the
real clock, which only moves forward). Why nothing is lost: at `planned_on` every action reached
was planned; an action not reached then has its send day >= next_action_on; a reminder's window
(until its deadline) and an escalation (no end) that are open at T were open at any earlier day.
A write-back never moves `planned_on` backwards and only applies to the case version it folded.

The dates are the calendar-moved send days (reminders to the school day before, escalations to
the school day after), computed with the calendars configured when the planner ran. A change to
a school's `days_off` or region takes effect for a case at its next write or planning; a day off
added in front of an already computed reminder makes it go out on that computed day (still before
the deadline), never not at all. Running deadlines of a case that is not paused do not depend on
the day (deadlines.running), so the dates stay right until the next event; a paused case plans
nothing until an event ends the pause, so it gets NULL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, or_, select, update

from workflow.adapters.store.tables import cases
from workflow.domain import deadlines as dl
from workflow.domain.calendar import SchoolCalendar

if TYPE_CHECKING:
    from workflow.domain.case import Case
    from workflow.domain.definition import ProcessDefinition

# Cases per chunk: the IN list of an events query, and what a tick folds, plans and stores
# before it drops them and reads the next (a tick's memory is about one chunk's cases).
SCAN_CHUNK = 500


@dataclass(frozen=True)
class Action:
    """One reminder or escalation of a running clock, on the school day it is sent."""

    kind: str  # reminder | escalation
    offset: dl.Duration | None  # the reminder's offset before the deadline
    send_on: dt.date
    last_day: dt.date | None  # a reminder is due until its deadline's day; an escalation always

    def open_on(self, today: dt.date) -> bool:
        return self.last_day is None or today <= self.last_day


def actions(r: dl.Running, cal: SchoolCalendar) -> list[Action]:
    """The planner's actions for one running clock (none while it is paused)."""
    if r.paused:
        return []
    out = [Action("reminder", offset, cal.on_or_before(day), r.due) for offset, day in r.reminder_dates()]
    esc = r.escalation_date()
    if esc is not None:
        out.append(Action("escalation", None, cal.on_or_after(esc), None))
    return out


def first_day(unreached: Iterable[Action]) -> dt.date | None:
    """The next action day: the earliest send day among the actions not reached yet (their
    send day is today or later, so a reminder's window is still open on it)."""
    return min((a.send_on for a in unreached), default=None)


@dataclass(frozen=True)
class Mark:
    """What a tick learned about one case: write it back if the case is still at `version`."""

    case_id: str
    version: int
    next_action_on: dt.date | None
    planned_on: dt.date


# Straight to the driver, like the event store's hot statements: this runs every tick over the
# whole `cases` index range, and SQLAlchemy's result machinery per row cost more than SQLite's
# own work. Dates are bound as SQLAlchemy's Date stores them (ISO text on SQLite).
# Closed cases have both dates NULL (the closing write clears them), so no filter on closed_at:
# each query is an index-only range over (date, case_id) (migration 0006).
_DUE_SQL = (
    "SELECT case_id FROM cases WHERE next_action_on <= ?",
    "SELECT case_id FROM cases WHERE planned_on > ?",
)


def due_case_ids(conn: Connection, through: dt.date, today: dt.date | None = None) -> list[str]:
    """Open cases the planner must fold: next action day up to `through` (today, or yesterday
    before send_time), or planned beyond `today`. Two index ranges, no events read."""
    sqlite = conn.dialect.name == "sqlite"
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    ids: set[str] = set()
    try:
        for sql, day in zip(_DUE_SQL, (through, today or through), strict=True):
            cur.execute(sql if sqlite else sql.replace("?", "%s"), (day.isoformat() if sqlite else day,))
            ids.update(r[0] for r in cur.fetchall())
    finally:
        cur.close()
    return sorted(ids)


# The same two ranges a page at a time, keyset on (date, case_id) so each page is an index range
# and a tick never holds every due id (at 1M cases after an import that alone is ~100 MB). The
# second range leaves out what the first returns. A page's cases are written back before the
# next page is read: that moves them past `through` (their next action day is not reached yet)
# or to NULL, and `planned_on` to today, so no page returns a case of an earlier one.
# The keyset is a row value, `(date, case_id) > (?, ?)`: SQLite and PostgreSQL seek the index to
# it. Spelt `date > ? OR (date = ? AND case_id > ?)`, SQLite walked each page's range from its
# start, so the pages of a 1M store's scan cost 2-5x the unpaged queries instead of ~1.3x.
_PAGE_SQL = (
    "SELECT next_action_on, case_id FROM cases WHERE next_action_on <= ? AND"
    " (next_action_on, case_id) > (?, ?) ORDER BY next_action_on, case_id LIMIT ?",
    "SELECT planned_on, case_id FROM cases WHERE planned_on > ? AND"
    " (next_action_on IS NULL OR next_action_on > ?) AND"
    " (planned_on, case_id) > (?, ?) ORDER BY planned_on, case_id LIMIT ?",
)


def due_case_pages(db: Engine, through: dt.date, today: dt.date, size: int | None = None) -> Iterator[list[str]]:
    """What `due_case_ids` returns, as pages of at most `size` ids (SCAN_CHUNK), each read on a
    connection of its own when asked for, so the caller can write between pages."""
    size = size or SCAN_CHUNK
    for sql, fixed, floor in ((_PAGE_SQL[0], (through,), dt.date(1, 1, 1)),
                              (_PAGE_SQL[1], (today, through), today)):
        last: tuple[Any, str] = (floor, "")
        while True:
            with db.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                days = [d.isoformat() if sqlite and isinstance(d, dt.date) else d for d in (*fixed, last[0])]
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    cur.execute(sql if sqlite else sql.replace("?", "%s"), (*days, last[1], size))
                    rows = cur.fetchall()
                finally:
                    cur.close()
            if rows:
                yield [r[1] for r in rows]
            if len(rows) < size:
                break
            last = (rows[-1][0], rows[-1][1])


def due_among(conn: Connection, ids: list[str], through: dt.date, today: dt.date) -> set[str]:
    """Those of `ids` that `due_case_ids` would return (for the digest tick, which pages through
    every open case and plans the due ones among them)."""
    q = select(cases.c.case_id).where(cases.c.case_id.in_(ids), or_(
        cases.c.next_action_on <= through, cases.c.planned_on > today))
    return {r[0] for r in conn.execute(q)}


def chunks(ids: list[str], size: int | None = None) -> Iterator[list[str]]:
    """`ids` in slices of `size` (SCAN_CHUNK, read at call time so a test can make it small)."""
    size = size or SCAN_CHUNK
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


_WRITE_BACK = (
    update(cases)
    .where(cases.c.case_id == bindparam("b_case_id"), cases.c.version == bindparam("b_version"),
           or_(cases.c.planned_on.is_(None), cases.c.planned_on <= bindparam("b_planned_on")))
    .values(next_action_on=bindparam("b_next"), planned_on=bindparam("b_planned_on"))
)


def write_back(db: Engine, marks: list[Mark]) -> int:
    """Store each case's next action day; a case written since it was folded keeps LOOK_NOW."""
    from workflow.adapters.store.db import begin_write

    n = 0
    for part in (marks[i:i + 1000] for i in range(0, len(marks), 1000)):
        with begin_write(db) as conn:
            r = conn.execute(_WRITE_BACK, [
                {"b_case_id": m.case_id, "b_version": m.version, "b_next": m.next_action_on,
                 "b_planned_on": m.planned_on} for m in part])
            n += int(r.rowcount or 0)
    return n


def stale(case: Case, definition: ProcessDefinition, cal: SchoolCalendar,
          next_on: dt.date | None, planned_on: dt.date | None) -> str | None:
    """Why a stored next action day could make the planner miss a reminder, or None (for
    `audit replay`). A day earlier than needed only costs a fold and is fine; LOOK_NOW always is.
    The time of day of the last planning is not stored, so actions on `planned_on` itself are
    not checked."""
    from workflow.adapters.store.eventstore import LOOK_NOW

    if case.closed:
        return None if next_on is None else f"next_action_on is {next_on}, maar de casus is gesloten"
    if next_on == LOOK_NOW:
        return None
    # Never planned: every action of the case counts; planned: those after that day.
    day = planned_on or case.events[-1].recorded_at.date()
    later = [a.send_on for r in dl.running(case, definition, day) for a in actions(r, cal)
             if planned_on is None or a.send_on > planned_on]
    if later and (next_on is None or next_on > min(later)):
        return f"next_action_on is {next_on}, maar er valt een herinnering op {min(later)}"
    return None

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflow.adapters.ports import LOOK_NOW, Mark, Store
from workflow.domain import deadlines as dl
from workflow.domain.calendar import SchoolCalendar
from workflow.messages import text

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


__all__ = ["SCAN_CHUNK", "Action", "Mark", "actions", "chunks", "due_among", "due_case_pages", "first_day",
           "stale", "write_back"]


def due_case_pages(store: Store, through: dt.date, today: dt.date, size: int | None = None) -> Iterator[list[str]]:
    """The open cases the planner must fold, as pages of at most `size` ids (SCAN_CHUNK): the
    cases whose next action day is up to `through` (today, or yesterday before send_time), then
    those planned beyond `today`. Two index ranges (CaseReadModel.due_by_next_action and
    .due_by_planned), no events read; each page in a read transaction of its own, taken when
    asked for, so the caller can write between pages.

    The keyset on (date, case_id) means a tick never holds every due id (at 1M cases after an
    import that alone is ~100 MB). A page's cases are written back before the next page is read:
    that moves them past `through` (their next action day is not reached yet) or to NULL, and
    `planned_on` to today, so no page returns a case of an earlier one.
    """
    size = size or SCAN_CHUNK
    for which, floor in (("next_action", dt.date(1, 1, 1)), ("planned", today)):
        after: tuple[dt.date, str] = (floor, "")
        while True:
            with store.uow(write=False) as uow:
                if which == "next_action":
                    rows = uow.cases.due_by_next_action(through=through, after=after, size=size)
                else:
                    rows = uow.cases.due_by_planned(today=today, through=through, after=after, size=size)
            if rows:
                yield [r[1] for r in rows]
            if len(rows) < size:
                break
            after = rows[-1]


def due_among(store: Store, ids: Sequence[str], through: dt.date, today: dt.date) -> set[str]:
    """Those of `ids` that `due_case_pages` would return (for the digest tick, which pages
    through every open case and plans the due ones among them)."""
    with store.uow(write=False) as uow:
        return uow.cases.due_among(ids, through=through, today=today)


def chunks(ids: list[str], size: int | None = None) -> Iterator[list[str]]:
    """`ids` in slices of `size` (SCAN_CHUNK, read at call time so a test can make it small)."""
    size = size or SCAN_CHUNK
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def write_back(store: Store, marks: Sequence[Mark]) -> int:
    """Store each case's next action day, 1 000 cases a transaction; a case written since it was
    folded keeps LOOK_NOW (the write-back applies only at the version that was folded)."""
    n = 0
    for i in range(0, len(marks), 1000):
        with store.uow() as uow:
            n += uow.cases.write_back(marks[i:i + 1000])
            uow.commit()
    return n


def stale(case: Case, definition: ProcessDefinition, cal: SchoolCalendar,
          next_on: dt.date | None, planned_on: dt.date | None) -> str | None:
    """Why a stored next action day could make the planner miss a reminder, or None (for
    `audit replay`). A day earlier than needed only costs a fold and is fine; LOOK_NOW always is.
    The time of day of the last planning is not stored, so actions on `planned_on` itself are
    not checked."""
    if case.closed and not any(dd.outlives_case for dd in definition.deadlines):
        return None if next_on is None else text("svc.reminders.stale.closed", next_on=next_on)
    if next_on == LOOK_NOW:
        return None
    # Never planned: every action of the case counts; planned: those after that day.
    day = planned_on or case.events[-1].recorded_at.date()
    later = [a.send_on for r in dl.running(case, definition, day, cal) for a in actions(r, cal)
             if planned_on is None or a.send_on > planned_on]
    if later and (next_on is None or next_on > min(later)):
        return text("svc.reminders.stale.reminder", next_on=next_on, day=min(later))
    return None

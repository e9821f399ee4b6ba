"""ROD registration: the OPP's start and end dates the school registers in the Register
Onderwijsdeelnemers (through BRON), read from a case's events.

An OPP starts when it is adopted (a step with `adopts_opp`, or an imported case's adoption date)
and ends at a step with `ends_opp` or at the closing of the case while it is in force. A revision
that is adopted again is the same OPP: it starts nothing new. Each date is registered once; a
`rod_registered` event records that the school did so, and on which day. Only dates, never
content, go to ROD, and passend sends nothing itself: it lists what is due and keeps track.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from workflow.domain import upcasts
from workflow.domain.case import Case
from workflow.domain.instants import local_date

DEFAULT_TERM_DAYS = 28  # four weeks, when the definition declares no rod deadline
WHICH = ("start", "end")
WHICH_NL = {"start": "begindatum", "end": "einddatum"}


@dataclass(frozen=True)
class RodDate:
    """One OPP date due for registration in ROD."""

    which: str  # start | end
    date: dt.date  # the OPP's start (adoption) or end date
    due_from: dt.date  # the day the registration term starts: the date, or the import day if later
    seq: int  # the event that set the date
    registered_on: dt.date | None = None
    registered_seq: int | None = None


def rod_dates(case: Case) -> list[RodDate]:
    """Every OPP start and end date of the case, in order, with its registration if recorded."""
    found: list[RodDate] = []
    active = False
    for ev in case.events:
        p = upcasts.payload(ev)
        day = local_date(ev.recorded_at)
        if ev.type == "imported" and p.get("opp_adopted_on"):
            start = dt.date.fromisoformat(p["opp_adopted_on"])
            found.append(RodDate("start", start, max(start, day), ev.seq))
            if p.get("rod_start_registered_on"):
                _register(found, "start", start, dt.date.fromisoformat(p["rod_start_registered_on"]), ev.seq)
            active = True
        elif ev.type == "transitioned":
            if p.get("adopts_opp") and not active:
                found.append(RodDate("start", day, day, ev.seq))
                active = True
            elif active and (p.get("ends_opp") or p.get("close_reason")):
                found.append(RodDate("end", day, day, ev.seq))
                active = False
        elif ev.type == "rod_registered":
            _register(found, str(p["which"]), dt.date.fromisoformat(p["opp_date"]),
                      dt.date.fromisoformat(p["registered_on"]), ev.seq)
    return found


def _register(found: list[RodDate], which: str, date: dt.date, on: dt.date, seq: int) -> None:
    for i, r in enumerate(found):
        if r.which == which and r.date == date and r.registered_on is None:
            found[i] = RodDate(r.which, r.date, r.due_from, r.seq, on, seq)
            return


def unregistered(case: Case) -> list[RodDate]:
    return [r for r in rod_dates(case) if r.registered_on is None]


def next_to_register(case: Case, which: str, date: dt.date | None = None) -> RodDate | None:
    """The date a `rod mark --start/--end` registers: the given one, else the earliest still open."""
    for r in unregistered(case):
        if r.which == which and (date is None or r.date == date):
            return r
    return None

"""Deadlines as data: parsed from the process definition, computed from a case's events.

The law and the school's method set the deadlines, and they differ per SWV, so they are declared
in `states/*.toml` (`[[deadlines]]`), never in code. This module is pure: it knows nothing of SQL,
SMTP or where a school calendar comes from. It answers one question for a folded case and a day:
which clocks are running, when is each due, and when should someone be reminded. Rules count
calendar days; when the caller passes the school's calendar, a due day outside school days moves
to the last school day before it (`running`); moving a reminder's own send day off a non-school
day is the calendar's job, not this one's.

Declaration (every key but `name`, `start` and `due` is optional)::

    [[deadlines]]
    name = "opp_vaststellen"
    label = "OPP vastgesteld"
    start = { entered = "niveau_4" }          # or { plan_end = true } or { opp_adopted = true }
    stop = [{ entered = "opp_vastgesteld" }, { evidence = "meeting", where = { kind = "bot" } }]
    restart = [{ evidence = "evaluation", where = { subject = "opp", with_parents = true } }]
    due = "6w"                                # a duration (Nd, Nw) or "school_year_end"
    remind = ["2w", "3d"]
    escalate_after = "1w"
    meeting = true                            # reminders carry an .ics for the meeting
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from workflow.domain import upcasts
from workflow.domain.case import Case
from workflow.domain.deadline_defs import (
    DEFAULT_SOON_DAYS,
    DURATION,
    SCHOOL_YEAR_END,
    Condition,
    DeadlineDef,
    Duration,
    parse_deadlines,
    parse_duration,
)
from workflow.domain.definition import ProcessDefinition

__all__ = [
    "DEFAULT_SOON_DAYS", "DURATION", "SCHOOL_YEAR_END", "Condition", "DeadlineDef", "Duration", "Running", "SchoolDays",
    "parse_deadlines", "parse_duration", "paused_days", "running", "school_year_end",
]


class SchoolDays(Protocol):
    """What `running` needs of a school calendar (workflow.domain.calendar.SchoolCalendar): the
    school day itself, or the last school day before it. Passed in as data, so this module
    stays pure."""

    def on_or_before(self, day: dt.date) -> dt.date: ...


@dataclass(frozen=True)
class Running:
    """One running clock of one case: what is due when, and whether it is paused now.

    `due` is the day people are given (the reminder, the digest, the page, the .ics): the rule's
    day, moved to the last school day before it when it falls outside school days (a weekend, a
    holiday, a day off) and a calendar was given. `rule_due` is the rule's own day, unmoved: it
    names the clock in the outbox's once-only keys, so moving a day never plans a message twice.
    """

    name: str
    label: str
    anchor: str  # identifies this clock start, e.g. "e12" (event 12) or "plan#7"
    started: dt.date
    due: dt.date
    paused: bool
    paused_days: int
    definition: DeadlineDef
    rule_due: dt.date | None = None  # None: the same as `due`

    @property
    def key_due(self) -> dt.date:
        return self.rule_due or self.due

    def reminder_dates(self) -> list[tuple[Duration, dt.date]]:
        """Each reminder offset and its calendar date (before the calendar moves it)."""
        return [(r, self.due - r.delta) for r in self.definition.remind]

    def escalation_date(self) -> dt.date | None:
        e = self.definition.escalate_after
        return None if e is None else self.due + e.delta

    def status(self, today: dt.date) -> str:
        """`overdue` after the due day, `soon` once the first reminder is reached, else `ok`."""
        if today > self.due:
            return "overdue"
        lead = max((r.days for r in self.definition.remind), default=DEFAULT_SOON_DAYS)
        return "soon" if (self.due - today).days <= lead else "ok"

    def as_dict(self, today: dt.date) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label, "due": self.due.isoformat(),
            "status": self.status(today), "paused": self.paused, "started": self.started.isoformat(),
            "days_left": (self.due - today).days, "due_by_rule": self.key_due.isoformat(),
        }


# ---- computing ------------------------------------------------------------------------------
def school_year_end(day: dt.date) -> dt.date:
    """31 July that ends the school year (1 August - 31 July) containing `day`."""
    return dt.date(day.year if day.month < 8 else day.year + 1, 7, 31)


@dataclass(frozen=True)
class _Mark:
    """A dated event a clock counts from."""

    seq: int
    date: dt.date


def running(case: Case, definition: ProcessDefinition, today: dt.date,
            calendar: SchoolDays | None = None) -> list[Running]:
    """Every clock of `case` that runs on `today`, in declaration order (plans by plan number).

    With the school's `calendar`, a due day outside school days moves to the last school day
    before it (31 July, in the summer holiday, becomes the last day of school); the reminders
    count back from that day. Without one, due days are the rule's calendar days (the audit's
    compliance report judges the law's days). A closed case runs only the clocks that outlive
    it (DeadlineDef.outlives_case: the ROD registration of the OPP's end date)."""
    ended = case.closed or definition.states[case.state].final
    out: list[Running] = []
    for dd in definition.deadlines:
        if ended and not dd.outlives_case:
            continue
        for anchor_key, mark, restarted in _starts(case, dd, definition):
            if _stopped(case, dd, mark, anchor_key):
                continue
            if dd.due is None:
                base = school_year_end(mark.date)
                if restarted:  # this year's duty is met; the next falls at the end of the next year
                    base = school_year_end(base + dt.timedelta(days=1))
            else:
                base = mark.date + dd.due.delta
            paused_days, paused_now = _paused(case, definition, mark, today)
            rule_due = base + dt.timedelta(days=paused_days)
            due = rule_due if calendar is None else calendar.on_or_before(rule_due)
            out.append(Running(
                name=dd.name, label=dd.label, anchor=anchor_key, started=mark.date,
                due=due, paused=paused_now, paused_days=paused_days, definition=dd,
                rule_due=rule_due if due != rule_due else None,
            ))
    return out


def _starts(case: Case, dd: DeadlineDef, definition: ProcessDefinition) -> list[tuple[str, _Mark, bool]]:
    """(anchor key, anchor mark, restarted?) for each clock start of this deadline."""
    facts = case.facts
    if dd.start == "rod":  # one clock per OPP date not registered in ROD yet
        from workflow.domain.rod import unregistered

        return [(f"rod:{r.which}:{r.date.isoformat()}", _Mark(r.seq, r.due_from), False) for r in unregistered(case)]
    if dd.start == "plan_end":
        return [
            (f"plan#{f.seq}", _Mark(f.seq, dt.date.fromisoformat(f.fields["end"])), False)
            for f in facts.facts if f.kind == "plan"
        ]
    mark: _Mark | None = None
    if dd.start == "entered":
        entry = facts.last_entry(dd.start_state)
        if entry is not None:
            mark = _Mark(entry.seq, entry.date)
        elif case.imported is not None:
            mark = _imported_past(case, dd, definition)
    else:  # opp_adopted: the adoption that began the OPP in force now
        if not case.opp_active:
            return []
        for ev in case.events:
            if ev.type == "imported" and ev.payload.get("opp_adopted_on"):
                mark = _Mark(ev.seq, dt.date.fromisoformat(ev.payload["opp_adopted_on"]))
            if ev.type != "transitioned":
                continue
            p = upcasts.payload(ev)  # older events read as their definition's [[upcasts]] say
            if p.get("ends_opp"):
                mark = None
            elif mark is None and p.get("adopts_opp"):
                mark = _Mark(ev.seq, _entry_date(case, ev.seq))
    if mark is None:
        return []
    restarted = False
    for f in facts.facts:
        if f.seq > mark.seq and any(c.matches_fact(f.kind, f.fields) for c in dd.restart):
            mark, restarted = _Mark(f.seq, f.date), True
    return [(f"e{mark.seq}", mark, restarted)]


def _imported_past(case: Case, dd: DeadlineDef, definition: ProcessDefinition) -> _Mark | None:
    """The start of an `entered` clock for a case imported past its start state: brought in at a
    state of the same level that the level's first state leads to (a concept OPP, imported at
    `opp_concept`, came through `niveau_4`), it entered that state on the day its level began,
    the import's `since` (the law counts the OPP's six weeks from there, and the audit's
    compliance report judges them so). Not when the import's state ends the clock (an adopted
    OPP) or the start state is not where its level begins (a BOT referral)."""
    entry = case.facts.entries[-1] if case.facts.entries else None
    start = definition.states.get(dd.start_state or "")
    if entry is None or start is None or entry.level is None or entry.level != start.level:
        return None
    ends = {c.entered for c in dd.stop if c.entered is not None}
    if entry.state in ends or not _begins_level(definition, start.name):
        return None
    # Reachable from the start state along the level's own transitions, none through a state that ends the clock.
    seen, todo = {start.name}, [start.name]
    while todo:
        here = todo.pop()
        for t in definition.transitions:
            if t.source == here and t.dest not in seen and t.dest not in ends \
                    and definition.states[t.dest].level == start.level:
                seen.add(t.dest)
                todo.append(t.dest)
    if entry.state not in seen:
        return None
    return _Mark(entry.seq, entry.level_date or entry.date)


def _begins_level(definition: ProcessDefinition, state: str) -> bool:
    """Whether a transition enters `state` from a lower level (niveau_4 from niveau_3)."""
    level = definition.states[state].level
    return level is not None and any(
        t.dest == state and t.source in definition.states and (definition.states[t.source].level or 0) < level
        for t in definition.transitions)


def _entry_date(case: Case, seq: int) -> dt.date:
    for e in case.facts.entries:
        if e.seq == seq:
            return e.date
    raise ValueError(f"no state entry at event {seq}")


def _stopped(case: Case, dd: DeadlineDef, mark: _Mark, anchor_key: str) -> bool:
    for c in dd.stop:
        if c.entered is not None:
            if any(e.seq > mark.seq and e.state == c.entered for e in case.facts.entries):
                return True
            continue
        for f in case.facts.facts:
            if f.seq <= mark.seq or not c.matches_fact(f.kind, f.fields):
                continue
            # A plan's evaluation clock stops only on an evaluation of that plan.
            if anchor_key.startswith("plan#") and f.kind == "evaluation" and \
                    f.fields.get("plan") != mark.seq:
                continue
            return True
    return False


def _paused(case: Case, definition: ProcessDefinition, mark: _Mark, today: dt.date) -> tuple[int, bool]:
    """Calendar days spent in pausing states since the clock started, and whether paused now."""
    return paused_days(case, definition, mark.seq, mark.date, today), definition.states[case.state].pauses_deadlines


def paused_days(case: Case, definition: ProcessDefinition, since_seq: int, since: dt.date,
                until: dt.date) -> int:
    """Calendar days `case` spent in states with `pauses_deadlines` after the clock that started
    at event `since_seq` on `since`; a pause still open counts up to `until`.

    The one place a pause is counted: the reminders (through `running`) and the audit's
    compliance report both add these days to a due date, so they can never disagree on a dispute.
    """
    entries = case.facts.entries
    days = 0
    for i, e in enumerate(entries):
        if not definition.states[e.state].pauses_deadlines:
            continue
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        if nxt is not None and nxt.seq <= since_seq:
            continue  # this pause ended before the clock started
        end = nxt.date if nxt is not None else until
        days += max(0, (end - max(e.date, since)).days)
    return days

"""Deadlines as data: parsed from the process definition, computed from a case's events.

The law and the school's method set the deadlines, and they differ per SWV, so they are declared
in `states/*.toml` (`[[deadlines]]`), never in code. This module is pure: it knows nothing of SQL,
SMTP or the school calendar. It answers one question for a folded case and a day: which clocks
are running, when is each due, and when should someone be reminded. Legal deadlines count
calendar days; moving a reminder off a non-school day is the calendar's job, not this one's.

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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workflow.domain.errors import DefinitionError
from workflow.domain.guards import fields_match, parse_evidence_filter

if TYPE_CHECKING:
    from workflow.domain.case import Case
    from workflow.domain.definition import ProcessDefinition, StateDef

SCHOOL_YEAR_END = "school_year_end"
DURATION = re.compile(r"^(\d{1,4})([dw])$")
DEFAULT_SOON_DAYS = 7


@dataclass(frozen=True)
class Duration:
    """A whole number of calendar days, written `10d` or `6w` in the definition."""

    days: int
    text: str

    @property
    def delta(self) -> dt.timedelta:
        return dt.timedelta(days=self.days)


def parse_duration(value: Any) -> Duration | None:
    if not isinstance(value, str):
        return None
    m = DURATION.match(value.strip())
    if m is None:
        return None
    n = int(m.group(1))
    return Duration(n * 7 if m.group(2) == "w" else n, value.strip())


@dataclass(frozen=True)
class Condition:
    """Entering a state, or recording evidence of a kind whose plain fields match `where`."""

    entered: str | None = None
    evidence: str | None = None
    where: tuple[tuple[str, Any], ...] = ()

    def matches_fact(self, kind: str, fields: Mapping[str, Any]) -> bool:
        return self.evidence == kind and fields_match(fields, self.where)


@dataclass(frozen=True)
class DeadlineDef:
    name: str
    label: str
    start: str  # "entered" | "plan_end" | "opp_adopted"
    start_state: str | None
    stop: tuple[Condition, ...]
    restart: tuple[Condition, ...]
    due: Duration | None  # None means the end of the school year (31 July)
    remind: tuple[Duration, ...]
    escalate_after: Duration | None
    meeting: bool = False

    @property
    def due_text(self) -> str:
        return SCHOOL_YEAR_END if self.due is None else self.due.text


@dataclass(frozen=True)
class Running:
    """One running clock of one case: what is due when, and whether it is paused now."""

    name: str
    label: str
    anchor: str  # identifies this clock start, e.g. "e12" (event 12) or "plan#7"
    started: dt.date
    due: dt.date
    paused: bool
    paused_days: int
    definition: DeadlineDef

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
            "days_left": (self.due - today).days,
        }


# ---- parsing --------------------------------------------------------------------------------
Fail = Callable[[str, str], DefinitionError]


def parse_deadlines(raw: Any, *, fail: Fail, states: Mapping[str, StateDef]) -> tuple[DeadlineDef, ...]:
    """Read the `[[deadlines]]` array of a definition; every mistake names its key."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("deadlines", "must be an array of tables ([[deadlines]])")
    out: list[DeadlineDef] = []
    names: set[str] = set()
    for i, spec in enumerate(raw):
        key = f"deadlines[{i}]"
        if not isinstance(spec, dict):
            raise fail(key, "must be a table")
        allowed = {"name", "label", "start", "stop", "restart", "due", "remind", "escalate_after", "meeting"}
        for k in spec:
            if k not in allowed:
                raise fail(f"{key}.{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        name = spec.get("name")
        if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]{0,47}$", name):
            raise fail(key + ".name", "must be a short lower-case name (a-z, 0-9, _)")
        if name in names:
            raise fail(key + ".name", f"deadline {name!r} is declared twice")
        names.add(name)
        label = spec.get("label", name)
        if not isinstance(label, str) or not label:
            raise fail(key + ".label", "must be a non-empty string")
        start, start_state = _parse_start(spec.get("start"), key + ".start", fail, states)
        stop = _parse_conditions(spec.get("stop", []), key + ".stop", fail, states)
        restart = _parse_conditions(spec.get("restart", []), key + ".restart", fail, states)
        if any(c.entered for c in restart):
            raise fail(key + ".restart", "a clock restarts on evidence only, not on entering a state")
        due_raw = spec.get("due")
        if due_raw == SCHOOL_YEAR_END:
            due = None
        else:
            due = parse_duration(due_raw)
            if due is None:
                raise fail(key + ".due", f"must be a duration such as '6w' or '10d', or '{SCHOOL_YEAR_END}'")
        remind_raw = spec.get("remind", [])
        if isinstance(remind_raw, str):
            remind_raw = [remind_raw]
        if not isinstance(remind_raw, list):
            raise fail(key + ".remind", "must be a list of durations such as ['2w', '3d']")
        remind: list[Duration] = []
        for j, r in enumerate(remind_raw):
            d = parse_duration(r)
            if d is None:
                raise fail(f"{key}.remind[{j}]", f"{r!r} is not a duration such as '2w' or '3d'")
            if any(x.days == d.days for x in remind):
                raise fail(f"{key}.remind[{j}]", f"{r!r} is the same day as another reminder")
            remind.append(d)
        esc_raw = spec.get("escalate_after")
        escalate = None
        if esc_raw is not None:
            escalate = parse_duration(esc_raw)
            if escalate is None:
                raise fail(key + ".escalate_after", f"{esc_raw!r} is not a duration such as '1w'")
        meeting = spec.get("meeting", False)
        if not isinstance(meeting, bool):
            raise fail(key + ".meeting", "must be true or false")
        out.append(DeadlineDef(
            name=name, label=label, start=start, start_state=start_state, stop=stop,
            restart=restart, due=due, remind=tuple(sorted(remind, key=lambda d: -d.days)),
            escalate_after=escalate, meeting=meeting,
        ))
    return tuple(out)


def _parse_start(raw: Any, key: str, fail: Fail, states: Mapping[str, StateDef]) -> tuple[str, str | None]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise fail(key, "must be one of { entered = \"STATE\" }, { plan_end = true }, { opp_adopted = true }")
    (kind, value), = raw.items()
    if kind == "entered":
        if value not in states:
            raise fail(key + ".entered", f"unknown state {value!r}")
        return "entered", value
    if kind in ("plan_end", "opp_adopted"):
        if value is not True:
            raise fail(f"{key}.{kind}", "must be true")
        return kind, None
    raise fail(f"{key}.{kind}", "unknown clock start (entered, plan_end, opp_adopted)")


def _parse_conditions(
    raw: Any, key: str, fail: Fail, states: Mapping[str, StateDef],
) -> tuple[Condition, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise fail(key, "must be a list of { entered = STATE } or { evidence = KIND, where = {...} }")
    out: list[Condition] = []
    for j, c in enumerate(raw):
        ckey = f"{key}[{j}]"
        if not isinstance(c, dict):
            raise fail(ckey, "must be a table")
        if "entered" in c:
            if set(c) != {"entered"}:
                raise fail(ckey, "{ entered = STATE } takes no other keys")
            if c["entered"] not in states:
                raise fail(ckey + ".entered", f"unknown state {c['entered']!r}")
            out.append(Condition(entered=c["entered"]))
            continue
        for k in c:
            if k not in ("evidence", "where"):
                raise fail(f"{ckey}.{k}", "unknown key (allowed: entered, evidence, where)")
        ev, where = parse_evidence_filter(c, key=ckey, fail=fail)
        out.append(Condition(evidence=ev, where=where))
    return tuple(out)


# ---- computing ------------------------------------------------------------------------------
def school_year_end(day: dt.date) -> dt.date:
    """31 July that ends the school year (1 August - 31 July) containing `day`."""
    return dt.date(day.year if day.month < 8 else day.year + 1, 7, 31)


@dataclass(frozen=True)
class _Mark:
    seq: int
    date: dt.date


def running(case: Case, definition: ProcessDefinition, today: dt.date) -> list[Running]:
    """Every clock of `case` that runs on `today`, in declaration order (plans by plan number)."""
    if case.closed or definition.states[case.state].final:
        return []
    out: list[Running] = []
    for dd in getattr(definition, "deadlines", ()):
        for anchor_key, mark, restarted in _starts(case, dd):
            if _stopped(case, dd, mark, anchor_key):
                continue
            if dd.due is None:
                base = school_year_end(mark.date)
                if restarted:  # this year's duty is met; the next falls at the end of the next year
                    base = school_year_end(base + dt.timedelta(days=1))
            else:
                base = mark.date + dd.due.delta
            paused_days, paused_now = _paused(case, definition, mark, today)
            out.append(Running(
                name=dd.name, label=dd.label, anchor=anchor_key, started=mark.date,
                due=base + dt.timedelta(days=paused_days), paused=paused_now,
                paused_days=paused_days, definition=dd,
            ))
    return out


def _starts(case: Case, dd: DeadlineDef) -> list[tuple[str, _Mark, bool]]:
    """(anchor key, anchor mark, restarted?) for each clock start of this deadline."""
    facts = case.facts
    if dd.start == "plan_end":
        return [
            (f"plan#{f.seq}", _Mark(f.seq, dt.date.fromisoformat(f.fields["end"])), False)
            for f in facts.facts if f.kind == "plan"
        ]
    mark: _Mark | None = None
    if dd.start == "entered":
        entry = facts.last_entry(dd.start_state)
        mark = None if entry is None else _Mark(entry.seq, entry.date)
    else:  # opp_adopted: the adoption that began the OPP in force now
        if not case.opp_active:
            return []
        for ev in case.events:
            if ev.type != "transitioned":
                continue
            p = ev.payload
            if p.get("ends_opp"):
                mark = None
            elif mark is None and (p.get("adopts_opp") or (
                    p["source"] == "opp_concept" and p["dest"] == "opp_vastgesteld")):
                mark = _Mark(ev.seq, _entry_date(case, ev.seq))
    if mark is None:
        return []
    restarted = False
    for f in facts.facts:
        if f.seq > mark.seq and any(c.matches_fact(f.kind, f.fields) for c in dd.restart):
            mark, restarted = _Mark(f.seq, f.date), True
    return [(f"e{mark.seq}", mark, restarted)]


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

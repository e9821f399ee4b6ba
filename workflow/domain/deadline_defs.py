"""Deadline declarations: `[[deadlines]]` of a definition, parsed and checked.

Split from `deadlines` (which computes clocks from a folded case) so that loading a definition
needs nothing of the case aggregate: definition -> deadline_defs, and deadlines -> case,
definition, deadline_defs, never back. The declaration's syntax is in `deadlines`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.domain.errors import DefinitionError, Said
from workflow.domain.evidence import BUILTIN_KINDS, EvidenceKind
from workflow.domain.guards import fields_match, parse_evidence_filter

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
    """A deadline as a definition declares it: when its clock starts, runs, pauses and ends."""

    name: str
    label: str
    start: str  # "entered" | "plan_end" | "opp_adopted" | "rod" (each OPP date due for ROD)
    start_state: str | None
    stop: tuple[Condition, ...]
    restart: tuple[Condition, ...]
    due: Duration | None  # None means the end of the school year (31 July)
    remind: tuple[Duration, ...]
    escalate_after: Duration | None
    meeting: bool = False

    @property
    def outlives_case(self) -> bool:
        """Whether this clock keeps running after the case closes. Only the ROD registration
        does: closing the case is what gives an OPP its end date, which the school must still
        register (one clock per date, stopped by registering it)."""
        return self.start == "rod"

    @property
    def due_text(self) -> str:
        return SCHOOL_YEAR_END if self.due is None else self.due.text


# ---- parsing --------------------------------------------------------------------------------
Fail = Callable[[str, str | Said], DefinitionError]
# The TOML forms the catalog's sentences name (def.deadline.*): TOML, written alike in every
# language, and given as values because the catalog fills in a sentence's braces only then.
_START_FORMS = '{ entered = "STATE" }, { plan_end = true }, { opp_adopted = true }, { rod = true }'
_ENTERED_FORM = "{ entered = STATE }"
_EVIDENCE_FORM = "{ evidence = KIND, where = {...} }"


def parse_deadlines(raw: Any, *, fail: Fail, states: Mapping[str, Any],
                    kinds: Mapping[str, EvidenceKind] = BUILTIN_KINDS) -> tuple[DeadlineDef, ...]:
    """Read the `[[deadlines]]` array of a definition; every mistake names its key."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("deadlines", Said("def.deadline.array"))
    out: list[DeadlineDef] = []
    names: set[str] = set()
    for i, spec in enumerate(raw):
        key = f"deadlines[{i}]"
        if not isinstance(spec, dict):
            raise fail(key, Said("def.must_be_table"))
        allowed = {"name", "label", "start", "stop", "restart", "due", "remind", "escalate_after", "meeting"}
        for k in spec:
            if k not in allowed:
                raise fail(f"{key}.{k}", Said("def.unknown_key", allowed=", ".join(sorted(allowed))))
        name = spec.get("name")
        if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]{0,47}$", name):
            raise fail(key + ".name", Said("def.deadline.name"))
        if name in names:
            raise fail(key + ".name", Said("def.deadline.twice", name=name))
        names.add(name)
        label = spec.get("label", name)
        if not isinstance(label, str) or not label:
            raise fail(key + ".label", Said("def.must_be_text"))
        start, start_state = _parse_start(spec.get("start"), key + ".start", fail, states)
        stop = _parse_conditions(spec.get("stop", []), key + ".stop", fail, states, kinds)
        restart = _parse_conditions(spec.get("restart", []), key + ".restart", fail, states, kinds)
        if any(c.entered for c in restart):
            raise fail(key + ".restart", Said("def.deadline.restart_on_evidence"))
        due_raw = spec.get("due")
        if due_raw == SCHOOL_YEAR_END:
            due = None
        else:
            due = parse_duration(due_raw)
            if due is None:
                raise fail(key + ".due", Said("def.deadline.due", end=SCHOOL_YEAR_END))
        remind_raw = spec.get("remind", [])
        if isinstance(remind_raw, str):
            remind_raw = [remind_raw]
        if not isinstance(remind_raw, list):
            raise fail(key + ".remind", Said("def.deadline.remind_list"))
        remind: list[Duration] = []
        for j, r in enumerate(remind_raw):
            d = parse_duration(r)
            if d is None:
                raise fail(f"{key}.remind[{j}]", Said("def.deadline.remind_bad", value=r))
            if any(x.days == d.days for x in remind):
                raise fail(f"{key}.remind[{j}]", Said("def.deadline.remind_same_day", value=r))
            remind.append(d)
        esc_raw = spec.get("escalate_after")
        escalate = None
        if esc_raw is not None:
            escalate = parse_duration(esc_raw)
            if escalate is None:
                raise fail(key + ".escalate_after", Said("def.deadline.escalate_bad", value=esc_raw))
        meeting = spec.get("meeting", False)
        if not isinstance(meeting, bool):
            raise fail(key + ".meeting", Said("def.must_be_bool"))
        out.append(DeadlineDef(
            name=name, label=label, start=start, start_state=start_state, stop=stop,
            restart=restart, due=due, remind=tuple(sorted(remind, key=lambda d: -d.days)),
            escalate_after=escalate, meeting=meeting,
        ))
    return tuple(out)


def _parse_start(raw: Any, key: str, fail: Fail, states: Mapping[str, Any]) -> tuple[str, str | None]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise fail(key, Said("def.deadline.start", forms=_START_FORMS))
    (kind, value), = raw.items()
    if kind == "entered":
        if value not in states:
            raise fail(key + ".entered", Said("def.unknown_state", state=value))
        return "entered", value
    if kind in ("plan_end", "opp_adopted", "rod"):
        if value is not True:
            raise fail(f"{key}.{kind}", Said("def.deadline.must_be_true"))
        return kind, None
    raise fail(f"{key}.{kind}", Said("def.deadline.unknown_start"))


def _parse_conditions(
    raw: Any, key: str, fail: Fail, states: Mapping[str, Any], kinds: Mapping[str, EvidenceKind],
) -> tuple[Condition, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise fail(key, Said("def.deadline.conditions", entered=_ENTERED_FORM, evidence=_EVIDENCE_FORM))
    out: list[Condition] = []
    for j, c in enumerate(raw):
        ckey = f"{key}[{j}]"
        if not isinstance(c, dict):
            raise fail(ckey, Said("def.must_be_table"))
        if "entered" in c:
            if set(c) != {"entered"}:
                raise fail(ckey, Said("def.deadline.entered_alone", entered=_ENTERED_FORM))
            if c["entered"] not in states:
                raise fail(ckey + ".entered", Said("def.unknown_state", state=c["entered"]))
            out.append(Condition(entered=c["entered"]))
            continue
        for k in c:
            if k not in ("evidence", "where"):
                raise fail(f"{ckey}.{k}", Said("def.unknown_key", allowed="entered, evidence, where"))
        ev, where = parse_evidence_filter(c, key=ckey, fail=fail, kinds=kinds)
        out.append(Condition(evidence=ev, where=where))
    return tuple(out)

"""Generic, parameterised guard kinds that process definitions compose.

transitions' own conditions refuse silently and stop at the first False; an IB needs to hear
everything that is missing at once. So guards are evaluated here, each returning a Dutch reason
when it does not hold, and the engine only fires when the list is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.domain.errors import DefinitionError
from workflow.domain.evidence import EVIDENCE_KINDS
from workflow.domain.facts import CaseFacts, Entry, Fact

GUARD_KINDS = ("evidence", "consent", "previous_state")
DERIVED_FIELDS = frozenset({"heard", "with_parents"})  # booleans evidence.py derives on a record

EVIDENCE_NL = {
    "signal": "signalering", "plan": "handelingsplan", "evaluation": "evaluatie",
    "consent": "toestemming", "view": "mening", "meeting": "overleg", "contact": "contact",
}
ANCHOR_NL = {
    "case_opened": "sinds de opening van de casus",
    "state_entered": "sinds de huidige stap begon",
    "level_entered": "op het huidige niveau",
}


@dataclass(frozen=True)
class Guard:
    kind: str
    evidence: str | None = None
    where: tuple[tuple[str, Any], ...] = ()
    since: str = "case_opened"
    min: int = 1
    scope: str | None = None
    expect: str = "granted"
    state: str | None = None
    message: str | None = None

    def describe(self, params: Mapping[str, Any] | None = None) -> str:
        """A Dutch sentence of what this guard requires, for refusals and the audit timeline."""
        if self.message:
            return self.message
        if self.kind == "evidence":
            assert self.evidence is not None
            what = EVIDENCE_NL.get(self.evidence, self.evidence)
            filters = ", ".join(f"{k}={_value_nl(v, params or {})}" for k, v in self.where)
            count = f"minstens {self.min}× " if self.min > 1 else ""
            detail = f" ({filters})" if filters else ""
            return f"{count}{what}{detail} {_anchor_nl(self.since)}"
        if self.kind == "consent":
            when = "" if self.since == "case_opened" else " " + _anchor_nl(self.since)
            if self.expect == "withheld":
                return f"toestemming van ouders voor '{self.scope}' geweigerd of ingetrokken{when}"
            return f"toestemming van ouders voor '{self.scope}' verleend en niet ingetrokken{when}"
        return f"de casus kwam uit '{self.state}'"


def _anchor_nl(since: str) -> str:
    if since.startswith("entered:"):
        return f"sinds '{since.split(':', 1)[1]}' begon"
    return ANCHOR_NL[since]


def _value_nl(value: Any, params: Mapping[str, Any]) -> str:
    """A filter value as an IB reads it: `ja`/`nee`, `a of b`, never a Python repr (True, None)."""
    got = _resolve(value, params)
    if got is None and value is not None:
        return "naar keuze"  # a trigger parameter not chosen yet, e.g. the BOT outcome in a reminder
    if isinstance(got, bool):
        return "ja" if got else "nee"
    if isinstance(got, tuple | list):
        return " of ".join(_value_nl(v, params) for v in got)
    return str(got)


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return params.get(value[1:-1])
    return value


def parse_evidence_filter(
    raw: Mapping[str, Any], *, key: str, fail: Callable[[str, str], DefinitionError],
    params: Collection[str] = (),
) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """`evidence = KIND` and `where = { field = value }` of a guard or of a deadline's stop or
    restart condition, checked alike for both: a known kind, plain (never secret) fields or the
    derived `heard`/`with_parents`, values of the field's type and choices, and `{param}` only
    for a parameter the trigger declares. Lists become tuples (a value matches any of them)."""
    ev = raw.get("evidence")
    if ev not in EVIDENCE_KINDS:
        raise fail(key + ".evidence", f"unknown evidence kind {ev!r} (known: {', '.join(EVIDENCE_KINDS)})")
    fields = {f.name: f for f in EVIDENCE_KINDS[ev]}
    where = raw.get("where", {})
    if not isinstance(where, dict):
        raise fail(key + ".where", "must be a table of field = value")
    for fname, value in where.items():
        fkey = f"{key}.where.{fname}"
        if fname not in fields and fname not in DERIVED_FIELDS:
            raise fail(fkey, f"{ev} has no field {fname!r}")
        if fname in fields and fields[fname].secret:
            raise fail(fkey, "secret fields are encrypted and cannot be matched")
        ftype = "bool" if fname in DERIVED_FIELDS else fields[fname].type
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            if value[1:-1] not in params:
                raise fail(fkey, f"refers to unknown trigger parameter {value!r}")
        elif ftype == "bool" and not isinstance(value, bool):
            raise fail(fkey, "must be true or false")
        elif ftype == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise fail(fkey, "must be a whole number")
        elif ftype in ("text", "date") and not isinstance(value, str | list):
            raise fail(fkey, "must be a string")
        elif fname in fields and fields[fname].choices:
            vals = value if isinstance(value, list) else [value]
            for v in vals:
                if v not in fields[fname].choices:
                    raise fail(fkey, f"{v!r} is not one of {', '.join(fields[fname].choices)}")
    return ev, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in where.items())


def parse_guard(
    raw: Any,
    *,
    key: str,
    fail: Callable[[str, str], DefinitionError],
    states: Mapping[str, Any],
    scopes: tuple[str, ...],
    params: Mapping[str, Any],
) -> Guard:
    if not isinstance(raw, dict):
        raise fail(key, "must be a table")
    kind = raw.get("kind")
    if kind not in GUARD_KINDS:
        raise fail(key + ".kind", f"unknown guard kind {kind!r} (known: {', '.join(GUARD_KINDS)})")
    allowed = {
        "evidence": {"kind", "evidence", "where", "since", "min", "message"},
        "consent": {"kind", "scope", "expect", "since", "message"},
        "previous_state": {"kind", "state", "message"},
    }[kind]
    for k in raw:
        if k not in allowed:
            raise fail(f"{key}.{k}", f"unknown key for a {kind} guard (allowed: {', '.join(sorted(allowed))})")
    message = raw.get("message")
    if message is not None and not isinstance(message, str):
        raise fail(key + ".message", "must be a string")
    since = raw.get("since", "case_opened")
    if not isinstance(since, str) or not (
        since in ANCHOR_NL or (since.startswith("entered:") and since.split(":", 1)[1] in states)
    ):
        raise fail(
            key + ".since",
            f"unknown anchor {since!r} (case_opened, state_entered, level_entered, entered:<state>)",
        )
    if kind == "evidence":
        ev, where = parse_evidence_filter(raw, key=key, fail=fail, params=params)
        n = raw.get("min", 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise fail(key + ".min", "must be a whole number >= 1")
        return Guard(kind="evidence", evidence=ev, where=where, since=since, min=n, message=message)
    if kind == "consent":
        scope = raw.get("scope")
        if scope not in scopes:
            raise fail(key + ".scope", f"unknown consent scope {scope!r} (declared: {', '.join(scopes)})")
        expect = raw.get("expect", "granted")
        if expect not in ("granted", "withheld"):
            raise fail(key + ".expect", "must be 'granted' or 'withheld'")
        return Guard(kind="consent", scope=scope, expect=expect, since=since, message=message)
    state = raw.get("state")
    if state not in states:
        raise fail(key + ".state", f"unknown state {state!r}")
    return Guard(kind="previous_state", state=state, message=message)


def anchor_entry(case: CaseFacts, since: str) -> Entry | None:
    if since == "case_opened":
        return case.entries[0] if case.entries else None
    if since == "state_entered":
        return case.last_entry()
    if since == "level_entered":
        return case.level_entry()
    return case.last_entry(since.split(":", 1)[1])


def _after(fact: Fact, anchor: Entry | None) -> bool:
    """Evidence counts when recorded after the anchor and dated on or after its day.

    The opening of the case is the exception to the date rule: the pupil was already at the
    initial level before the case was opened, so a signal observed last week and recorded today
    counts for it. Every later anchor is a transition, and evidence dated before it belongs to
    the level or step the case left.
    """
    if anchor is None or fact.seq <= anchor.seq:
        return False
    return anchor.seq == 1 or fact.date >= anchor.date


def fields_match(fields: Mapping[str, Any], where: tuple[tuple[str, Any], ...],
                 params: Mapping[str, Any] | None = None) -> bool:
    """Whether a record's plain fields meet a filter (`parse_evidence_filter`): equal, or one of
    a tuple; `{param}` is the trigger's parameter. Guards and deadline conditions both use it."""
    for name, expected in where:
        want = _resolve(expected, params or {})
        got = fields.get(name)
        if isinstance(want, tuple):
            if got not in want:
                return False
        elif got != want:
            return False
    return True


def latest_consent(case: CaseFacts, scope: str, since: Entry | None = None) -> Fact | None:
    """The parents' latest decision on `scope` by date (then by record order), or None."""
    latest: Fact | None = None
    for f in case.facts:
        if f.kind == "consent" and f.fields.get("scope") == scope:
            if since is not None and not _after(f, since):
                continue
            if latest is None or (f.date, f.seq) >= (latest.date, latest.seq):
                latest = f
    return latest


def _count(case: CaseFacts, facts: list[Fact], anchor: Entry | None) -> int:
    """How many records count. An evaluation of a plan stands for that plan's period: it counts
    once per plan, and only for a plan made since the anchor (a level-2 plan evaluated after
    escalating is not a level-3 period)."""
    plans = {f.seq: f for f in case.facts if f.kind == "plan"}
    seen: set[int] = set()
    n = 0
    for f in facts:
        plan = f.fields.get("plan") if f.kind == "evaluation" else None
        if plan is None:
            n += 1
        elif plan not in seen and plan in plans and _after(plans[plan], anchor):
            seen.add(plan)
            n += 1
    return n


def consent_status(case: CaseFacts, scope: str, since: Entry | None = None) -> str | None:
    """The parents' latest decision on `scope` ('granted', 'refused', 'revoked'), or None."""
    latest = latest_consent(case, scope, since)
    return None if latest is None else str(latest.fields["status"])


def check(guard: Guard, case: CaseFacts, params: Mapping[str, Any]) -> str | None:
    """None when the guard holds, else a Dutch reason naming what is missing."""
    if guard.kind == "evidence":
        anchor = anchor_entry(case, guard.since)
        n = _count(case, [
            f for f in case.facts
            if f.kind == guard.evidence and _after(f, anchor) and fields_match(f.fields, guard.where, params)
        ], anchor)
        if n >= guard.min:
            return None
        have = f" (nu {n})" if guard.min > 1 else ""
        return f"ontbreekt: {guard.describe(params)}{have}"
    if guard.kind == "consent":
        assert guard.scope is not None
        since = anchor_entry(case, guard.since) if guard.since != "case_opened" else None
        status = consent_status(case, guard.scope, since)
        if guard.expect == "withheld":
            if status in ("refused", "revoked"):
                return None
            return f"ontbreekt: {guard.describe(params)} (nu: {_status_nl(status)})"
        if status == "granted":
            return None
        return f"ontbreekt: {guard.describe(params)} (nu: {_status_nl(status)})"
    if case.previous_state == guard.state:
        return None
    return f"niet van toepassing: {guard.describe(params)}"


def _status_nl(status: str | None) -> str:
    return {
        None: "niet vastgelegd", "granted": "verleend", "refused": "geweigerd", "revoked": "ingetrokken",
    }[status]

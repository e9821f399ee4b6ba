"""Guard kinds: each one class that parses its TOML table, checks a case and explains itself.

A definition composes guards (`guards = [{ kind = "evidence", ... }]`); each `kind` names a
class registered here with `@guard_kind`. A guard kind is one class:

- `parse(raw, ctx)`: build the guard from its TOML table; every error names its key;
- `check(case, params)`: None when it holds, else a `Reason` (a code and parameters);
- `explain(params, source)`: a `Reason` saying what it requires (for `process show` and the
  reminders' "what is still missing");
- `recorded(params)`: the wording written into a transition's event (`guards`). It is part of
  the hashed history, so it never changes: replay compares it byte for byte.

transitions' own conditions refuse silently and stop at the first False; an IB needs to hear
everything that is missing at once. So the case aggregate asks every guard first and collects
every reason; the shared machine (workflow.domain.machine) then runs the same checks as its
conditions when it moves the case.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from workflow.domain.errors import DefinitionError, Said
from workflow.domain.evidence import BUILTIN_KINDS, EvidenceKind
from workflow.domain.facts import CaseFacts, Entry, Fact
from workflow.domain.opp import OppSpec
from workflow.domain.reasons import Reason

Fail = Callable[[str, str | Said], DefinitionError]
ANCHORS = ("case_opened", "state_entered", "level_entered")
# The wording of the anchors in the recorded form of a guard (events; never changes).
_RECORDED_ANCHOR = {
    "case_opened": "sinds de opening van de casus",
    "state_entered": "sinds de huidige stap begon",
    "level_entered": "op het huidige niveau",
}


@dataclass(frozen=True)
class ParseContext:
    """What a guard's parser may check its table against."""

    key: str
    fail: Fail
    states: Mapping[str, Any]
    scopes: tuple[str, ...]
    params: Mapping[str, Any]
    kinds: Mapping[str, EvidenceKind]
    opp: OppSpec | None = None  # the definition's [opp], for the guards on the OPP document


class Guard:
    """Base of every guard kind. Subclasses are frozen dataclasses registered by name."""

    kind: ClassVar[str] = ""
    keys: ClassVar[frozenset[str]] = frozenset()  # the table's keys besides `kind` and `message`
    # Dutch wording of the codes this kind's reasons use that the message catalog does not have
    # (a guard kind added outside the package): {code: "text with {param} placeholders"}.
    messages: ClassVar[Mapping[str, str]] = {}
    # The reason codes `check` can return; None (the default, for a kind that does not say):
    # any. The work list reads it to skip deciding steps that can never wait for consent.
    codes: ClassVar[frozenset[str] | None] = None
    message: str | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ctx: ParseContext) -> Guard:
        raise NotImplementedError

    def check(self, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
        raise NotImplementedError

    def explain(self, params: Mapping[str, Any] | None = None, source: str | None = None) -> Reason:
        raise NotImplementedError

    def recorded(self, params: Mapping[str, Any] | None = None) -> str:
        raise NotImplementedError

    def applies(self, case: CaseFacts) -> bool:
        """False when the guard says "this edge is not for this case" rather than "not yet"."""
        return True

    def _with_message(self, reason: Reason) -> Reason:
        if self.message:
            return Reason(reason.code, {**reason.params, "message": self.message})
        return reason


GUARD_KINDS: dict[str, type[Guard]] = {}
# Wording of reason codes declared by guard kinds themselves (see `Guard.messages`).
MESSAGES: dict[str, str] = {}
G = TypeVar("G", bound=type[Guard])


def guard_kind(name: str) -> Callable[[G], G]:
    """Register a guard kind under `name` (the TOML's `kind = "name"`)."""

    def register(cls: G) -> G:
        if name in GUARD_KINDS and GUARD_KINDS[name] is not cls:
            raise ValueError(f"guard kind {name!r} is registered twice")
        cls.kind = name
        GUARD_KINDS[name] = cls
        MESSAGES.update(cls.messages)
        return cls

    return register


def parse_guard(
    raw: Any, *, key: str, fail: Fail, states: Mapping[str, Any], scopes: tuple[str, ...],
    params: Mapping[str, Any], kinds: Mapping[str, EvidenceKind] = BUILTIN_KINDS, opp: OppSpec | None = None,
) -> Guard:
    if not isinstance(raw, dict):
        raise fail(key, Said("def.must_be_table"))
    kind = raw.get("kind")
    cls = GUARD_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise fail(key + ".kind", Said("def.guard.unknown_kind", kind=kind, known=", ".join(GUARD_KINDS)))
    allowed = cls.keys | {"kind", "message"}
    for k in raw:
        if k not in allowed:
            raise fail(f"{key}.{k}", Said("def.guard.unknown_key", kind=kind, allowed=", ".join(sorted(allowed))))
    message = raw.get("message")
    if message is not None and not isinstance(message, str):
        raise fail(key + ".message", Said("def.guard.must_be_string"))
    return cls.parse(raw, ParseContext(key, fail, states, scopes, params, kinds, opp))


def check(guard: Guard, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
    """None when the guard holds, else the reason it does not."""
    return guard.check(case, params)


# ---- anchors and filters, shared by the guard kinds and the deadlines ----------------------
def parse_since(raw: Mapping[str, Any], ctx: ParseContext) -> str:
    since = raw.get("since", "case_opened")
    if not isinstance(since, str) or not (
        since in ANCHORS or (since.startswith("entered:") and since.split(":", 1)[1] in ctx.states)
    ):
        raise ctx.fail(ctx.key + ".since", Said("def.guard.unknown_anchor", since=since))
    return since


def _recorded_anchor(since: str) -> str:
    if since.startswith("entered:"):
        return f"sinds '{since.split(':', 1)[1]}' begon"
    return _RECORDED_ANCHOR[since]


def _anchor_params(since: str, case: CaseFacts | None, source: str | None) -> dict[str, Any]:
    """What the catalog needs to say which moment counts: the state or level it began."""
    out: dict[str, Any] = {"since": since}
    if since.startswith("entered:"):
        out["since"], out["state"] = "entered", since.split(":", 1)[1]
    elif since == "state_entered":
        state = case.state if case is not None else source
        if state is not None:
            out["state"] = state
    elif since == "level_entered" and case is not None and case.level is not None:
        out["level"] = case.level
    return out


def anchor_entry(case: CaseFacts, since: str) -> Entry | None:
    if since == "case_opened":
        return case.entries[0] if case.entries else None
    if since == "state_entered":
        return case.last_entry()
    if since == "level_entered":
        return case.level_entry()
    return case.last_entry(since.split(":", 1)[1])


def _value_nl(value: Any, params: Mapping[str, Any]) -> str:
    """A filter value in the recorded wording: `ja`/`nee`, `a of b`, never a Python repr."""
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


def resolved_where(where: tuple[tuple[str, Any], ...], params: Mapping[str, Any]) -> dict[str, Any]:
    """A filter with `{param}` replaced by the chosen value (None: not chosen yet)."""
    return {k: _resolve(v, params) for k, v in where}


def parse_evidence_filter(
    raw: Mapping[str, Any], *, key: str, fail: Fail, params: Collection[str] = (),
    kinds: Mapping[str, EvidenceKind] = BUILTIN_KINDS,
) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """`evidence = KIND` and `where = { field = value }` of a guard or of a deadline's stop or
    restart condition, checked alike for both: a known kind, plain (never secret) fields or the
    kind's derived ones, values of the field's type and choices, and `{param}` only for a
    parameter the trigger declares. Lists become tuples (a value matches any of them)."""
    ev = raw.get("evidence")
    if not isinstance(ev, str) or ev not in kinds:
        raise fail(key + ".evidence", Said("def.guard.unknown_evidence", kind=ev, known=", ".join(kinds)))
    kind = kinds[ev]
    where = raw.get("where", {})
    if not isinstance(where, dict):
        raise fail(key + ".where", Said("def.guard.where_table"))
    for fname, value in where.items():
        fkey = f"{key}.where.{fname}"
        spec = kind.field(fname)
        if spec is None:
            raise fail(fkey, Said("def.guard.no_field", kind=ev, field=fname))
        if spec.secret:
            raise fail(fkey, Said("def.guard.secret_field"))
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            if value[1:-1] not in params:
                raise fail(fkey, Said("def.guard.unknown_param", param=value))
        elif spec.type == "bool" and not isinstance(value, bool):
            raise fail(fkey, Said("def.must_be_bool"))
        elif spec.type == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise fail(fkey, Said("def.guard.must_be_int"))
        elif spec.type in ("text", "date") and not isinstance(value, str | list):
            raise fail(fkey, Said("def.guard.must_be_string"))
        elif spec.choices:
            vals = value if isinstance(value, list) else [value]
            for v in vals:
                if v not in spec.choices:
                    raise fail(fkey, Said("def.guard.not_a_choice", value=v, choices=", ".join(spec.choices)))
    return ev, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in where.items())


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


def plan_counts_for_level(case: CaseFacts, plan: Fact) -> bool:
    """Whether a plan belongs to the case's current level (made since it began)."""
    return _after(plan, case.level_entry())


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


def consent_status(case: CaseFacts, scope: str, since: Entry | None = None) -> str | None:
    """The parents' latest decision on `scope` ('granted', 'refused', 'revoked'), or None."""
    latest = latest_consent(case, scope, since)
    return None if latest is None else str(latest.fields["status"])


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


def _dated_before(case: CaseFacts, kind: str, where: tuple[tuple[str, Any], ...], params: Mapping[str, Any],
                  anchor: Entry | None) -> int:
    """Records of `kind` matching `where`, recorded after the anchor but not counting for it
    because they (or the plan an evaluation is of) are dated before the anchor's day."""
    if anchor is None or anchor.seq == 1:
        return 0
    plans = {f.seq: f for f in case.facts if f.kind == "plan"}
    n = 0
    for f in case.facts:
        if f.kind != kind or f.seq <= anchor.seq or not fields_match(f.fields, where, params):
            continue
        number = f.fields.get("plan") if f.kind == "evaluation" else None
        plan = plans.get(number) if isinstance(number, int) else None
        if f.date < anchor.date or (plan is not None and not _after(plan, anchor)):
            n += 1
    return n


# ---- the built-in guard kinds ----------------------------------------------------------------
@guard_kind("evidence")
@dataclass(frozen=True)
class EvidenceGuard(Guard):
    """At least `min` records of a kind whose plain fields match `where`, since an anchor."""

    keys: ClassVar[frozenset[str]] = frozenset({"evidence", "where", "since", "min"})
    codes: ClassVar[frozenset[str] | None] = frozenset({"evidence_missing"})
    evidence: str = ""
    where: tuple[tuple[str, Any], ...] = ()
    since: str = "case_opened"
    min: int = 1
    message: str | None = None
    label: str = ""  # the kind's label when the definition was read (the recorded wording)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ctx: ParseContext) -> Guard:
        since = parse_since(raw, ctx)
        ev, where = parse_evidence_filter(raw, key=ctx.key, fail=ctx.fail, params=ctx.params, kinds=ctx.kinds)
        n = raw.get("min", 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ctx.fail(ctx.key + ".min", Said("def.guard.min"))
        return cls(evidence=ev, where=where, since=since, min=n, message=raw.get("message"),
                   label=ctx.kinds[ev].label)

    def _params(self, params: Mapping[str, Any], case: CaseFacts | None, source: str | None) -> dict[str, Any]:
        return {"kind": self.evidence, "where": resolved_where(self.where, params),
                **_anchor_params(self.since, case, source), "min": self.min}

    def check(self, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
        anchor = anchor_entry(case, self.since)
        n = _count(case, [
            f for f in case.facts
            if f.kind == self.evidence and _after(f, anchor) and fields_match(f.fields, self.where, params)
        ], anchor)
        if n >= self.min:
            return None
        out = {**self._params(params, case, None), "have": n}
        early = _dated_before(case, self.evidence, self.where, params, anchor)
        if early and anchor is not None:
            # Recorded since the anchor but dated (or, for an evaluation, planned) before it:
            # the refusal says why they do not count rather than leave "(nu 0)" unexplained.
            out.update(before=early, before_date=anchor.date.isoformat())
        return self._with_message(Reason("evidence_missing", out))

    def explain(self, params: Mapping[str, Any] | None = None, source: str | None = None) -> Reason:
        return self._with_message(Reason("needs_evidence", self._params(params or {}, None, source)))

    def recorded(self, params: Mapping[str, Any] | None = None) -> str:
        if self.message:
            return self.message
        what = self.label or (BUILTIN_KINDS[self.evidence].label if self.evidence in BUILTIN_KINDS
                              else self.evidence)
        filters = ", ".join(f"{k}={_value_nl(v, params or {})}" for k, v in self.where)
        count = f"minstens {self.min}× " if self.min > 1 else ""
        detail = f" ({filters})" if filters else ""
        return f"{count}{what}{detail} {_recorded_anchor(self.since)}"


@guard_kind("consent")
@dataclass(frozen=True)
class ConsentGuard(Guard):
    """The parents' latest decision on a scope is a grant (or, `expect = "withheld"`, is not)."""

    keys: ClassVar[frozenset[str]] = frozenset({"scope", "expect", "since", "document"})
    codes: ClassVar[frozenset[str] | None] = frozenset({
        "consent_missing", "consent_not_withheld", "consent_unbound", "consent_other_version"})
    scope: str = ""
    expect: str = "granted"
    since: str = "case_opened"
    message: str | None = None
    # "opp": the grant counts only for the OPP version whose hash it names, and for a later
    # version whose handelingsdeel is unchanged (the same handelingsdeel hash).
    document: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ctx: ParseContext) -> Guard:
        since = parse_since(raw, ctx)
        scope = raw.get("scope")
        if not isinstance(scope, str) or scope not in ctx.scopes:
            raise ctx.fail(ctx.key + ".scope",
                           Said("def.guard.unknown_scope", scope=scope, declared=", ".join(ctx.scopes)))
        expect = raw.get("expect", "granted")
        if expect not in ("granted", "withheld"):
            raise ctx.fail(ctx.key + ".expect", Said("def.guard.expect"))
        document = raw.get("document")
        if document is not None:
            if document != "opp":
                raise ctx.fail(ctx.key + ".document", Said("def.guard.document"))
            if ctx.opp is None or ctx.opp.consent_scope != scope:
                raise ctx.fail(ctx.key + ".document", Said("def.guard.document_needs_opp"))
            if expect != "granted":
                raise ctx.fail(ctx.key + ".document", Said("def.guard.document_grant_only"))
        return cls(scope=scope, expect=expect, since=since, message=raw.get("message"), document=document)

    def _params(self, case: CaseFacts | None, source: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.scope}
        if self.since != "case_opened":
            out.update(_anchor_params(self.since, case, source))
        return out

    def check(self, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
        since = anchor_entry(case, self.since) if self.since != "case_opened" else None
        status = consent_status(case, self.scope, since)
        if self.expect == "withheld":
            if status in ("refused", "revoked"):
                return None
            return self._with_message(Reason("consent_not_withheld", {**self._params(case, None), "status": status}))
        if status == "granted":
            return self._bound(case, since) if self.document else None
        return self._with_message(Reason("consent_missing", {**self._params(case, None), "status": status}))

    def _bound(self, case: CaseFacts, since: Entry | None) -> Reason | None:
        """A grant on the OPP counts for the newest version when it names that version, or an
        earlier one with the same handelingsdeel (the parents consented to that very text)."""
        grant = latest_consent(case, self.scope, since)
        assert grant is not None
        newest = case.opp_version()
        named = grant.fields.get("opp_version")
        if newest is None or named is None:
            return self._with_message(Reason("consent_unbound", {"scope": self.scope}))
        if grant.fields.get("handelingsdeel_hash") == newest.handelingsdeel_hash and int(named) <= newest.version:
            return None
        return self._with_message(Reason("consent_other_version", {
            "scope": self.scope, "version": int(named), "current": newest.version}))

    def explain(self, params: Mapping[str, Any] | None = None, source: str | None = None) -> Reason:
        code = "needs_consent_withheld" if self.expect == "withheld" else "needs_consent"
        return self._with_message(Reason(code, self._params(None, source)))

    def recorded(self, params: Mapping[str, Any] | None = None) -> str:
        if self.message:
            return self.message
        when = "" if self.since == "case_opened" else " " + _recorded_anchor(self.since)
        if self.document:
            when += " voor het handelingsdeel van de huidige OPP-versie"
        if self.expect == "withheld":
            return f"toestemming van ouders voor '{self.scope}' geweigerd of ingetrokken{when}"
        return f"toestemming van ouders voor '{self.scope}' verleend en niet ingetrokken{when}"


@guard_kind("previous_state")
@dataclass(frozen=True)
class PreviousStateGuard(Guard):
    """The case came from `state`: picks the way back out of a pausing state (a dispute)."""

    keys: ClassVar[frozenset[str]] = frozenset({"state"})
    codes: ClassVar[frozenset[str] | None] = frozenset({"not_from_state"})
    state: str = ""
    message: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ctx: ParseContext) -> Guard:
        state = raw.get("state")
        if not isinstance(state, str) or state not in ctx.states:
            raise ctx.fail(ctx.key + ".state", Said("def.unknown_state", state=state))
        return cls(state=state, message=raw.get("message"))

    def check(self, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
        if case.previous_state == self.state:
            return None
        return self._with_message(Reason("not_from_state", {"state": self.state}))

    def explain(self, params: Mapping[str, Any] | None = None, source: str | None = None) -> Reason:
        return self._with_message(Reason("needs_previous_state", {"state": self.state}))

    def recorded(self, params: Mapping[str, Any] | None = None) -> str:
        return self.message or f"de casus kwam uit '{self.state}'"

    def applies(self, case: CaseFacts) -> bool:
        return case.previous_state == self.state


@guard_kind("opp_complete")
@dataclass(frozen=True)
class OppCompleteGuard(Guard):
    """The newest OPP version holds every part the definition's `[opp] required` lists
    (WPO art. 40a lid 1); a refusal names every missing part."""

    keys: ClassVar[frozenset[str]] = frozenset()
    required: tuple[str, ...] = ()
    message: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ctx: ParseContext) -> Guard:
        if ctx.opp is None:
            raise ctx.fail(ctx.key + ".kind", Said("def.guard.opp_complete_needs_opp"))
        return cls(required=ctx.opp.required, message=raw.get("message"))

    def check(self, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
        newest = case.opp_version()
        if newest is None:
            return self._with_message(Reason("opp_missing", {"required": list(self.required)}))
        lacking = [p for p in self.required if p not in newest.parts]
        if not lacking:
            return None
        return self._with_message(Reason("opp_incomplete", {"version": newest.version, "missing": lacking}))

    def explain(self, params: Mapping[str, Any] | None = None, source: str | None = None) -> Reason:
        return self._with_message(Reason("needs_opp_complete", {"required": list(self.required)}))

    def recorded(self, params: Mapping[str, Any] | None = None) -> str:
        return self.message or "de nieuwste OPP-versie heeft elk verplicht onderdeel: " + ", ".join(self.required)

"""The case aggregate: folded from its events, deciding transitions without SQL or SMTP.

A case is rebuilt from its events for every command, so the projection in the database can
never drift from what the events prove, and the same code serves replay in the audit.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from workflow.domain import upcasts
from workflow.domain.definition import ProcessDefinition, TransitionDef
from workflow.domain.errors import BadInput, NotFound, Said
from workflow.domain.events import GENESIS_HASH, Event, make_event
from workflow.domain.facts import CaseFacts, Entry, Fact, OppVersion
from workflow.domain.guards import Guard
from workflow.domain.instants import local_date
from workflow.domain.opp import present_in_payload
from workflow.domain.reasons import Reason


@dataclass
class ConsentRequest:
    """The parents asked online for their consent on one scope (a `consent_requested` event),
    and what became of it: `open`, `granted`, `refused`, `revoked` (a grant later withdrawn) or
    `replaced` (a newer ask for the same scope came while it was open: no longer answerable).
    Its text is sealed in the event; the fold keeps only the SHA-256 of it."""

    seq: int
    scope: str
    text_hash: str
    date: dt.date
    status: str = "open"
    answered_seq: int | None = None  # the newest answer (a consent record naming it)
    answered_on: dt.date | None = None
    replaced_by: int | None = None

    def accepts(self, answer: str) -> bool:
        """Whether the parents may give `answer` now: an open request is granted or refused, a
        granted one revoked; an answered or replaced one takes nothing more."""
        return answer in _ANSWERS.get(self.status, ())

    @property
    def answerable(self) -> bool:
        """Whether the parents may decide on it now: open, or granted (they may revoke)."""
        return self.status in _ANSWERS


# A request's status -> the answers it takes (ConsentRequest.accepts).
_ANSWERS = {"open": ("granted", "refused"), "granted": ("revoked",)}


@dataclass
class Case:
    """A case as folded from its events: state, level, facts and the chain's head."""

    case_id: str
    school: str
    process_id: str
    process_version: int
    opened_at: dt.datetime
    facts: CaseFacts
    version: int = 0
    head_hash: str = GENESIS_HASH
    closed_at: dt.datetime | None = None
    close_reason: str | None = None
    group: int | None = None
    opp_active: bool = False
    erased: bool = False
    events: list[Event] = field(default_factory=list)
    # The `imported` event's payload and day, when the case was brought in with its history
    # outside passend (what happened before that day is not judged).
    imported: dict[str, Any] | None = None
    imported_on: dt.date | None = None
    # The consent asked of the parents online, by the seq of its `consent_requested` event.
    requests: dict[int, ConsentRequest] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return self.facts.state

    @property
    def level(self) -> int | None:
        return self.facts.level

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Case:
        it = iter(events)
        first = next(it, None)
        if first is None or first.type != "case_opened":
            raise NotFound(Said("dom.case.no_opening_event"))
        p = first.payload
        when = local_date(first.recorded_at)
        case = cls(
            case_id=first.case_id,
            school=p["school"],
            process_id=first.process_id,
            process_version=first.process_version,
            opened_at=first.recorded_at,
            group=p.get("group"),
            facts=CaseFacts(
                state=p["state"], level=p["level"],
                entries=[Entry(first.seq, p["state"], p["level"], when)],
            ),
        )
        case._mark(first)
        for ev in it:
            case.apply(ev)
        return case

    def _mark(self, ev: Event) -> None:
        self.version = ev.seq
        self.head_hash = ev.hash
        self.events.append(ev)

    def apply(self, ev: Event) -> None:
        """Fold one event into the case; the only way state changes."""
        if ev.seq != self.version + 1:
            raise ValueError(f"event {ev.seq} does not follow {self.version} in case {self.case_id}")
        p = upcasts.payload(ev)  # older events read as their definition's [[upcasts]] say
        if ev.type == "evidence_recorded":
            self.facts.facts.append(Fact(
                seq=ev.seq, kind=p["kind"], date=dt.date.fromisoformat(p["date"]),
                level=p["level"], state=p["state"], fields=p["fields"],
            ))
            if p["kind"] == "consent" and "request" in p["fields"]:
                _answered(self, ev, p)
        elif ev.type == "transitioned":
            f = self.facts
            if f.state != p["source"]:
                raise ValueError(f"event {ev.seq} leaves {p['source']} but case is in {f.state}")
            f.previous_state = p["source"]
            f.state, f.level = p["dest"], p["level_to"]
            f.entries.append(Entry(ev.seq, f.state, f.level, local_date(ev.recorded_at)))
            if p.get("adopts_opp"):
                self.opp_active = True
            if p.get("ends_opp"):
                self.opp_active = False
            if p.get("close_reason"):
                self.closed_at = ev.recorded_at
                self.close_reason = p["close_reason"]
        elif ev.type == "case_erased":
            self.erased = True
        elif ev.type in _FOLDS:
            _FOLDS[ev.type](self, ev, p)
        elif ev.type != "case_opened":
            raise ValueError(f"unknown event type {ev.type!r}")
        self._mark(ev)

    def plans(self) -> list[tuple[int, dt.date, dt.date]]:
        return [
            (f.seq, dt.date.fromisoformat(f.fields["start"]), dt.date.fromisoformat(f.fields["end"]))
            for f in self.facts.facts if f.kind == "plan"
        ]

    def level_plans(self) -> list[int]:
        """The plans of the current level: recorded since it began and dated on or after that
        day (as the guards count them); an evaluation is of one of these."""
        from workflow.domain.guards import plan_counts_for_level

        return [f.seq for f in self.facts.facts if f.kind == "plan" and plan_counts_for_level(self.facts, f)]

    def opp_refs(self) -> list[tuple[int, str, str]]:
        """(number, hash, handelingsdeel hash) of each OPP version, for a consent to name."""
        return [(v.version, v.hash, v.handelingsdeel_hash) for v in self.facts.opp_versions]

    def next_event(
        self, *, type: str, payload: dict[str, Any], actor: str, role: str,
        recorded_at: dt.datetime, process: ProcessDefinition,
    ) -> Event:
        return make_event(
            case_id=self.case_id, seq=self.version + 1, type=type, process_id=process.id,
            process_version=process.version, actor=actor, role=role, recorded_at=recorded_at,
            payload=payload, prev_hash=self.head_hash,
        )


def _opp_drafted(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    case.facts.opp_versions.append(OppVersion(
        seq=ev.seq, version=int(p["version"]), date=dt.date.fromisoformat(p["date"]), hash=str(p["hash"]),
        handelingsdeel_hash=str(p["handelingsdeel_hash"]), parts=present_in_payload(p),
        goals=len(p.get("goals") or [])))


def _opp_evaluated(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    # The yearly OPP evaluation is an evaluation of the OPP for every guard, deadline and rule
    # that asks for one (subject opp); its results per goal stay in the event.
    case.facts.facts.append(Fact(
        seq=ev.seq, kind="evaluation", date=dt.date.fromisoformat(p["date"]), level=p["level"], state=p["state"],
        fields={"subject": "opp", "outcome": p["outcome"], "with_parents": bool(p["with_parents"]),
                "opp_version": p["version"]}))


def _imported(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    f = case.facts
    if ev.seq != 2 or len(f.entries) != 1:
        raise ValueError(f"event {ev.seq}: a case is imported right after it is opened")
    level_since = dt.date.fromisoformat(p["level_since"])
    state_since = dt.date.fromisoformat(p["state_since"])
    f.state, f.level = p["state"], p["level"]
    f.entries.append(Entry(ev.seq, f.state, f.level, state_since,
                           level_since if level_since != state_since else None))
    if p.get("opp_adopted_on"):
        case.opp_active = True
    case.imported = dict(p)
    case.imported_on = local_date(ev.recorded_at)


def _migrated(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    f = case.facts
    if f.state != p["source"]:
        raise ValueError(f"event {ev.seq} migrates from {p['source']} but case is in {f.state}")
    names: Mapping[str, str] = p.get("states") or {}
    case.process_version = int(p["to_version"])
    f.state, f.level = p["dest"], p["level_to"]
    # Earlier entries read by the new version's names, so its anchors (entered:<state>) find them.
    f.entries = [Entry(e.seq, names.get(e.state, e.state), e.level, e.date, e.level_date) for e in f.entries]
    if f.entries:
        last = f.entries[-1]
        f.entries[-1] = Entry(last.seq, p["dest"], p["level_to"], last.date, last.level_date)
    if f.previous_state is not None:
        f.previous_state = names.get(f.previous_state, f.previous_state)


def _consent_requested(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    """A new ask for a scope replaces the one still open for it."""
    for r in case.requests.values():
        if r.scope == p["scope"] and r.status == "open":
            r.status, r.replaced_by = "replaced", ev.seq
    case.requests[ev.seq] = ConsentRequest(seq=ev.seq, scope=str(p["scope"]), text_hash=str(p["text_hash"]),
                                           date=dt.date.fromisoformat(p["date"]))


def _answered(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    fields = p["fields"]
    r = case.requests.get(fields["request"])
    if r is None or r.scope != fields.get("scope") or r.text_hash != fields.get("request_hash"):
        raise ValueError(f"event {ev.seq} answers no request {fields['request']!r} of case {case.case_id}")
    r.status = str(fields["status"])
    r.answered_seq, r.answered_on = ev.seq, dt.date.fromisoformat(p["date"])


def _nothing(case: Case, ev: Event, p: Mapping[str, Any]) -> None:
    """ROD registrations change nothing a guard reads (workflow.domain.rod reads them)."""


_FOLDS = {"opp_drafted": _opp_drafted, "opp_evaluated": _opp_evaluated, "imported": _imported,
          "migrated": _migrated, "rod_registered": _nothing,
          "consent_requested": _consent_requested}


@dataclass(frozen=True)
class Decision:
    """The verdict on one trigger: allowed or refused, with every reason and every guard checked."""

    trigger: str
    allowed: bool
    source: str
    dest: str | None
    params: dict[str, str]
    reasons: tuple[Reason, ...]
    checked: tuple[str, ...]  # the guards' recorded wording, as the transition's event keeps it
    transition: TransitionDef | None = None

    def as_dict(self, reason: Callable[[Reason], dict[str, Any]] = Reason.as_dict) -> dict[str, Any]:
        """The decision as data; reasons as {code, params}, or as `reason` gives them (the
        service layer adds their text: refusals.decision_dict)."""
        return {
            "trigger": self.trigger, "allowed": self.allowed, "source": self.source,
            "dest": self.dest, "params": self.params, "reasons": [reason(r) for r in self.reasons],
            "checked": list(self.checked),
        }


def check_params(definition: ProcessDefinition, trigger: str, params: Mapping[str, str]) -> None:
    tdef = definition.triggers.get(trigger)
    if tdef is None:
        raise NotFound(Said("dom.case.unknown_step", step=trigger, known=", ".join(definition.triggers)))
    for name, value in params.items():
        spec = tdef.params.get(name)
        if spec is None:
            raise BadInput(Said("dom.case.param.unknown", step=tdef.label, name=name))
        if not isinstance(value, str):  # stored in the chain, whose params are strings only
            raise BadInput(Said("dom.case.param.not_text", step=tdef.label, param=spec.title))
        if spec.choices is not None and value not in spec.choices:
            raise BadInput(Said("dom.case.param.not_allowed", step=tdef.label, param=spec.title, value=value,
                                choices=", ".join(spec.choices)))
    lacking = [spec for name, spec in tdef.params.items() if spec.required and name not in params]
    if lacking:
        # "titel (keuze, keuze); titel": the parameters' labels and choices, as the definition names them
        raise BadInput(Said("dom.case.param.lacking", step=tdef.label, params="; ".join(
            spec.title + (f" ({', '.join(spec.choices)})" if spec.choices else "") for spec in lacking)))


def when_matches(t: TransitionDef, params: Mapping[str, str]) -> bool:
    return all(params.get(k) in values for k, values in t.when.items())


def recorded(guards: tuple[Guard, ...], params: Mapping[str, str]) -> tuple[str, ...]:
    """The guards' recorded wording for these parameters (what a transition's event keeps)."""
    try:
        return _recorded(guards, tuple(sorted(params.items())))
    except TypeError:  # a parameter value that cannot be hashed: worded without the cache
        return tuple(g.recorded(params) for g in guards)


@lru_cache(maxsize=4096)
def _recorded(guards: tuple[Guard, ...], params: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    # Every decision words every guard of its edge; the words depend on the guards and the
    # parameters alone, and a command decides the same few edges again and again.
    p = dict(params)
    return tuple(g.recorded(p) for g in guards)


def verdict(case: Case, t: TransitionDef, params: Mapping[str, str], role: str) -> list[Reason]:
    """Every reason `t` may not be taken now by `role` (empty: it may). All guards are asked,
    so a refusal names every missing piece at once."""
    reasons: list[Reason] = []
    if role not in t.roles:
        reasons.append(Reason("role_may_not_fire", {"role": role, "trigger": t.trigger, "state": t.source,
                                                    "roles": list(t.roles)}))
    for g in t.guards:
        why = g.check(case.facts, params)
        if why is not None:
            reasons.append(why)
    return reasons


def decide(
    case: Case, definition: ProcessDefinition, trigger: str, params: Mapping[str, str], role: str,
) -> Decision:
    """Decide `trigger` on `case` for a user with `role`, collecting every reason it fails."""
    check_params(definition, trigger, params)
    source = case.state
    base: dict[str, Any] = {"trigger": trigger, "source": source, "params": dict(params)}
    if case.closed or definition.states[source].final:
        return Decision(**base, allowed=False, dest=None, reasons=(Reason("case_closed"),), checked=())
    candidates = [t for t in definition.candidates(trigger, source) if when_matches(t, params)]
    if not candidates:
        return Decision(**base, allowed=False, dest=None, checked=(), reasons=(Reason("trigger_not_here", {
            "trigger": trigger, "state": source, "possible": definition.triggers_from(source)}),))
    verdicts: list[tuple[TransitionDef, list[Reason], tuple[str, ...]]] = []
    for t in candidates:
        reasons = verdict(case, t, params, role)
        checked = recorded(t.guards, params)
        if not reasons:
            return Decision(**base, allowed=True, dest=t.dest, reasons=(), checked=checked,
                            transition=t)
        verdicts.append((t, reasons, checked))
    # Report the candidates that apply to this case (a guard such as previous_state that fails
    # means "this edge is not for you"); if none applies, report them all.
    applicable = [v for v in verdicts if all(g.applies(case.facts) for g in v[0].guards)] or verdicts
    reasons_all: list[Reason] = []
    for _, rs, _ in applicable:
        reasons_all.extend(r for r in rs if r not in reasons_all)
    t0 = applicable[0][0]
    return Decision(**base, allowed=False, dest=t0.dest, reasons=tuple(reasons_all),
                    checked=tuple(applicable[0][2]))


def options(case: Case, definition: ProcessDefinition, role: str) -> list[Decision]:
    """Every trigger possible from the current state, one decision per distinct outcome."""
    out: list[Decision] = []
    if case.closed:
        return out
    for trigger in definition.triggers_from(case.state):
        variants: list[dict[str, str]] = []
        for t in definition.candidates(trigger, case.state):
            for combo in itertools.product(*t.when.values()):  # every outcome the edge accepts
                p = dict(zip(t.when, combo, strict=True))
                if p not in variants:
                    variants.append(p)
        tdef = definition.triggers[trigger]
        for p in variants:
            for name, spec in tdef.params.items():
                if spec.required and name not in p:
                    p[name] = spec.choices[0] if spec.choices else "?"
            if len(variants) > 1 or not tdef.params:
                out.append(decide(case, definition, trigger, p, role))
            else:
                d = decide(case, definition, trigger, p, role)
                out.append(Decision(trigger=d.trigger, allowed=d.allowed, source=d.source,
                                    dest=d.dest, params={}, reasons=d.reasons, checked=d.checked,
                                    transition=d.transition))
    return out


def payload_for(t: TransitionDef, params: Mapping[str, str], definition: ProcessDefinition) -> dict[str, Any]:
    """The event payload of taking `t` with `params`: the shared machine's `after` callback
    produces it. Its keys and wording are part of the hashed history and never change."""
    payload: dict[str, Any] = {
        "trigger": t.trigger,
        "source": t.source,
        "dest": t.dest,
        "level_from": definition.level_of(t.source),
        "level_to": definition.level_of(t.dest),
        "params": dict(params),
        "guards": list(recorded(t.guards, params)),
    }
    if definition.states[t.dest].final:
        payload["close_reason"] = t.close_reason or params.get("reason") or params.get("outcome") or t.trigger
    if t.ends_opp:
        payload["ends_opp"] = True
    if t.adopts_opp:
        payload["adopts_opp"] = True
    return payload


def transition_payload(decision: Decision, definition: ProcessDefinition) -> dict[str, Any]:
    """The payload of an allowed decision, without the machine (tests build histories with it)."""
    assert decision.transition is not None and decision.allowed
    return payload_for(decision.transition, decision.params, definition)

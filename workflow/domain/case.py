"""The case aggregate: folded from its events, deciding transitions without SQL or SMTP.

A case is rebuilt from its events for every command, so the projection in the database can
never drift from what the events prove, and the same code serves replay in the audit.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.domain import guards
from workflow.domain.definition import ProcessDefinition, TransitionDef
from workflow.domain.errors import BadInput, NotFound
from workflow.domain.events import GENESIS_HASH, Event, make_event
from workflow.domain.facts import CaseFacts, Entry, Fact
from workflow.domain.instants import local_date


@dataclass
class Case:
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
            raise NotFound("casus heeft geen openingsgebeurtenis")
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
        p = ev.payload
        if ev.type == "evidence_recorded":
            self.facts.facts.append(Fact(
                seq=ev.seq, kind=p["kind"], date=dt.date.fromisoformat(p["date"]),
                level=p["level"], state=p["state"], fields=p["fields"],
            ))
        elif ev.type == "transitioned":
            f = self.facts
            if f.state != p["source"]:
                raise ValueError(f"event {ev.seq} leaves {p['source']} but case is in {f.state}")
            f.previous_state = p["source"]
            f.state, f.level = p["dest"], p["level_to"]
            f.entries.append(Entry(ev.seq, f.state, f.level, local_date(ev.recorded_at)))
            # `adopts_opp` is set by the definition; version-1 events predate the flag.
            if p.get("adopts_opp") or (p["source"] == "opp_concept" and p["dest"] == "opp_vastgesteld"):
                self.opp_active = True
            if p.get("ends_opp"):
                self.opp_active = False
            if p.get("close_reason"):
                self.closed_at = ev.recorded_at
                self.close_reason = p["close_reason"]
        elif ev.type == "case_erased":
            self.erased = True
        elif ev.type != "case_opened":
            raise ValueError(f"unknown event type {ev.type!r}")
        self._mark(ev)

    def plans(self) -> list[tuple[int, dt.date, dt.date]]:
        return [
            (f.seq, dt.date.fromisoformat(f.fields["start"]), dt.date.fromisoformat(f.fields["end"]))
            for f in self.facts.facts if f.kind == "plan"
        ]

    def next_event(
        self, *, type: str, payload: dict[str, Any], actor: str, role: str,
        recorded_at: dt.datetime, process: ProcessDefinition,
    ) -> Event:
        return make_event(
            case_id=self.case_id, seq=self.version + 1, type=type, process_id=process.id,
            process_version=process.version, actor=actor, role=role, recorded_at=recorded_at,
            payload=payload, prev_hash=self.head_hash,
        )


@dataclass(frozen=True)
class Decision:
    """The verdict on one trigger: allowed or refused, with every reason and every guard checked."""

    trigger: str
    allowed: bool
    source: str
    dest: str | None
    params: dict[str, str]
    reasons: tuple[str, ...]
    checked: tuple[str, ...]
    transition: TransitionDef | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger, "allowed": self.allowed, "source": self.source,
            "dest": self.dest, "params": self.params, "reasons": list(self.reasons),
            "checked": list(self.checked),
        }


def check_params(definition: ProcessDefinition, trigger: str, params: Mapping[str, str]) -> None:
    tdef = definition.triggers.get(trigger)
    if tdef is None:
        raise NotFound(f"onbekende trigger '{trigger}' (bekend: {', '.join(definition.triggers)})")
    for name, value in params.items():
        spec = tdef.params.get(name)
        if spec is None:
            raise BadInput(f"{trigger}: onbekende parameter '{name}'")
        if not isinstance(value, str):  # stored in the chain, whose params are strings only
            raise BadInput(f"{trigger}: parameter '{name}' moet tekst zijn")
        if spec.choices is not None and value not in spec.choices:
            raise BadInput(f"{trigger}: {name} '{value}' is niet toegestaan (kies uit: {', '.join(spec.choices)})")
    for name, spec in tdef.params.items():
        if spec.required and name not in params:
            choices = f" ({', '.join(spec.choices)})" if spec.choices else ""
            raise BadInput(f"{trigger}: parameter '{name}' is verplicht{choices}")


def _when_matches(t: TransitionDef, params: Mapping[str, str]) -> bool:
    return all(params.get(k) in values for k, values in t.when.items())


def decide(
    case: Case, definition: ProcessDefinition, trigger: str, params: Mapping[str, str], role: str,
) -> Decision:
    """Decide `trigger` on `case` for a user with `role`, collecting every reason it fails."""
    check_params(definition, trigger, params)
    source = case.state
    base: dict[str, Any] = {"trigger": trigger, "source": source, "params": dict(params)}
    if case.closed or definition.states[source].final:
        return Decision(**base, allowed=False, dest=None,
                        reasons=("de casus is afgesloten",), checked=())
    candidates = [t for t in definition.candidates(trigger, source) if _when_matches(t, params)]
    if not candidates:
        possible = ", ".join(definition.triggers_from(source)) or "geen"
        return Decision(**base, allowed=False, dest=None,
                        reasons=(f"'{trigger}' kan niet vanuit '{source}' (mogelijk: {possible})",),
                        checked=())
    verdicts: list[tuple[TransitionDef, list[str], list[str]]] = []
    for t in candidates:
        reasons: list[str] = []
        if role not in t.roles:
            reasons.append(f"rol '{role}' mag '{trigger}' vanuit '{source}' niet uitvoeren "
                           f"(wel: {', '.join(t.roles)})")
        checked = [g.describe(params) for g in t.guards]
        for g in t.guards:
            why = guards.check(g, case.facts, params)
            if why is not None:
                reasons.append(why)
        if not reasons:
            return Decision(**base, allowed=True, dest=t.dest, reasons=(), checked=tuple(checked),
                            transition=t)
        verdicts.append((t, reasons, checked))
    # Report the candidates that apply to this case (a previous_state guard that fails means
    # "this edge is not for you"); if none applies, report them all.
    applicable = [v for v in verdicts if not any(
        g.kind == "previous_state" and guards.check(g, case.facts, params) for g in v[0].guards
    )] or verdicts
    reasons_all: list[str] = []
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


def transition_payload(decision: Decision, definition: ProcessDefinition) -> dict[str, Any]:
    t = decision.transition
    assert t is not None and decision.allowed
    payload: dict[str, Any] = {
        "trigger": decision.trigger,
        "source": t.source,
        "dest": t.dest,
        "level_from": definition.level_of(t.source),
        "level_to": definition.level_of(t.dest),
        "params": dict(decision.params),
        "guards": list(decision.checked),
    }
    if definition.states[t.dest].final:
        payload["close_reason"] = t.close_reason or decision.params.get("reason") or trigger_reason(decision)
    if t.ends_opp:
        payload["ends_opp"] = True
    if t.adopts_opp:
        payload["adopts_opp"] = True
    return payload


def trigger_reason(decision: Decision) -> str:
    return decision.params.get("outcome") or decision.trigger

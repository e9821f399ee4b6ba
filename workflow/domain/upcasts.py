"""Upcasts: what older events of a process version did not yet say, declared in its definition.

Events are never rewritten (they are hashed), so when a later release records a fact in the
payload that older events left implicit, the definition of that process version says how to read
the old ones::

    [[upcasts]]
    event = "transitioned"
    when = { source = "opp_concept", dest = "opp_vastgesteld" }   # payload values to match
    set = { adopts_opp = true }                                    # keys the payload lacks

A rule only adds keys the payload does not have, so an event that carries the key is read as
written. The rules are kept per (process id, version) when a definition is parsed, because the
case fold reads events without a definition at hand (every store, replay and report folds the
same way); the key makes rules of one process version never touch another's events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.domain.errors import DefinitionError, Said
from workflow.domain.events import Event

Fail = Callable[[str, str | Said], DefinitionError]
EVENT_TYPES = ("case_opened", "evidence_recorded", "transitioned", "case_erased")


@dataclass(frozen=True)
class Upcast:
    """A rewrite of old events' payloads as they are read: `set` where `event` matches `when`."""

    event: str
    when: tuple[tuple[str, Any], ...]
    set: tuple[tuple[str, Any], ...]

    def applies(self, ev_type: str, payload: Mapping[str, Any]) -> bool:
        if ev_type != self.event:
            return False
        for k, v in self.when:  # a plain loop: the fold asks this of every event of its type
            if payload.get(k) != v:
                return False
        return any(k not in payload for k, _ in self.set)


_RULES: dict[tuple[str, int], dict[str, tuple[Upcast, ...]]] = {}  # by process version, by event type


def parse_upcasts(raw: Any, *, fail: Fail) -> tuple[Upcast, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("upcasts", Said("def.upcast.array"))
    out = []
    for i, spec in enumerate(raw):
        key = f"upcasts[{i}]"
        if not isinstance(spec, dict):
            raise fail(key, Said("def.must_be_table"))
        for k in spec:
            if k not in ("event", "when", "set"):
                raise fail(f"{key}.{k}", Said("def.unknown_key", allowed="event, set, when"))
        event = spec.get("event")
        if event not in EVENT_TYPES:
            raise fail(key + ".event", Said("def.upcast.event", events=", ".join(EVENT_TYPES)))
        when, set_ = spec.get("when", {}), spec.get("set")
        if not isinstance(when, dict):
            raise fail(key + ".when", Said("def.upcast.payload"))
        if not isinstance(set_, dict) or not set_:
            raise fail(key + ".set", Said("def.upcast.payload"))
        out.append(Upcast(str(event), tuple(when.items()), tuple(set_.items())))
    return tuple(out)


def register(process_id: str, version: int, rules: tuple[Upcast, ...]) -> None:
    if rules:
        _RULES[(process_id, version)] = {t: tuple(r for r in rules if r.event == t) for t in {r.event for r in rules}}
    else:
        _RULES.pop((process_id, version), None)


def payload(ev: Event) -> Mapping[str, Any]:
    """The event's payload as the current code reads it: with its version's upcasts applied."""
    by_type = _RULES.get((ev.process_id, ev.process_version))
    rules = by_type.get(ev.type) if by_type else None
    if not rules:  # every event the fold reads passes here: the common case returns at once
        return ev.payload
    p: dict[str, Any] | None = None
    for rule in rules:
        if rule.applies(ev.type, p if p is not None else ev.payload):
            p = dict(p if p is not None else ev.payload)
            for k, v in rule.set:
                p.setdefault(k, v)
    return ev.payload if p is None else p

"""The transitions library runs every transition: one shared machine per definition version.

`case.decide` asks every guard first, so a refusal names every missing piece (transitions'
conditions refuse silently and stop at the first False). An allowed step is then *performed* by
the shared machine: its conditions are the same guard checks (and the role and `when` of each
edge), evaluated again on the case as it is; its `on_enter_*`/`on_exit_*` callbacks say which
deadline clocks start, stop, pause and resume; its `after` callback produces the transition's
event payload. If the machine does not arrive where the decision said, nothing is written.

One machine per definition version and one model, never one per case: `Machine.add_model`
grows quadratically and keeps models alive, and adding and removing a model per command cost
more than the rest of a fire. The model is a slot: under a lock, each move sets the slot's state
to the case's and hands it the command (case, parameters, role); the slot is emptied after.
The clocks themselves are still computed from the events (`deadlines.running`): what the
callbacks report is what this move changed, for the command's answer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from transitions import Machine, State

from workflow.domain.case import Case, Decision, payload_for, verdict, when_matches
from workflow.domain.definition import ProcessDefinition, TransitionDef


@dataclass
class Move:
    """One command's move: what the machine was asked and what its callbacks produced."""

    case: Case
    params: Mapping[str, str]
    role: str
    payload: dict[str, Any] | None = None
    dest: str | None = None
    clocks: dict[str, list[str]] = field(default_factory=lambda: {
        "started": [], "stopped": [], "paused": [], "resumed": []})


class _Slot:
    """The one model of a shared machine; `move` is set only while a command moves it."""

    state: str
    move: Move | None = None


def _condition(t: TransitionDef) -> Any:
    def condition(event: Any) -> bool:
        m: Move = event.model.move
        return when_matches(t, m.params) and not verdict(m.case, t, m.params, m.role)

    condition.__name__ = f"guards_of_edge_{t.index}"
    return condition


class SharedMachine:
    def __init__(self, definition: ProcessDefinition) -> None:
        self.definition = definition
        self._slot = _Slot()
        self._lock = threading.Lock()
        d = definition
        # What entering a state does to the clocks, worked out once per definition.
        self._starts = {s: [dd.name for dd in d.deadlines if dd.start == "entered" and dd.start_state == s]
                        for s in d.states}
        self._stops = {s: [dd.name for dd in d.deadlines if any(c.entered == s for c in dd.stop)]
                       for s in d.states}
        self._on_adoption = [dd.name for dd in d.deadlines if dd.start == "opp_adopted"]
        # Callbacks only where a move does something to a clock: fewer calls on every other move.
        states = [State(name,
                        on_enter=[self._entered] if (self._starts[name] or self._stops[name]
                                                     or d.states[name].pauses_deadlines) else None,
                        on_exit=[self._left] if d.states[name].pauses_deadlines else None)
                  for name in d.states]
        transitions = [
            {"trigger": t.trigger, "source": t.source, "dest": t.dest, "conditions": [_condition(t)],
             "after": [self._produce(t)]}
            for t in d.transitions
        ]
        self._machine = Machine(model=self._slot, states=states, transitions=transitions,
                                auto_transitions=False, send_event=True, ignore_invalid_triggers=False,
                                initial=d.initial)

    # ---- callbacks --------------------------------------------------------------------------
    def _entered(self, event: Any) -> None:
        m: Move = event.model.move
        state = event.transition.dest
        m.clocks["started"].extend(self._starts[state])
        m.clocks["stopped"].extend(self._stops[state])
        if self.definition.states[state].pauses_deadlines:
            m.clocks["paused"].append(state)

    def _left(self, event: Any) -> None:
        m: Move = event.model.move
        state = event.transition.source
        if self.definition.states[state].pauses_deadlines:
            m.clocks["resumed"].append(state)

    def _produce(self, t: TransitionDef) -> Any:
        def after(event: Any) -> None:
            m: Move = event.model.move
            m.dest = t.dest
            m.payload = payload_for(t, m.params, self.definition)
            if t.adopts_opp:
                m.clocks["started"].extend(self._on_adoption)
                adopted = m.case.facts.opp_version()
                if adopted is not None:  # the adoption names the OPP version it adopts
                    m.payload["opp_version"] = adopted.version
                    m.payload["opp_hash"] = adopted.hash

        after.__name__ = f"event_of_edge_{t.index}"
        return after

    # ---- moving -----------------------------------------------------------------------------
    def move(self, case: Case, trigger: str, params: Mapping[str, str], role: str) -> Move:
        """Run `trigger` on `case` through the machine; the Move holds the event payload."""
        m = Move(case, dict(params), role)
        event = self._machine.events.get(trigger)
        if event is None or case.state not in self.definition.states:
            raise RuntimeError(f"state graph has no {trigger} from {case.state}")
        with self._lock:
            self._slot.state = case.state  # what Machine.set_state does, without its lookups
            self._slot.move = m
            try:
                moved = event.trigger(self._slot)
            finally:
                self._slot.move = None
        if not moved or m.payload is None:
            raise RuntimeError(f"state graph refused {trigger} from {case.state}")
        return m


@lru_cache(maxsize=32)
def shared_machine(definition: ProcessDefinition) -> SharedMachine:
    return SharedMachine(definition)


def perform(case: Case, definition: ProcessDefinition, decision: Decision, role: str) -> Move:
    """Carry out an allowed decision through the shared machine; it must arrive where the
    decision said (the guards are checked again, on the same case), or nothing may be written."""
    if not decision.allowed:
        raise ValueError("only an allowed decision can be performed")
    m = shared_machine(definition).move(case, decision.trigger, decision.params, role)
    if m.dest != decision.dest:
        raise RuntimeError(f"state graph moved to {m.dest}, expected {decision.dest}")
    return m


def mermaid(definition: ProcessDefinition) -> str:
    """A Mermaid state diagram of the definition, drawn by transitions' GraphMachine."""
    from transitions.extensions import GraphMachine

    class _Drawn:
        pass

    seen: set[tuple[str, str, str]] = set()
    edges = []
    for t in definition.transitions:
        label = t.trigger + ("[" + ",".join(v for vals in t.when.values() for v in vals) + "]"
                             if t.when else "")
        k = (t.source, t.dest, label)
        if k in seen:
            continue
        seen.add(k)
        edges.append({"trigger": label, "source": t.source, "dest": t.dest})
    model = _Drawn()
    GraphMachine(
        model=model, states=list(definition.states), transitions=edges, auto_transitions=False,
        initial=definition.initial, graph_engine="mermaid",
        title=f"{definition.title} (v{definition.version})",
    )
    text: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    lines = text.splitlines()
    # transitions writes a bare title between '---' lines; Mermaid's front matter wants a key.
    if len(lines) > 2 and lines[0] == "---" and lines[2] == "---":
        lines[1] = "title: " + lines[1]
    # Drop the styling of the drawing model's own current state: a definition has none.
    return "\n".join(line for line in lines if not line.lstrip().startswith(("classDef", "Class ")))

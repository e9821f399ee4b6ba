"""The transitions library as the state graph: one shared machine per definition version.

Guards are decided in `domain.decide` (transitions' conditions refuse silently, and stop at the
first failure). The machine then performs the move on a short-lived model, so a definition whose
graph transitions would not accept can never be fired. One machine per definition, never one per
case: `Machine.add_model` grows quadratically and holds models alive, so each model is removed
again straight after its move.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from transitions import Machine

from workflow.domain.definition import ProcessDefinition, TransitionDef


class _Subject:
    """The transient model the shared machine moves; it lives for one command."""

    state: str


def _machine_kwargs(definition: ProcessDefinition) -> dict[str, Any]:
    transitions = [
        {
            "trigger": t.trigger,
            "source": t.source,
            "dest": t.dest,
            "conditions": [_is_chosen(t.index)],
        }
        for t in definition.transitions
    ]
    return {
        "states": list(definition.states),
        "transitions": transitions,
        "auto_transitions": False,
        "send_event": True,
        "ignore_invalid_triggers": False,
        "initial": definition.initial,
    }


def _is_chosen(index: int) -> Any:
    def condition(event: Any) -> bool:
        return bool(event.kwargs.get("chosen") == index)

    condition.__name__ = f"edge_{index}"
    return condition


class SharedMachine:
    def __init__(self, definition: ProcessDefinition) -> None:
        self.definition = definition
        self._machine = Machine(model=None, **_machine_kwargs(definition))
        self._lock = threading.Lock()
        self._moves: dict[tuple[str, int], str] = {}

    def advance(self, source: str, transition: TransitionDef) -> str:
        """Move a transient model along `transition`; returns the state transitions arrived in.

        The graph is fixed once built (definitions are frozen) and a move depends only on the
        source and the edge, so the first real move along an edge answers every later one:
        add_model/remove_model per command cost more than the rest of deciding a fire.
        """
        known = self._moves.get((source, transition.index))
        if known is not None:
            return known
        subject = _Subject()
        with self._lock:
            self._machine.add_model(subject, initial=source)
            try:
                moved = subject.trigger(transition.trigger, chosen=transition.index)  # type: ignore[attr-defined]
            finally:
                self._machine.remove_model(subject)
        if not moved:
            raise RuntimeError(f"state graph refused {transition.trigger} from {source}")
        self._moves[(source, transition.index)] = subject.state
        return subject.state


@lru_cache(maxsize=32)
def shared_machine(definition: ProcessDefinition) -> SharedMachine:
    return SharedMachine(definition)


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

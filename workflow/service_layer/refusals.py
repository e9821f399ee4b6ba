"""Refusals as people read them: reasons (data) rendered through the message catalog.

The domain says why with `Reason`s; the service layer raises `Refused` carrying both the
sentences (`reasons`, what the CLI prints) and the data (`details`: {code, params, text} each,
what JSON carries), so no caller has to read wording to know why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workflow.domain.case import Decision
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import Refused
from workflow.domain.reasons import Reason
from workflow.messages import render, with_text


def refused(message: str, reasons: Iterable[Reason], d: ProcessDefinition | None) -> Refused:
    rs = list(reasons)
    return Refused(message, reasons=[render(r, d) for r in rs], details=[with_text(r, d) for r in rs])


def decision_dict(decision: Decision, d: ProcessDefinition) -> dict[str, Any]:
    """A decision as JSON carries it: ids, labels, and each reason as {code, params, text}."""
    out = decision.as_dict(lambda r: with_text(r, d))
    tdef = d.triggers.get(decision.trigger)
    out["trigger_label"] = tdef.label if tdef is not None else decision.trigger
    out["dest_label"] = d.states[decision.dest].label if decision.dest in d.states else None
    if tdef is not None:
        out["params_label"] = {k: tdef.params[k].choice_label(v) for k, v in decision.params.items()
                               if k in tdef.params}
    return out

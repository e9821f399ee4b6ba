"""A refusal reason as data: a code and its parameters, never a sentence.

Guards, the case aggregate and the service layer say *why* with a `Reason`; people read it
through the message catalog (workflow.messages), which builds plain Dutch (or English) from the
definition's labels. Logic that needs to know why (the reminder planner asking "is this case only
waiting for the parents' consent?") compares codes and parameters, never wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def plain(value: Any) -> Any:
    """A parameter value as JSON holds it: tuples become lists, mappings plain dicts."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Reason:
    """Why a step may not be taken (or what it still needs). `params` hold ids and numbers;
    the catalog turns ids into labels when a person reads the reason."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": plain(self.params)}

    def __hash__(self) -> int:  # params hold lists and dicts: hash by code alone, compare whole
        return hash(self.code)

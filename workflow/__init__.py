"""passend: the engine that carries a pupil's support case through the process, with evidence.

`from workflow import Engine` is the Python API; it is imported lazily so that a CLI command
which does not need the database does not pay for SQLAlchemy's start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.service_layer.engine import Engine

__all__ = ["Engine"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from workflow.service_layer.engine import Engine

        return Engine
    raise AttributeError(name)

"""The fake's tables (dicts and lists behind one lock) and a unit of work's undo journal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from workflow.adapters.ports import RawEvent
from workflow.domain.errors import Said

LOST = Said("store.conflict.lost")  # as the SQL store says it (store.problems.LOST)
BATCH = 2_000  # raw rows per batch, as the SQL store's audit reads
_MISSING: Any = object()


class MemoryDatabase:
    """The tables, as dicts and lists, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.events: dict[str, list[RawEvent]] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.outbox: dict[int, dict[str, Any]] = {}
        self.outbox_keys: dict[str, int] = {}
        self.access: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.web_sessions: dict[str, dict[str, Any]] = {}
        self.signin_links: dict[str, dict[str, Any]] = {}
        self.signin_flows: dict[str, dict[str, Any]] = {}
        self.throttle: dict[str, dict[str, Any]] = {}
        self.parents: dict[str, Any] = {}  # ParentRow by id
        self.parent_links: dict[str, dict[str, Any]] = {}
        self.parent_sessions: dict[str, dict[str, Any]] = {}
        self.api_tokens: dict[str, Any] = {}  # name -> TokenRecord
        self.witness: list[Any] = []  # WitnessRoot, in id order
        self.witness_leaves: dict[str, list[tuple[int, int, str]]] = {}  # case -> (witness id, seq, hash)
        self.witness_timestamps: dict[int, Any] = {}
        # The work list (workflow.domain.worklist): case id -> (school, Worklist), only for cases
        # with a running clock or a consent they wait for; and what it was built for.
        self.worklists: dict[str, tuple[str, Any]] = {}
        self.read_models: dict[str, tuple[str, Any]] = {}


class Journal:
    """The undo steps of one unit of work, newest last."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        table[key] = value
        self.steps.append(lambda: table.__setitem__(key, old) if old is not _MISSING else table.pop(key, None))

    def delete(self, table: dict[Any, Any], key: Any) -> bool:
        """Remove `key` from `table`; whether it was there."""
        if key not in table:
            return False
        old = table.pop(key)
        self.steps.append(lambda: table.__setitem__(key, old))
        return True
    def pop(self, table: dict[Any, Any], key: Any) -> None:
        if key in table:
            old = table.pop(key)
            self.steps.append(lambda: table.__setitem__(key, old))

    def update(self, row: dict[str, Any], **values: Any) -> None:
        old = {k: row[k] for k in values}
        row.update(values)
        self.steps.append(lambda: row.update(old))

    def append(self, items: list[Any], item: Any) -> None:
        items.append(item)
        self.steps.append(items.pop)

    def undo(self) -> None:
        while self.steps:
            self.steps.pop()()


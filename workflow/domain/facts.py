"""What guards may look at: recorded evidence and the history of states, never plaintext secrets.

Guards read only the plain fields of evidence (kinds, outcomes, scopes, dates), so a refusal can be
checked, and an erased case can still be replayed, without decrypting anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fact:
    """One recorded piece of evidence, as the guards see it."""

    seq: int
    kind: str
    date: dt.date
    level: int | None
    state: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """The case entered `state` (and `level`) with the event numbered `seq`."""

    seq: int
    state: str
    level: int | None
    date: dt.date


@dataclass
class CaseFacts:
    state: str
    level: int | None
    facts: list[Fact] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    previous_state: str | None = None

    def last_entry(self, state: str | None = None) -> Entry | None:
        for e in reversed(self.entries):
            if state is None or e.state == state:
                return e
        return None

    def level_entry(self) -> Entry | None:
        """The entry that began the current unbroken stretch at the current level."""
        found: Entry | None = None
        for e in reversed(self.entries):
            if e.level != self.level:
                break
            found = e
        return found

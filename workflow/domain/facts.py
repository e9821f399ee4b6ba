"""What guards may look at: recorded evidence and the history of states, never plaintext secrets.

Guards read only the plain fields of evidence (kinds, outcomes, scopes, dates), so a refusal can be
checked, and an erased case can still be replayed, without decrypting anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
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
    # An imported case (event `imported`) entered its state on one day and its level on an
    # earlier one: evidence counts for the level from this day on.
    level_date: dt.date | None = None


@dataclass(frozen=True)
class OppVersion:
    """One version of the OPP document, as guards see it: which parts it holds and its hashes
    (never its text: that stays sealed)."""

    seq: int
    version: int
    date: dt.date
    hash: str
    handelingsdeel_hash: str
    parts: frozenset[str]
    goals: int


@dataclass
class CaseFacts:
    """What the guards read of a case: its state, level and the facts recorded so far."""

    state: str
    level: int | None
    facts: list[Fact] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    previous_state: str | None = None
    opp_versions: list[OppVersion] = field(default_factory=list)

    def opp_version(self, number: int | None = None) -> OppVersion | None:
        """The OPP version `number`, or the newest; None when there is none."""
        if number is None:
            return self.opp_versions[-1] if self.opp_versions else None
        return next((v for v in self.opp_versions if v.version == number), None)

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
        if found is not None and found.level_date is not None:
            return replace(found, date=found.level_date)
        return found

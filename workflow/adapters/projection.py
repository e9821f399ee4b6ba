"""What every store implementation shares about a case: its `cases` projection row, and how its
stored events are folded back into it.

One function each for the SQL store and the in-memory fake, so both summarise and refuse alike:
the projection is what `case list`, the planner's due-work scan and `audit replay` read, and a
fake that summarised differently would let a service test pass that the real store fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workflow.adapters.port_values import LOOK_NOW
from workflow.domain.errors import IntegrityError, NotFound, Said

if TYPE_CHECKING:
    from workflow.domain.case import Case
    from workflow.domain.events import Event
    from workflow.domain.worklist import Worklist


def projection_values(case: Case, now: dt.datetime, worklist: Worklist | None = None) -> dict[str, Any]:
    """Every column of the case's `cases` row but `pupil_index` (set only when it is opened);
    `worklist`: the case's derived work list, when the store keeps one."""
    evs = case.events
    last = evs[-1]
    entered = case.facts.entries[-1].seq if case.facts.entries else 1
    # Folded events are consecutive (Case.apply refuses a gap), so the entry is found by
    # position; scanning for it cost more than the rest of this row on a long history.
    at = entered - evs[0].seq
    if 0 <= at < len(evs) and evs[at].seq == entered:
        entered_at = evs[at].recorded_at
    else:
        entered_at = next((e.recorded_at for e in evs if e.seq == entered), last.recorded_at)
    return {
        "case_id": case.case_id,
        "school": case.school,
        "school_group": case.group,
        "state": case.state,
        "level": case.level,
        "process_id": case.process_id,
        "process_version": case.process_version,
        "version": case.version,
        "head_hash": case.head_hash,
        "opp_active": case.opp_active,
        "opened_at": case.opened_at,
        "state_entered_at": entered_at,
        "updated_at": now,
        "closed_at": case.closed_at,
        "close_reason": case.close_reason,
        # A closed case has nothing more to remind of, unless a clock of it outlives it (an OPP
        # date still to register in ROD: DeadlineDef.outlives_case), which its work list shows.
        "next_action_on": LOOK_NOW if not case.closed or (worklist is not None and worklist.deadlines) else None,
        "planned_on": None,
    }


def fold(case_id: str, read: Callable[[str], list[Event]]) -> Case | None:
    """The case folded from the events `read` returns; None when it has none. Events that do not
    fold (a payload that is no JSON, misses a key, or leaves a state the case is not in) raise
    IntegrityError: the store was changed around the engine, and no command may act on it.

    The domain's Case is imported when a case is first folded, so that a store opened only to
    read its rows (`audit verify`) does not load the process model (about 40 ms of start-up);
    then it is kept, since an import statement in here cost 0.5% of a `fire` (bench cpu)."""
    from_events = (_FROM_EVENTS or _load_from_events())[0]
    try:
        evs = read(case_id)
        return from_events(evs) if evs else None
    except (ValueError, KeyError, TypeError, AttributeError, NotFound) as exc:
        raise IntegrityError(Said("store.projection.unreadable", case_id=case_id, error=type(exc).__name__)) from exc


_FROM_EVENTS: list[Callable[[list[Event]], Case]] = []


def _load_from_events() -> list[Callable[[list[Event]], Case]]:
    from workflow.domain.case import Case

    _FROM_EVENTS.append(Case.from_events)
    return _FROM_EVENTS

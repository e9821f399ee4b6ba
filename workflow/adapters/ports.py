"""The ports: what the service layer may ask of storage, and nothing more.

Each is a `typing.Protocol`, so an implementation needs no base class, only the methods. There
are two implementations of every port, wired by `workflow.bootstrap`:

- the SQL store, `workflow.adapters.store` (SQLite and PostgreSQL; every difference between the
  two dialects is handled there and nowhere else);
- the in-memory fake, `workflow.adapters.memory`, for the service layer's unit tests and for
  trying things out (`memory://` as the database URL); nothing survives the process.

Both honour the same contract, checked by the same assertions (tests/test_port_contracts.py):
version conflicts, one open case per pupil, outbox keys that are never planned twice, claims
with a token and a lease, and the access log's hash chain.

The ports:

- `EventStore` (a unit of work's `store`): a case's events, appended with the version the
  command read, the projection kept in the same transaction; the wrapped data keys; the raw,
  stored form of the events for the audit's walks.
- `CaseReadModel` (a unit of work's `cases`): the `cases` projection: one open case per pupil,
  the case list, the planner's due work and its write-back, closed cases for retention.
- `AccessLog` (a unit of work's `access_log`): the hash-chained record of who read which case.
- `Outbox` (the store's `outbox`): the reminder queue. Each of its operations is one short
  transaction of its own, on purpose: a claim must be committed before its rows are sent, and
  a row marked sent straight after its send, so no outbox step may wait for another's commit.
- `UnitOfWork`: one transaction, all or nothing, exposing the three repositories above.
- `Store`: what the composition root hands the services: units of work, the outbox, and the
  store's own upkeep (schema, scrubbing after an erasure, closing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from workflow.adapters.access_chain import AccessChainReport
    from workflow.adapters.files import PrivateFiles
    from workflow.adapters.readmodels import AccessRecord, CaseSummary, OutboxMessage
    from workflow.domain.case import Case
    from workflow.domain.events import Event

__all__ = [
    "FAILED", "LOOK_NOW", "PENDING", "SENDING", "SENT", "AccessLog", "CaseHead", "CaseReadModel",
    "Claim", "ClosedCase", "EventStore", "Holder", "Mark", "NewCase", "Outbox", "OutboxBody", "OutboxHead",
    "Projection", "RawEvent", "Store", "UnitOfWork",
]

# An event as stored: case_id, seq, type, process_id, process_version, actor, role, recorded_at,
# payload, prev_hash, hash. The time is the stored text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), the
# payload the stored JSON text; on SQLite the text columns may come as UTF-8 bytes (`as_bytes`).
# A tampered row may hold anything: the audit reads it as it is.
RawEvent = tuple[Any, ...]
RAW_EVENT_COLUMNS = ("case_id", "seq", "type", "process_id", "process_version", "actor", "role",
                     "recorded_at", "payload", "prev_hash", "hash")


# Any write may change a case's deadlines, so it hands the case back to the reminder planner:
# next_action_on = LOOK_NOW ("plan it at the next tick"), planned_on = NULL. The planner folds it
# once, plans what is due and stores the real date (workflow.service_layer.reminders.work).
# Computing the date in the store would need the school calendar, which is configuration.
LOOK_NOW = dt.date(1970, 1, 1)

# An outbox row's status: planned and waiting, claimed by a sender, sent, or given up on.
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


class NewCase(NamedTuple):
    """A case built in memory from its events, ready for `EventStore.import_new_cases`."""

    case: Case
    pupil_index: str | None
    wrapped_key: bytes


class Projection(NamedTuple):
    """A `cases` row as `audit replay` compares it with what the events prove."""

    case_id: str
    school: str
    school_group: int | None
    state: str
    level: int | None
    process_id: str
    process_version: int
    version: int
    head_hash: str
    opp_active: bool
    closed_at: dt.datetime | None
    close_reason: str | None
    next_action_on: dt.date | None
    planned_on: dt.date | None


class CaseHead(NamedTuple):
    """A case's school and the head of its chain as the projection has it (an export's check)."""

    school: str
    version: int
    head_hash: str


class ClosedCase(NamedTuple):
    """A closed case whose key still exists (retention)."""

    case_id: str
    school: str
    closed_at: dt.datetime
    close_reason: str | None


@dataclass(frozen=True)
class Mark:
    """What a planner's tick learned about one case: write it back if the case is still at `version`."""

    case_id: str
    version: int
    next_action_on: dt.date | None
    planned_on: dt.date


class OutboxHead(NamedTuple):
    """A claimed row: enough to decide, log, mark and address it; its texts stay behind."""

    id: int
    kind: str
    case_id: str | None
    deadline: str | None
    to_addrs: str
    message_id: str
    attempts: int
    created_at: dt.datetime
    sender: str | None = None  # fixed at planning (a school's `from`); None: the notifier's own


# Who holds a claim: the machine's host name and the process id (a restart releases its own).
Holder = tuple[str, int]


class OutboxBody(NamedTuple):
    """One claimed row's subject, texts and calendar file, read just before its send."""

    subject: str
    body_text: str
    body_html: str | None
    ics: str | None


@dataclass(frozen=True)
class Claim:
    token: str
    rows: list[OutboxHead]  # heads only, in id order
    until: dt.datetime


class EventStore(Protocol):
    def load(self, case_id: str) -> Case | None:
        """The case folded from its events; None when it has none. Events that do not fold
        raise IntegrityError (exit 5): no command may act on a history changed around it."""

    def events_of(self, case_id: str) -> list[Event]: ...

    def append(self, case: Case, new: Sequence[Event], *, expected_version: int,
               pupil_index: str | None = None, now: dt.datetime) -> None:
        """Store `new` (already folded into `case`) and bring the projection up to date, only if
        the case is still at `expected_version` (0: a new case), else Conflict. A new case whose
        pupil has an open case already conflicts too, at the latest when the unit commits."""

    def put_key(self, case_id: str, wrapped: bytes, now: dt.datetime) -> None: ...

    def wrapped_key(self, case_id: str) -> bytes | None:
        """The case's wrapped data key; None when it was destroyed (or never made)."""

    def destroy_key(self, case_id: str, now: dt.datetime) -> None:
        """Erase the wrapped key for good (its bytes overwritten where the store can)."""

    def import_new_cases(self, batch: Sequence[NewCase]) -> None:
        """Bulk-load whole new cases (demo populations, benchmarks): events, row and key."""

    def raw_batches(self, *, schools: Sequence[str] | None = None, case_id: str | None = None,
                    case_ids: Sequence[str] | None = None, since: dt.datetime | None = None,
                    as_bytes: bool = False) -> Iterator[list[RawEvent]]:
        """The stored events, in (case id bytewise, seq) order, a batch at a time, inside this
        unit's snapshot; only those of `schools`' cases, of `case_id` or `case_ids`, or recorded
        `since`. The generator may be closed early. A store without its tables raises the
        database's own error."""


class CaseReadModel(Protocol):
    def find_open(self, pupil_index: str) -> str | None: ...

    def get(self, case_id: str) -> Projection | None: ...

    def summaries(self, *, schools: Sequence[str] | None, state: str | None) -> Iterator[CaseSummary]:
        """The case list in (school, opened_at, case_id) order, streamed."""

    def projections(self, schools: Sequence[str] | None) -> Iterator[Projection]:
        """Every case's row (or `schools`' cases'), in case id order (bytewise), streamed."""

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """(case_id, version, head_hash) of every case, in case id order (bytewise), streamed."""

    def heads_of(self, case_ids: Sequence[str]) -> dict[str, CaseHead]: ...

    def open_ids(self, *, after: str, size: int) -> list[str]:
        """Ids of open cases after `after`, in id order: one page of a keyset scan."""

    def due_by_next_action(self, *, through: dt.date, after: tuple[dt.date, str], size: int
                           ) -> list[tuple[dt.date, str]]:
        """(next_action_on, case_id) of the cases whose next action day is at most `through`,
        after the key `after`, in key order: one page (an index range)."""

    def due_by_planned(self, *, today: dt.date, through: dt.date, after: tuple[dt.date, str], size: int
                       ) -> list[tuple[dt.date, str]]:
        """(planned_on, case_id) of the cases planned beyond `today` that the first range does
        not return (next action day NULL or after `through`), after `after`: one page."""

    def due_among(self, case_ids: Sequence[str], *, through: dt.date, today: dt.date) -> set[str]:
        """Those of `case_ids` the two ranges above would return."""

    def write_back(self, marks: Sequence[Mark]) -> int:
        """Store each case's next action day, only at the version it was folded at and never
        moving `planned_on` backwards; returns how many rows took it."""

    def closed_unerased(self, *, school: str | None = None) -> Iterator[ClosedCase]:
        """Closed cases whose key was not destroyed, by (closed_at, case_id)."""

    def forget_pupil(self, case_id: str) -> None:
        """Clear the pupil index of an erased case (the pupil can no longer be found by it)."""

    def id_prefix_taken(self, prefix: str) -> bool:
        """Whether any case id starts with `prefix` (the population generator's numbering)."""


class AccessLog(Protocol):
    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Seal each record (workflow.adapters.access_chain.FIELDS) into the chain and store it,
        under the log's append lock until the unit ends; `records` may be a stream. Returns how
        many were written."""

    def of_case(self, case_id: str) -> list[AccessRecord]:
        """The case's records, oldest first."""

    def head(self) -> dict[str, Any]:
        """{"records": n, "head_hash": h}: the log's size and newest hash (64 zeros when empty)."""

    def walk(self, *, progress: Callable[[int], None] | None = None,
             anchor: str | None = None) -> AccessChainReport:
        """Check the whole chain in id order, in this unit's snapshot (access_chain.check)."""


class UnitOfWork(Protocol):
    """One transaction: everything a command reads and writes, committed together or not at all.

    Leaving the block without `commit()` rolls back. A unit may commit and go on; what it writes
    afterwards is a new transaction. Database errors that mean "someone else wrote first" become
    a Conflict (exit 4)."""

    @property
    def store(self) -> EventStore:
        """The event store."""

    @property
    def cases(self) -> CaseReadModel:
        """The case read model (the `cases` projection)."""

    @property
    def access_log(self) -> AccessLog: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Outbox(Protocol):
    def insert_new(self, rows: Iterable[dict[str, Any]], now: dt.datetime) -> int:
        """Insert the rows whose `key` is not in the outbox yet; returns how many were new."""

    def existing_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> status for those of `keys` already in the outbox."""

    def claim(self, *, now: dt.datetime, batch: int, lease: dt.timedelta,
              cutoff: dt.datetime | None = None, holder: Holder | None = None) -> Claim:
        """Take up to `batch` rows due by `cutoff` (or whose sender's lease ran out) under a new
        token until now + lease; two claimants never get the same row while its lease runs.
        The rows name their `holder` (default: this host and process)."""

    def release_orphans(self, host: str, alive: Callable[[int], bool]) -> int:
        """Claims of `host` whose process is not `alive` (a service that died) back to pending,
        without waiting for their lease; their attempt stays counted (it may have been sent).
        Returns how many."""

    def load_body(self, row_id: int, token: str) -> OutboxBody | None:
        """One row's texts, or None when the row is no longer claimed with `token`."""

    def renew(self, row_id: int, token: str, until: dt.datetime) -> bool: ...

    def renew_all(self, token: str, until: dt.datetime) -> int: ...

    def release(self, token: str) -> int:
        """Hand back the claim's untried rows: pending again, no attempt counted."""

    def mark_sent(self, row_id: int, token: str, now: dt.datetime) -> bool: ...

    def mark_failed(self, row_id: int, token: str, *, error: str, retry_at: dt.datetime | None) -> bool:
        """Pending again at `retry_at`, or `failed` when it is None; False if not ours."""

    def retry_failed(self, now: dt.datetime, ids: Sequence[int] | None = None, *, actor: str | None = None) -> int:
        """Failed rows (all, or exactly `ids`: else BadInput and nothing changes) pending again,
        each noting who retried it (`retried_by`) and when (`retried_at`)."""

    def clear_sent_bodies(self, *, before: dt.datetime, limit: int = ...) -> int:
        """Clear the texts of up to `limit` rows sent before `before`, oldest first."""

    def rows(self, *, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        """The newest rows first, without their texts."""

    def counts(self) -> dict[str, int]:
        """status -> number of rows."""


class Store(Protocol):
    @property
    def outbox(self) -> Outbox: ...

    @property
    def read_only(self) -> bool:
        """The store cannot be written (a read-only copy): reads that must leave an access
        record refuse unless the records go elsewhere (`--access-log`)."""

    def check(self) -> None:
        """Refuse, with one clear line, a store whose schema is not this version's (not set up,
        older, newer)."""

    def events_appended(self) -> int:
        """How many events were ever appended (the highest event number: events are never
        deleted), read cheaply for the health metrics."""

    def uow(self, *, write: bool = True) -> UnitOfWork:
        """A unit of work; `write=False` promises it will not write (SQLite takes no lock)."""

    def init(self) -> list[str]:
        """Create or upgrade the schema; returns what it is at now (migration heads)."""

    def scrub(self) -> None:
        """Push destroyed keys' old bytes out of logs and free pages now, not some day."""

    def backup(self, target: Path, files: PrivateFiles) -> None:
        """A consistent copy of the whole store in the new file `target`, private; BadInput
        (with what to do instead) where the store cannot do it itself (PostgreSQL, memory)."""

    def dispose(self) -> None:
        """Close every connection the store holds."""

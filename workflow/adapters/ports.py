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
- `Users` (a unit of work's `users`): who may act, with which role for which schools, their
  e-mail address and the TOTP state of their authenticator; disabling a user and ending their
  web sessions (`WebSessions`) happen in one unit.
- `WebSessions`, `SigninLinks`, `OidcFlows`, `Throttle` (a unit of work's `web_sessions`,
  `signin_links`, `oidc_flows`, `throttle`): the web sign-in's state, found by the keyed hash of
  a token (never the token itself), so any number of `passend web` processes share it.
- `Parents` (a unit of work's `parents`): the parents and guardians on a case (name and address
  sealed with the case's key) and their own sign-in links and sessions, found by keyed hash.
- `UserLookup` (the store's `users`): the acting user of a command, read outside any unit of
  work: every command asks it first, so it is the one read kept as cheap as the store can make it.
- `WitnessLog` (a unit of work's `witness`): the daily roots over every case's head that are
  sent to witnesses outside the store, the leaves each root holds, the RFC 3161 tokens.
- `UnitOfWork`: one transaction, all or nothing, exposing the repositories above.
- `Store`: what the composition root hands the services: units of work, the outbox, the acting
  user's lookup, and the store's own upkeep (schema, scrubbing after an erasure, closing).

The rules (validation, config.toml's import, how long a link or session lives, what a TOTP code
must be) are the service layer's; a port only keeps and finds rows, atomically where two
requests may race (a link used once, a flow taken once, a throttle counted under a lock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypedDict

from workflow.adapters.config import User
from workflow.adapters.port_values import LOOK_NOW, Acting

if TYPE_CHECKING:
    from pathlib import Path

    from workflow.adapters.access_chain import AccessChainReport
    from workflow.adapters.files import PrivateFiles
    from workflow.adapters.readmodels import AccessRecord, CaseSummary, OutboxMessage
    from workflow.domain.case import Case
    from workflow.domain.events import Event
    from workflow.domain.worklist import Worklist

__all__ = [
    "FAILED",
    "LOOK_NOW",
    "PENDING",
    "SENDING",
    "SENT",
    "AccessLog",
    "Acting",
    "ApiTokens",
    "CaseHead",
    "CaseProcess",
    "CaseReadModel",
    "CaseloadQuery",
    "CaseloadRow",
    "Claim",
    "ClosedCase",
    "DeadlineLine",
    "Derive",
    "EventStore",
    "FlowRow",
    "Holder",
    "LinkRow",
    "Mark",
    "NewCase",
    "OidcFlows",
    "Outbox",
    "OutboxBody",
    "OutboxHead",
    "Projection",
    "RawEvent",
    "SessionRow",
    "SigninLinks",
    "Store",
    "Throttle",
    "TokenRecord",
    "TotpState",
    "UnitOfWork",
    "UserChanges",
    "UserLookup",
    "UserRecord",
    "Users",
    "WaitingLine",
    "WebSessions",
    "WitnessLeaf",
    "WitnessLog",
    "WitnessRoot",
    "WitnessTimestamp",
]

# An event as stored: case_id, seq, type, process_id, process_version, actor, role, recorded_at,
# payload, prev_hash, hash. The time is the stored text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), the
# payload the stored JSON text; on SQLite the text columns may come as UTF-8 bytes (`as_bytes`).
# A tampered row may hold anything: the audit reads it as it is.
RawEvent = tuple[Any, ...]
RAW_EVENT_COLUMNS = ("case_id", "seq", "type", "process_id", "process_version", "actor", "role",
                     "recorded_at", "payload", "prev_hash", "hash")



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


# How a store computes a case's work list (workflow.domain.worklist.Deriver, wired by the
# bootstrap): called by every append with the case as it now is.
Derive = Callable[["Case"], "Worklist"]


class DeadlineLine(NamedTuple):
    """One running clock of one case, as the work list keeps it (`case_deadlines`)."""

    case_id: str
    school: str
    deadline: str
    anchor: str
    started_on: dt.date
    due_on: dt.date  # as of the case's last event; a paused clock's moves on daily (paused_left)
    soon_on: dt.date
    lead_days: int
    paused_left: int | None


class WaitingLine(NamedTuple):
    """A case that waits only for the parents' consent, and for which scopes."""

    case_id: str
    school: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class CaseloadQuery:
    """The caseload's filters for one school; every one optional. `deadline`: the case's
    deadline status on `today` (its most urgent clock's): ok, soon, overdue, or "none"; or
    "week": a clock of the case runs out in the seven days from `today`."""

    school: str
    today: dt.date
    states: tuple[str, ...] | None = None
    group: int | None = None
    deadline: str | None = None
    waiting: bool = False
    open_only: bool = True
    pupil_index: str | None = None


class CaseloadRow(NamedTuple):
    """One case on a caseload page (no personal data); the key is (opened_at, case_id)."""

    case_id: str
    school: str
    group: int | None
    state: str
    level: int | None
    version: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None


class PlannedRow(NamedTuple):
    """A planned reminder or escalation as `reminders due` reads it back from the outbox."""

    case_id: str
    kind: str
    key: str
    school: str
    send_on: dt.date
    due_on: dt.date | None


class CaseListRow(NamedTuple):
    """One case in the case list (`case list`), read straight from the `cases` row: the fields
    of readmodels.CaseSummary without building one (a pydantic model per row, and importing
    sqlmodel, cost more than the whole read)."""

    case_id: str
    school: str
    group: int | None
    state: str
    level: int | None
    version: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    close_reason: str | None
    process: str

    def as_dict(self) -> dict[str, Any]:
        """CaseSummary.as_dict's form, byte for byte."""
        return {
            "case_id": self.case_id, "school": self.school, "group": self.group, "state": self.state,
            "level": self.level, "version": self.version, "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "close_reason": self.close_reason, "process": self.process,
        }


class CaseHead(NamedTuple):
    """A case's school and the head of its chain as the projection has it (an export's check)."""

    school: str
    version: int
    head_hash: str


class CaseProcess(NamedTuple):
    """A case's school and the definition version it runs on, as its `cases` row has them, and
    when its latest event was recorded: what the planner needs to read a case's clocks from the
    work list without folding it."""

    school: str
    process_id: str
    process_version: int
    last_event_at: dt.datetime | None  # aware UTC; None: no event (or an unreadable time)


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
    """Outbox rows claimed by one dispatcher until `until`."""

    token: str
    rows: list[OutboxHead]  # heads only, in id order
    until: dt.datetime


# ---- people and sign-in ----------------------------------------------------------------------

@dataclass(frozen=True)
class UserRecord:
    """A user as stored: the acting `User` plus what only management and sign-in need."""

    id: str
    name: str
    role: str
    schools: tuple[str, ...]
    email: str | None  # lower-case; one user per address
    managed: str  # "config" (config.toml decides its fields at every init) or "cli"
    disabled_at: dt.datetime | None
    totp_enrolled: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def as_user(self) -> User:
        return User(self.id, self.role, self.schools, self.name, self.email)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "role": self.role, "schools": list(self.schools),
            "email": self.email, "managed": self.managed, "active": self.active,
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "totp": self.totp_enrolled,
        }


class UserChanges(TypedDict, total=False):
    """The fields `Users.update` may set; a key left out keeps its value."""

    name: str
    role: str
    schools: tuple[str, ...]
    email: str | None
    managed: str


class TotpState(NamedTuple):
    """A user's authenticator: the secret (sealed with the master key) being enrolled or
    enrolled, when the first right code confirmed it, and the time step of the last code taken."""

    secret: bytes | None
    enrolled_at: dt.datetime | None
    last_step: int | None


class SessionRow(NamedTuple):
    """A web session with its user as the users table has them now."""

    id: str
    user: User
    user_active: bool
    stage: str  # "code" (a link was used, the TOTP code is still due) or "full"
    method: str  # "link" or "oidc"
    csrf: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


class LinkRow(NamedTuple):
    """A sign-in link, and whether its user may still sign in."""

    user_id: str
    expires_at: dt.datetime
    used_at: dt.datetime | None
    user_active: bool


class FlowRow(NamedTuple):
    """An OpenID Connect sign-in in progress."""

    nonce: str
    verifier: str
    browser: str
    expires_at: dt.datetime


class ParentRow(NamedTuple):
    """A parent or guardian on a case; `name` and `email` sealed with the case's key."""

    id: str
    case_id: str
    school: str
    name: str
    email: str
    added_by: str
    added_at: dt.datetime
    removed_at: dt.datetime | None


class ParentLinkRow(NamedTuple):
    """A parent's sign-in link, with its parent row (removed or not)."""

    parent: ParentRow
    expires_at: dt.datetime
    used_at: dt.datetime | None


class ParentSessionRow(NamedTuple):
    """A parent's session, with its parent row as it is now."""

    id: str
    parent: ParentRow
    csrf: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored: who it acts as (one role, some schools), never its secret."""

    name: str
    token_hash: str  # the keyed hash of the secret (KeyRing.token_hash)
    role: str
    schools: tuple[str, ...]
    created_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        """What `passend token list` shows: everything but the hash."""
        def at(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"name": self.name, "role": self.role, "schools": list(self.schools), "created_by": self.created_by,
                "created_at": self.created_at.isoformat(), "revoked_at": at(self.revoked_at),
                "last_used_at": at(self.last_used_at), "active": self.active}


class EventStore(Protocol):
    def load(self, case_id: str, *, first: Callable[[], object] | None = None) -> Case | None:
        """The case folded from its events; None when it has none. Events that do not fold
        raise IntegrityError (exit 5): no command may act on a history changed around it.
        `first` is called once the events have been read and before they are folded (the
        acting user's judgement, whose read travelled with them: `Users.acting_later`)."""

    def events_of(self, case_id: str) -> list[Event]: ...

    def append(self, case: Case, new: Sequence[Event], *, expected_version: int,
               pupil_index: str | None = None, now: dt.datetime) -> None:
        """Store `new` (already folded into `case`) and bring the projection and the case's work
        list rows up to date, only if the case is still at `expected_version` (0: a new case),
        else Conflict. A new case whose pupil has an open case already conflicts too, at the
        latest when the unit commits."""

    def put_key(self, case_id: str, wrapped: bytes, now: dt.datetime) -> None: ...

    def wrapped_key(self, case_id: str) -> bytes | None:
        """The case's wrapped data key; None when it was destroyed (or never made)."""

    def destroy_key(self, case_id: str, now: dt.datetime) -> None:
        """Erase the wrapped key for good (its bytes overwritten where the store can)."""

    def import_new_cases(self, batch: Sequence[NewCase]) -> None:
        """Bulk-load whole new cases (demo populations, benchmarks): events, row and key (and
        their work list rows)."""

    def refresh_worklist(self, case: Case) -> None:
        """Bring the case's work list rows up to date with the case as folded (a rebuild);
        appends do this themselves."""

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

    def case_page(self, *, schools: Sequence[str] | None, state: str | None, after: Any, size: int
                  ) -> tuple[list[CaseListRow], Any]:
        """One page of the case list, in `summaries`' order, after the key `after` (None: from
        the start), read from the index on (school, opened_at, case_id): the rows and the key
        to ask for the next page with (None: this was the last). The key is opaque."""

    def projections(self, schools: Sequence[str] | None) -> Iterator[Projection]:
        """Every case's row (or `schools`' cases'), in case id order (bytewise), streamed."""

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """(case_id, version, head_hash) of every case, in case id order (bytewise), streamed."""

    def heads_of(self, case_ids: Sequence[str]) -> dict[str, CaseHead]: ...

    def processes_of(self, case_ids: Sequence[str]) -> dict[str, CaseProcess]:
        """The school, definition version and latest event's time of each of `case_ids` (one
        absent: no such case)."""

    def open_ids(self, *, after: str, size: int) -> list[str]:
        """Ids of the cases the planner and the work list follow, after `after`, in id order (one
        page of a keyset scan): the open cases, and closed ones that still have a next action day
        (a clock that outlives the case: an OPP date to register in ROD)."""

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

    def closed_unerased(self, *, school: str | None = None,
                        closed_before: dt.datetime | None = None) -> Iterator[ClosedCase]:
        """Closed cases whose key was not destroyed, by (closed_at, case_id); with
        `closed_before`, only those closed before it (an index range: the ones old enough to be
        due for erasure)."""

    def forget_pupil(self, case_id: str) -> None:
        """Clear the pupil index of an erased case (the pupil can no longer be found by it)."""

    def id_prefix_taken(self, prefix: str) -> bool:
        """Whether any case id starts with `prefix` (the population generator's numbering)."""

    # ---- the work list (workflow.domain.worklist; written by the event store's appends) ----
    def deadline_lines(self, school: str, *, today: dt.date, since: dt.date | None, through: dt.date,
                       limit: int) -> tuple[list[DeadlineLine], int]:
        """The school's running clocks whose due date, as it reads on `today`, lies from `since`
        (None: any day) through `through`, by due date and case; at most `limit`, and how many
        there are in all."""

    def waiting_lines(self, school: str, *, limit: int) -> tuple[list[WaitingLine], int]:
        """The school's cases that wait only for the parents' consent (case order), at most
        `limit`, and how many in all."""

    def caseload(self, query: CaseloadQuery, *, after: tuple[dt.datetime, str] | None,
                 before: tuple[dt.datetime, str] | None, size: int) -> list[CaseloadRow]:
        """One page of the school's cases that pass the filters, newest first ((opened_at,
        case_id) descending): those after the key `after`, or, with `before`, the `size` just
        before that key (returned newest first too). An index range per page."""

    def worklists(self, case_ids: Sequence[str]) -> dict[str, Worklist]:
        """The stored work list of each of `case_ids` (a case without rows: absent)."""

    def state_counts(self, school: str) -> dict[str, int]:
        """How many of the school's cases are in each state (closed ones too: the caller knows
        which states are final), counted on the (school, state) index; absent: none."""

    def worklist_built(self) -> str | None:
        """What the work list rows were last built for (Deriver.fingerprint); None: never."""

    def rebuild_worklist_begin(self) -> None:
        """Drop every work list row and the mark (a rebuild follows)."""

    def mark_worklist_built(self, fingerprint: str, now: dt.datetime) -> None: ...


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


class Users(Protocol):
    """The users table, in a unit of work. Ids and addresses are unique: an insert or update that
    would give an address to a second user conflicts (Conflict, at the latest when the unit
    commits)."""

    def get(self, user_id: str) -> UserRecord | None: ...

    def acting_later(self, user_id: str) -> Callable[[], Acting | None]:
        """`UserLookup.acting`'s read in this unit's transaction, asked now and answered when
        the returned function is called. On PostgreSQL it waits for the unit's next statement
        (the case's events) and travels with it: the acting user costs no round trip of its own,
        and is read fresh for every command, so a user disabled or given another role a moment
        ago is judged as they are now."""

    def by_email(self, email: str) -> UserRecord | None:
        """The user with exactly this (lower-case) address, or None."""

    def all(self) -> list[UserRecord]:
        """Every user, active or not, by id."""

    def insert(self, *, user_id: str, name: str, role: str, schools: Sequence[str], email: str | None,
               managed: str, now: dt.datetime) -> None: ...

    def update(self, user_id: str, changes: UserChanges, *, now: dt.datetime) -> bool:
        """Set `changes` (and updated_at); False when there is no such user."""

    def set_disabled(self, user_id: str, disabled_at: dt.datetime | None, *, now: dt.datetime) -> bool:
        """Disable (at `disabled_at`) or enable (None) the user; False when there is no such
        user. Their web sessions are the service's to end, in the same unit."""

    def totp(self, user_id: str) -> TotpState | None:
        """The user's authenticator state; None when there is no such user."""

    def set_totp_secret(self, user_id: str, sealed: bytes) -> None:
        """Keep the secret being enrolled (not yet confirmed by a code)."""

    def accept_totp(self, user_id: str, step: int, *, now: dt.datetime) -> None:
        """A right code of time step `step` was taken: keep the step, and enrol the secret if
        this was its first code."""

    def reset_totp(self, user_id: str, *, now: dt.datetime) -> bool:
        """Forget the authenticator (secret, enrolment, last step); False when there is no such user."""


class ApiTokens(Protocol):
    """The API tokens, in a unit of work. Names and hashes are unique: a second token with either
    conflicts (Conflict, at the latest when the unit commits)."""

    def get(self, name: str) -> TokenRecord | None: ...

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        """The token whose secret hashes to `token_hash` (revoked or not), or None."""

    def acting_later(self, name: str) -> Callable[[], TokenRecord | None]:
        """`get`, asked now and answered when the returned function is called: a command's
        acting token, read in its own transaction and, on PostgreSQL, with its next statement
        (as `Users.acting_later` reads a person)."""

    def all(self) -> list[TokenRecord]:
        """Every token, revoked or not, by name."""

    def insert(self, record: TokenRecord) -> None: ...

    def revoke(self, name: str, now: dt.datetime) -> bool:
        """Revoke the token at `now`; False when there is no such token or it was revoked already."""

    def touch(self, name: str, now: dt.datetime) -> None:
        """Note that the token was used at `now`."""


class UserLookup(Protocol):
    def acting(self, user_id: str) -> Acting | None:
        """The user `user_id` and whether they are active, or None when unknown: one read by
        primary key outside any unit of work, on a connection the store keeps for it."""

    def token(self, token_hash: str) -> TokenRecord | None:
        """The API token whose secret hashes to `token_hash` (revoked or not), or None: the
        bearer of an API request, read as `acting` reads a user."""


class WebSessions(Protocol):
    def add(self, *, session_id: str, user_id: str, stage: str, method: str, csrf: str, now: dt.datetime,
            expires_at: dt.datetime) -> None: ...

    def get(self, session_id: str) -> SessionRow | None:
        """The session with its user; None when there is no such session (or no such user)."""

    def touch(self, session_id: str, now: dt.datetime) -> None:
        """Note that the session was used at `now` (its idle time starts again)."""

    def promote(self, session_id: str, *, new_id: str, csrf: str, now: dt.datetime,
                expires_at: dt.datetime) -> bool:
        """The session in stage "code" becomes "full" under `new_id` (the old id is gone), once:
        False when it is not (or no longer) a "code" session."""

    def end(self, session_id: str) -> None: ...

    def end_user(self, user_id: str) -> int:
        """End every session of the user; returns how many there were."""

    def purge(self, *, now: dt.datetime) -> int:
        """Delete the sessions past their absolute end."""


class SigninLinks(Protocol):
    def add(self, *, link_id: str, user_id: str, now: dt.datetime, expires_at: dt.datetime) -> None: ...

    def get(self, link_id: str) -> LinkRow | None:
        """The link with its user's state; None when unknown (or its user is gone)."""

    def use(self, link_id: str, now: dt.datetime) -> bool:
        """Mark the link used, only if it was not used yet: of two requests, exactly one gets True."""

    def purge(self, *, before: dt.datetime) -> int:
        """Delete the links that expired before `before`."""


class OidcFlows(Protocol):
    def add(self, *, flow_id: str, nonce: str, verifier: str, browser: str, now: dt.datetime,
            expires_at: dt.datetime) -> None: ...

    def take(self, flow_id: str) -> FlowRow | None:
        """Delete the flow and return it, once: of two requests, only one gets the row."""

    def purge(self, *, now: dt.datetime) -> int:
        """Delete the flows past their end."""


class Throttle(Protocol):
    """Counters against guessing, one per key: when its window began, how many attempts it holds.
    The counting rule (a fixed window) is the service's; the store makes it race-free."""

    def get(self, key: str) -> tuple[dt.datetime, int] | None:
        """(window_start, count) of the key, or None."""

    def lock(self, key: str, now: dt.datetime) -> tuple[dt.datetime, int]:
        """(window_start, count) of the key, made (now, 0) if missing, and held against every
        other unit counting the same key until this unit ends."""

    def put(self, key: str, window_start: dt.datetime, count: int) -> None:
        """Set a key locked by `lock` in this unit."""

    def clear(self, key: str) -> None: ...

    def purge(self, *, older_than: dt.datetime) -> int:
        """Forget the counters whose window began before `older_than` (they hold IP addresses)."""


class Parents(Protocol):
    """The parents on a case, and their sign-in links and sessions (workflow.service_layer.parents)."""

    def add(self, row: ParentRow) -> None: ...

    def get(self, parent_id: str) -> ParentRow | None:
        """The parent row, removed or not; None when unknown."""

    def of_case(self, case_id: str) -> list[ParentRow]:
        """The case's parents not removed, in the order they were added."""

    def remove(self, parent_id: str, now: dt.datetime) -> bool:
        """Mark the parent removed and delete their links and sessions, in this unit; False
        when there is no such parent or they were removed already."""

    def add_link(self, *, link_id: str, parent_id: str, now: dt.datetime, expires_at: dt.datetime) -> None: ...

    def drop_links(self, parent_id: str) -> int:
        """Delete the parent's unused links (a new invitation replaces them)."""

    def link(self, link_id: str) -> ParentLinkRow | None: ...

    def use_link(self, link_id: str, now: dt.datetime) -> bool:
        """Mark the link used, only if it was not used yet: of two requests, exactly one gets True."""

    def add_session(self, *, session_id: str, parent_id: str, csrf: str, now: dt.datetime,
                    expires_at: dt.datetime) -> None: ...

    def session(self, session_id: str) -> ParentSessionRow | None: ...

    def touch_session(self, session_id: str, now: dt.datetime) -> None: ...

    def end_session(self, session_id: str) -> None: ...

    def purge(self, *, now: dt.datetime) -> int:
        """Delete the sessions past their end and the links expired a day before `now`."""


@dataclass(frozen=True)
class WitnessRoot:
    """One day's root over every case's head, as stored and as sent to the witnesses."""

    day: dt.date  # school-local
    at: dt.datetime  # when it was computed (UTC)
    tree: str  # workflow.domain.merkle.TREE
    root: str
    cases: int  # leaves
    events: int  # the sum of the leaves' seqs: every event the root covers
    access_records: int
    access_head: str
    id: int | None = None  # the store's row id, once stored


class WitnessLeaf(NamedTuple):
    case_id: str
    seq: int
    head_hash: str


class WitnessTimestamp(NamedTuple):
    witness_id: int
    tsa_url: str
    token: bytes  # the DER TimeStampToken (RFC 3161): a CMS SignedData over a TSTInfo
    gen_time: dt.datetime
    received_at: dt.datetime


class WitnessLog(Protocol):
    def add(self, root: WitnessRoot, changed: Iterable[WitnessLeaf]) -> int:
        """Store `root` and the leaves that changed since the root before (all leaves for the
        first); returns its id. A second root for the same day is a Conflict, at the latest when
        the unit commits."""

    def latest(self) -> WitnessRoot | None: ...

    def of_day(self, day: dt.date) -> WitnessRoot | None: ...

    def leaves(self, witness_id: int) -> Iterator[WitnessLeaf]:
        """The leaves root `witness_id` holds: per case its newest leaf at or before that root,
        in case id order (bytewise), streamed."""

    def event_hashes(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The stored `hash` of each (case id, seq) event that exists."""

    def cases_with_events(self, case_ids: Sequence[str]) -> set[str]:
        """Those of `case_ids` that still have any event."""

    def access_hash_at(self, position: int) -> str | None:
        """The hash of the access log's `position`-th record (1-based, in id order), if any."""

    def add_timestamp(self, stamp: WitnessTimestamp) -> None: ...

    def timestamp(self, witness_id: int) -> WitnessTimestamp | None: ...


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

    @property
    def users(self) -> Users: ...

    @property
    def web_sessions(self) -> WebSessions: ...

    @property
    def signin_links(self) -> SigninLinks: ...

    @property
    def oidc_flows(self) -> OidcFlows: ...

    @property
    def throttle(self) -> Throttle: ...

    @property
    def parents(self) -> Parents: ...

    @property
    def witness(self) -> WitnessLog:
        """The witness roots (workflow.service_layer.witness)."""

    @property
    def api_tokens(self) -> ApiTokens:
        """The JSON API's bearer tokens (workflow.service_layer.tokens)."""

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

    def open_window_rows(self, today: dt.date) -> list[PlannedRow]:
        """The planned messages of open cases whose window may still be open on `today`: a
        reminder for a deadline not past (`due_on >= today`) and every escalation (which has no
        end), in (case_id, id) order. `reminders due` lists from them what an earlier tick
        planned and the case's next action day has moved past."""

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
    def users(self) -> UserLookup:
        """The acting user's lookup (the hot read; everything else about users is `uow.users`)."""

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

    def group_commit(self) -> bool:
        """Let this process's concurrent writing units share one commit from now on (the web
        app and the service ask for it); returns whether the store does that."""

    def init(self) -> list[str]:
        """Create or upgrade the schema; returns what it is at now (migration heads)."""

    def scrub(self) -> None:
        """Push destroyed keys' old bytes out of logs and free pages now, not some day."""

    def backup(self, target: Path, files: PrivateFiles) -> None:
        """A consistent copy of the whole store in the new file `target`, private; BadInput
        (with what to do instead) where the store cannot do it itself (PostgreSQL, memory)."""

    def dispose(self) -> None:
        """Close every connection the store holds."""

"""The read models: what a query hands back, as SQLModel classes.

These are the shapes a person or a client reads: a case in a list, a message in the outbox, a
record of the access log, a user. The queries of the service layer return them (the store's
adapters build them straight from their rows), the command line prints `as_dict()`, and the web
API will use the classes as its response schemas (`model_json_schema()` is their OpenAPI form).
None of them carries personal data: no pupil reference, name, note or view, and no message body.

`as_dict()` is the command line's JSON form, kept byte for byte as it was before these classes
existed (times as `isoformat()`, `+00:00` rather than pydantic's `Z`), so scripts that read
`passend ... --json` see no change.

Importing sqlmodel costs about half a second, so this module is imported only by the code that
builds or reads a read model, never on the path of `fire`, `record` or `audit verify`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Field, SQLModel

from workflow.adapters.config import User


class CaseSummary(SQLModel):
    """One case in a list (`case list`): where it is in the process, no personal data."""

    case_id: str = Field(max_length=40)
    school: str = Field(max_length=64)
    group: int | None = None
    state: str
    level: int | None = None
    version: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None
    close_reason: str | None = None
    process: str = Field(description="process id and version, as 'passend-po@1'")

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id, "school": self.school, "group": self.group, "state": self.state,
            "level": self.level, "version": self.version, "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "close_reason": self.close_reason, "process": self.process,
        }


class OutboxMessage(SQLModel):
    """One planned message of the reminder outbox (`reminders list`), without its texts."""

    id: int
    key: str
    kind: str = Field(description="reminder | escalation | digest")
    case_id: str | None = None
    deadline: str | None = None
    school: str | None = None
    recipient: str
    send_on: dt.date
    due_on: dt.date | None = None
    status: str = Field(description="pending | sending | sent | failed")
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None = None
    message_id: str
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    sender: str | None = Field(default=None, description="the From address fixed at planning (None: the notifier's)")
    retried_by: str | None = Field(default=None, description="who put the message back after it failed")
    retried_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "case_id": self.case_id, "deadline": self.deadline,
            "recipient": self.recipient, "send_on": self.send_on.isoformat(),
            "due": self.due_on.isoformat() if self.due_on else None, "status": self.status,
            "attempts": self.attempts, "last_error": self.last_error, "message_id": self.message_id,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None, "sender": self.sender,
            "retried_by": self.retried_by, "retried_at": self.retried_at.isoformat() if self.retried_at else None,
        }


class AccessRecord(SQLModel):
    """One record of the access log (NEN 7513): who read or exported which case, when, why."""

    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    case_id: str | None = None
    school: str | None = None
    purpose: str
    on_behalf_of: str | None = None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "role": self.role, "action": self.action,
                "case_id": self.case_id, "school": self.school, "purpose": self.purpose,
                "on_behalf_of": self.on_behalf_of, "source": self.source}


class UserSummary(SQLModel):
    """A user as others may see them: id, role, schools, name and e-mail (the store's users)."""

    id: str
    role: str
    schools: list[str] = Field(description="school ids, or ['*'] for every school")
    name: str = ""
    email: str | None = None

    @classmethod
    def of(cls, user: User) -> UserSummary:
        return cls(id=user.id, role=user.role, schools=list(user.schools), name=user.name, email=user.email)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "schools": list(self.schools), "name": self.name,
                "email": self.email}


# ---- the work list: what Mijn werk and the caseload read (workflow.service_layer.worklist) ----
class DeadlineItem(SQLModel):
    """One running deadline of one case, as it reads on `today` (no personal data)."""

    case_id: str = Field(max_length=40)
    school: str = Field(max_length=64)
    deadline: str = Field(description="the definition's deadline name")
    label: str = Field(description="the deadline as a person reads it")
    due_on: dt.date = Field(description="the due date as it reads today (a paused clock's moves on daily)")
    days_left: int = Field(description="negative: this many days overdue")
    status: str = Field(description="ok | soon | overdue")
    paused: bool = False


class WaitingItem(SQLModel):
    """A case whose next step waits only for the parents' consent, and for what."""

    case_id: str = Field(max_length=40)
    school: str = Field(max_length=64)
    scopes: list[str] = Field(description="the consent scopes (ids)")
    scope_labels: list[str] = Field(description="the same scopes as a person reads them")


class ErasureItem(SQLModel):
    """A closed case whose retention period has passed (erasure.cases_due_for_erasure)."""

    case_id: str = Field(max_length=40)
    school: str = Field(max_length=64)
    closed_at: dt.datetime
    close_reason: str | None = None
    due: dt.date
    years: int


class SchoolWork(SQLModel):
    """Mijn werk for one school: the daily digest's four lists, live. Each list holds its first
    `limit` items; `*_total` says how many there are in all."""

    school: str = Field(max_length=64)
    school_name: str
    due_week: list[DeadlineItem]
    due_week_total: int
    overdue: list[DeadlineItem]
    overdue_total: int
    waiting: list[WaitingItem]
    waiting_total: int
    erasure: list[ErasureItem]
    erasure_total: int = 0


class CaseloadItem(SQLModel):
    """One case on a caseload page: where it is, its running deadlines, whether it waits for the
    parents (no personal data)."""

    case_id: str = Field(max_length=40)
    school: str = Field(max_length=64)
    group: int | None = None
    state: str
    state_label: str
    level: int | None = None
    version: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None
    deadline_status: str | None = Field(default=None, description="ok | soon | overdue; None: no clock runs")
    deadlines: list[DeadlineItem] = Field(default_factory=list)
    waiting: list[str] = Field(default_factory=list, description="consent scopes it waits for")


class CaseloadPage(SQLModel):
    """One page of the caseload, newest case first, with the keys of the pages around it
    (keyset pagination: pass `next` as `after`, `previous` as `before`)."""

    items: list[CaseloadItem]
    next: str | None = None
    previous: str | None = None

"""The JSON API's request and response bodies, as pydantic models: what the OpenAPI schema at
/api/v1/openapi.json says, field for field (schemathesis holds the answers to it).

Requests forbid unknown fields (a typo is a 400, not a silently ignored value). Responses carry
ids beside labels: a client filters and calls by id, a person reads the label.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflow.adapters.readmodels import CaseloadPage, DeadlineItem

__all__ = [
    "CaseDetail", "CaseloadPage", "DeadlineItem", "Evidence", "EvidenceIn", "NewCase", "Opened", "Problem",
    "ReasonOut", "Recorded", "Running", "Step", "StepIn", "Stepped", "Timeline", "TimelineEntry",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonOut(BaseModel):
    """Why a step may not be taken yet (or what it still needs): a code, its parameters, and the
    sentence a person reads (the message catalog's Dutch)."""

    code: str
    params: dict[str, Any]
    text: str


class Problem(BaseModel):
    """Every error: the HTTP status, a code a program checks, a Dutch sentence for a person, and
    where known the service's own words (`detail`), what is wrong per field, and every reason a
    guard gave."""

    status: int
    code: str = Field(description="bad_input | unauthorized | forbidden | not_found | conflict | refused | "
                                  "internal | unavailable")
    text: str
    detail: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    reasons: list[ReasonOut] = Field(default_factory=list)


class Running(BaseModel):
    """A deadline that runs on the case."""

    name: str
    label: str
    due: dt.date
    status: str = Field(description="ok | soon | overdue")
    paused: bool
    started: dt.date
    days_left: int
    due_by_rule: dt.date


class Step(BaseModel):
    """A step the token's role could take from here: allowed now, or refused with what it still needs."""

    trigger: str
    trigger_label: str
    allowed: bool
    source: str
    dest: str | None = None
    dest_label: str | None = None
    params: dict[str, str]
    reasons: list[ReasonOut]


class Evidence(BaseModel):
    """A recorded piece of evidence, with its fields as recorded (personal data: reading a case is
    logged)."""

    seq: int
    kind: str
    kind_label: str
    date: dt.date
    actor: str
    recorded_at: dt.datetime
    fields: dict[str, Any]


class CaseDetail(BaseModel):
    """One case: where it is, its running deadlines, its steps, what was recorded."""

    case_id: str
    school: str
    pupil: str | None = Field(default=None, description="the pupil reference (None once erased)")
    name: str | None = None
    group: int | None = None
    state: str
    state_label: str
    level: int | None = Field(default=None, description="the niveau")
    version: int = Field(description="send it back as expected_version with a change")
    process: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None
    close_reason: str | None = None
    opp_active: bool
    erased: bool
    deadlines: list[Running]
    steps: list[Step]
    evidence: list[Evidence]


class TimelineEntry(BaseModel):
    seq: int
    at: str = Field(description="school-local time, as a person reads it")
    at_utc: dt.datetime
    actor: str
    role: str
    type: str
    what: str
    state_before: str | None = None
    state_after: str | None = None
    state_before_label: str | None = None
    state_after_label: str | None = None
    guards: list[str]
    fields: dict[str, Any]
    process: str
    hash: str


class Timeline(BaseModel):
    case_id: str
    entries: list[TimelineEntry]


class NewCase(_In):
    pupil: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
                       description="the school's pupil reference")
    school: str = Field(min_length=1, max_length=64)
    group: int | None = Field(default=None, ge=1, le=8)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class Opened(BaseModel):
    case_id: str
    state: str
    level: int | None = None
    version: int


class EvidenceIn(_In):
    kind: str = Field(min_length=1, max_length=64, description="an evidence kind of the process definition")
    expected_version: int = Field(ge=1, description="the case's version the client last read")
    fields: dict[str, str | int | bool | None] = Field(default_factory=dict)


class Recorded(BaseModel):
    case_id: str
    seq: int
    kind: str
    version: int


class StepIn(_In):
    trigger: str = Field(min_length=1, max_length=64)
    expected_version: int = Field(ge=1)
    params: dict[str, str] = Field(default_factory=dict)


class Stepped(BaseModel):
    case_id: str
    trigger: str
    source: str
    dest: str | None = None
    state: str
    level: int | None = None
    version: int
    seq: int

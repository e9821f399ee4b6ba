"""The tables. `events` is the source of truth and append-only; `cases` is its projection.

Rows of `cases` are written only by the event store, in the same transaction as the events
they summarise; `version` equals the last event's sequence number and guards concurrent writers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.adapters.store.types import BigId, UTCDateTime


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_school_state", "school", "state"),
        # The planner's due-work scan reads these indexes only (migration 0006).
        Index("ix_cases_next_action_on", "next_action_on", "case_id"),
        Index("ix_cases_planned_on", "planned_on", "case_id"),
    )

    case_id: str = Field(primary_key=True, max_length=40)
    school: str = Field(max_length=64)
    pupil_index: str | None = Field(default=None, max_length=64, index=True)
    school_group: int | None = None
    state: str = Field(max_length=64, index=True)
    level: int | None = None
    process_id: str = Field(max_length=64)
    process_version: int
    version: int
    head_hash: str = Field(max_length=64)
    opp_active: bool = False
    opened_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    state_entered_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    close_reason: str | None = Field(default=None, max_length=64)
    # Reminder work (migration 0005): the first day the planner may have something to plan for
    # this case, and the day it last planned up to; see workflow.service_layer.reminders.work.
    next_action_on: dt.date | None = None
    planned_on: dt.date | None = None


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    case_id: str = Field(max_length=40)
    seq: int
    type: str = Field(max_length=32)
    process_id: str = Field(max_length=64)
    process_version: int
    actor: str = Field(max_length=128)
    role: str = Field(max_length=32)
    recorded_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class CaseKeyRow(SQLModel, table=True):
    __tablename__ = "case_keys"

    case_id: str = Field(primary_key=True, max_length=40)
    wrapped: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    destroyed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


cases = CaseRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
case_keys = CaseKeyRow.__table__  # type: ignore[attr-defined]

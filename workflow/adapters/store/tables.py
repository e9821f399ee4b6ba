"""Every table of the store, declared once, in SQLAlchemy Core.

`events` is the source of truth and append-only; `cases` is its projection, written only by the
event store in the same transaction as the events it summarises (`version` equals the last
event's sequence number and guards concurrent writers); `case_keys` holds each case's wrapped
data key; `reminder_outbox` holds one row per planned message; `access_log` records who read
which case (NEN 7513), hash-chained.

The schema itself is made by the Alembic migrations (`migrations/versions/`), each of which keeps
its own frozen copy of what it created; these declarations are what the queries are built from
and must describe that same schema, index for index (tests/test_tables.py compares them with a
migrated database). Plain Core, not SQLModel table classes: a command that only loads and
appends (`fire`, `record`, `audit verify`) then never imports sqlmodel, which costs about half
a second of start-up. The SQLModel classes are the read models (workflow.adapters.readmodels).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from workflow.adapters.store.types import BigId, UTCDateTime

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("school", String(64), nullable=False),
    Column("pupil_index", String(64), nullable=True),
    Column("school_group", Integer, nullable=True),
    Column("state", String(64), nullable=False),
    Column("level", Integer, nullable=True),
    Column("process_id", String(64), nullable=False),
    Column("process_version", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("opp_active", Boolean, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("state_entered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("close_reason", String(64), nullable=True),
    # Reminder work (migration 0005): the first day the planner may have something to plan for
    # this case, and the day it last planned up to; see workflow.service_layer.reminders.work.
    Column("next_action_on", Date, nullable=True),
    Column("planned_on", Date, nullable=True),
    Index("ix_cases_pupil_index", "pupil_index"),
    Index("ix_cases_state", "state"),
    Index("ix_cases_school_state", "school", "state"),
    # One open case per pupil and school (migration 0004): of two concurrent opens, one conflicts.
    Index("uq_cases_open_pupil", "pupil_index", unique=True,
          sqlite_where=text("closed_at IS NULL AND pupil_index IS NOT NULL"),
          postgresql_where=text("closed_at IS NULL AND pupil_index IS NOT NULL")),
    # The planner's due-work scan reads these indexes only (migration 0006).
    Index("ix_cases_next_action_on", "next_action_on", "case_id"),
    Index("ix_cases_planned_on", "planned_on", "case_id"),
)

events = Table(
    "events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("process_id", String(64), nullable=False),
    Column("process_version", Integer, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
)

case_keys = Table(
    "case_keys", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("destroyed_at", UTCDateTime, nullable=True),
)

# The rows of migration 0007's partial index: sent (sent_at is set exactly when a row is marked
# sent, and never again unset), texts kept. Literal, not bound, so that both databases' planners
# match it to the index; and without `status = 'sent'`, which made SQLite prefer the
# (status, next_attempt_at) index and sort every sent row there ever was.
OUTBOX_BODY_KEPT = text("sent_at IS NOT NULL AND body_text <> ''")

reminder_outbox = Table(
    "reminder_outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("case_id", String(40), nullable=True),
    Column("deadline", String(48), nullable=True),
    Column("school", String(64), nullable=True),
    Column("recipient", String(128), nullable=False),
    Column("to_addrs", Text, nullable=False),
    Column("send_on", Date, nullable=False),
    Column("due_on", Date, nullable=True),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=True),
    Column("ics", Text, nullable=True),
    Column("message_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claim_token", String(32), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    UniqueConstraint("key", name="uq_reminder_outbox_key"),
    Index("ix_reminder_outbox_status_next", "status", "next_attempt_at"),
    # Sent rows whose bodies are still kept (migration 0007; clear_sent_bodies).
    Index("ix_reminder_outbox_sent_bodies", "sent_at", sqlite_where=OUTBOX_BODY_KEPT,
          postgresql_where=OUTBOX_BODY_KEPT),
)

access_log = Table(
    "access_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("case_id", String(40), nullable=True),
    Column("school", String(64), nullable=True),
    Column("purpose", String(200), nullable=False),
    Column("on_behalf_of", String(128), nullable=True),
    Column("source", String(32), nullable=False),
    # The hash chain over the log (migration 0008; workflow.adapters.access_chain).
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index("ix_access_log_case", "case_id", "at"),
    Index("ix_access_log_actor", "actor", "at"),
    Index("ix_access_log_prev_hash", "prev_hash", unique=True),
)

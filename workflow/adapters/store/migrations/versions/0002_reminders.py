"""Reminder outbox: one row per reminder, escalation or digest; unique key, claims with leases.

Revision ID: 0002_reminders
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import BigId, UTCDateTime

revision = "0002_reminders"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminder_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(40), nullable=True),
        sa.Column("deadline", sa.String(48), nullable=True),
        sa.Column("school", sa.String(64), nullable=True),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("to_addrs", sa.Text, nullable=False),
        sa.Column("send_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=True),
        sa.Column("ics", sa.Text, nullable=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("key", name="uq_reminder_outbox_key"),
    )
    op.create_index("ix_reminder_outbox_status_next", "reminder_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_reminder_outbox_status_next", table_name="reminder_outbox")
    op.drop_table("reminder_outbox")

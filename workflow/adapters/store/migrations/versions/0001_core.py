"""Core event store: events (append-only), cases (projection), case_keys.

Revision ID: 0001_core
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.ddl import append_only, drop_append_only
from workflow.adapters.store.types import BigId, UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("process_id", sa.String(64), nullable=False),
        sa.Column("process_version", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("pupil_index", sa.String(64), nullable=True),
        sa.Column("school_group", sa.Integer, nullable=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer, nullable=True),
        sa.Column("process_id", sa.String(64), nullable=False),
        sa.Column("process_version", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("opp_active", sa.Boolean, nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("state_entered_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("close_reason", sa.String(64), nullable=True),
    )
    op.create_index("ix_cases_pupil_index", "cases", ["pupil_index"])
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_school_state", "cases", ["school", "state"])
    op.create_table(
        "case_keys",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("wrapped", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("destroyed_at", UTCDateTime, nullable=True),
    )
    append_only("events", "events are append-only")


def downgrade() -> None:
    drop_append_only("events")
    op.drop_table("case_keys")
    op.drop_table("cases")
    op.drop_table("events")

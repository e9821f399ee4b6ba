"""Core event store: events (append-only), cases (projection), case_keys.

Revision ID: 0001_core
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.types import BigId, UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
]
APPEND_ONLY_PG = [
    """CREATE OR REPLACE FUNCTION passend_events_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'events are append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION passend_events_append_only()""",
]


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
    dialect = op.get_bind().dialect.name
    for stmt in APPEND_ONLY_SQLITE if dialect == "sqlite" else APPEND_ONLY_PG:
        op.execute(stmt)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS passend_events_append_only()")
    op.drop_table("case_keys")
    op.drop_table("cases")
    op.drop_table("events")

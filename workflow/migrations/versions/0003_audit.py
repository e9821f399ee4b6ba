"""Audit: the access log (NEN 7513 fields), append-only like the events.

Revision ID: 0003_audit
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.types import BigId, UTCDateTime

revision = "0003_audit"
down_revision = "0001_core"
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
       BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END""",
    """CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
       BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END""",
]
APPEND_ONLY_PG = [
    """CREATE OR REPLACE FUNCTION passend_access_log_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the access log is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
       FOR EACH ROW EXECUTE FUNCTION passend_access_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(40), nullable=True),
        sa.Column("school", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("on_behalf_of", sa.String(128), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_index("ix_access_log_case", "access_log", ["case_id", "at"])
    op.create_index("ix_access_log_actor", "access_log", ["actor", "at"])
    dialect = op.get_bind().dialect.name
    for stmt in APPEND_ONLY_SQLITE if dialect == "sqlite" else APPEND_ONLY_PG:
        op.execute(stmt)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS access_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS passend_access_log_append_only()")
    op.drop_index("ix_access_log_actor", "access_log")
    op.drop_index("ix_access_log_case", "access_log")
    op.drop_table("access_log")

"""Audit: the access log (NEN 7513 fields), append-only like the events.

Revision ID: 0003_audit
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.ddl import append_only, drop_append_only
from workflow.adapters.store.types import BigId, UTCDateTime

revision = "0003_audit"
down_revision = "0001_core"
branch_labels = None
depends_on = None

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
    append_only("access_log", "the access log is append-only")


def downgrade() -> None:
    drop_append_only("access_log")
    op.drop_index("ix_access_log_actor", "access_log")
    op.drop_index("ix_access_log_case", "access_log")
    op.drop_table("access_log")

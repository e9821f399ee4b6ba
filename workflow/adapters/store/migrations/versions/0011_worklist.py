"""The work list: each open case's running deadlines and the consents it waits for, indexed, so
the web app's lists (Mijn werk, the caseload) never fold every case; the caseload's index, and
one over closing times (the cases due for erasure are a range of it).

The rows are computed from the events (workflow.domain.worklist), which a migration cannot do
without the process definitions: the tables start empty and `passend init` fills them right
after migrating (service_layer.worklist.ensure_built, noted in `read_models`).

Revision ID: 0011_worklist
Revises: 0010_web_signin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0011_worklist"
down_revision = "0010_web_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_deadlines",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("deadline", sa.String(48), primary_key=True),
        sa.Column("anchor", sa.String(32), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("started_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("soon_on", sa.Date, nullable=False),
        sa.Column("lead_days", sa.Integer, nullable=False),
        sa.Column("paused_left", sa.Integer, nullable=True),
    )
    op.create_index("ix_case_deadlines_school_due", "case_deadlines", ["school", "due_on"])
    op.create_index("ix_case_deadlines_school_paused", "case_deadlines", ["school", "paused_left"])
    op.create_table(
        "case_waiting",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
    )
    op.create_index("ix_case_waiting_school", "case_waiting", ["school", "case_id"])
    op.create_table(
        "read_models",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("built_for", sa.String(200), nullable=False),
        sa.Column("built_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_cases_school_opened", "cases", ["school", "opened_at", "case_id"])
    op.create_index("ix_cases_closed", "cases", ["closed_at", "case_id"],
                    sqlite_where=sa.text("closed_at IS NOT NULL"), postgresql_where=sa.text("closed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_cases_closed", table_name="cases")
    op.drop_index("ix_cases_school_opened", table_name="cases")
    op.drop_table("read_models")
    op.drop_index("ix_case_waiting_school", table_name="case_waiting")
    op.drop_table("case_waiting")
    op.drop_index("ix_case_deadlines_school_paused", table_name="case_deadlines")
    op.drop_index("ix_case_deadlines_school_due", table_name="case_deadlines")
    op.drop_table("case_deadlines")

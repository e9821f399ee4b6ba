"""Each clock's row in `case_deadlines` keeps its case's opening time (`opened_at`, which never
changes), so a caseload filter on the clocks (overdue, soon, this week) lists its cases newest
first from these rows alone, and reads the page's cases only: where it walked the school's
cases until a page was found (overdue in a school of 7 600 open cases: the 26th of 779 overdue
cases was the 3 401st newest).

The rows there are filled in from `cases`; every write of a new row brings it since.

Revision ID: 0020_deadline_opened
Revises: 0019_mijn_werk_ranges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0020_deadline_opened"
down_revision = "0019_mijn_werk_ranges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_deadlines") as batch:
        batch.add_column(sa.Column("opened_at", UTCDateTime, nullable=True))
    op.execute("UPDATE case_deadlines SET opened_at ="
               " (SELECT cases.opened_at FROM cases WHERE cases.case_id = case_deadlines.case_id)")


def downgrade() -> None:
    with op.batch_alter_table("case_deadlines") as batch:
        batch.drop_column("opened_at")

"""The caseload's state filter in the list's own order: `ix_cases_school_state` becomes
(school, state, opened_at, case_id). A page of one state is then a walk of that index, newest
first, that stops after a page, where it was every case of the state read and sorted for each
page (a state of 1 451 cases in one school of a 100 000-case store: 1.86 ms -> 0.11 ms with a
group filter, 0.27 -> 0.04 ms without). The index still counts a school's cases per state
(its first two columns), as it did.

Revision ID: 0018_caseload_state_order
Revises: 0011_worklist
"""

from __future__ import annotations

from alembic import op

revision = "0018_caseload_state_order"
down_revision = "0011_worklist"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cases_school_state", table_name="cases")
    op.create_index("ix_cases_school_state", "cases", ["school", "state", "opened_at", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_cases_school_state", table_name="cases")
    op.create_index("ix_cases_school_state", "cases", ["school", "state"])

"""One open case per pupil and school, enforced by the database.

`open_case` looks for an open case first, but on PostgreSQL two transactions can both look
before either inserts; this partial unique index makes the second insert fail, which the unit
of work reports as a conflict (exit 4). Erased and closed cases do not take part.

Revision ID: 0004_open_case_per_pupil
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_open_case_per_pupil"
down_revision = "0001_core"
branch_labels = None
depends_on = None

OPEN = sa.text("closed_at IS NULL AND pupil_index IS NOT NULL")


def upgrade() -> None:
    op.create_index("uq_cases_open_pupil", "cases", ["pupil_index"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("uq_cases_open_pupil", table_name="cases")

"""Parents and guardians on a case, and their own sign-in links and sessions.

`case_parents` holds one row per parent or guardian of one case: the name and e-mail address
sealed with that case's key (erasing the case's key erases them too), who added the row and
when, and when it was removed (a removed parent's links and sessions stop at once).
`parent_links` and `parent_sessions` are the parent's sign-in state, kept apart from the staff's
(`signin_links`, `web_sessions`): a parent is no passend user, and their session is scoped to the
one case of their parent row. Both keep only the keyed hash of a token.

Revision ID: 0017_parents
Revises: 0013_witness
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0017_parents"
# On the web sign-in's branch (its newest head): the parents' links and sessions mirror those
# of the staff; no table of another branch is referred to.
down_revision = "0013_witness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_parents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("removed_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_case_parents_case", "case_parents", ["case_id"])
    op.create_table(
        "parent_links",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_parent_links_parent", "parent_links", ["parent_id"])
    op.create_table(
        "parent_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_parent_sessions_parent", "parent_sessions", ["parent_id"])


def downgrade() -> None:
    for table, index in (("parent_sessions", "ix_parent_sessions_parent"),
                         ("parent_links", "ix_parent_links_parent"), ("case_parents", "ix_case_parents_case")):
        op.drop_index(index, table_name=table)
        op.drop_table(table)

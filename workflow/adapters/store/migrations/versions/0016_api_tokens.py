"""API tokens: one bearer token per integration of a school's own systems with the JSON API.

A row holds the token's name, the keyed hash of its secret (never the secret), the one role and
the schools it acts for, who made it and when, and when it was revoked and last used
(workflow.service_layer.tokens; `passend token add|list|revoke`).

Revision ID: 0016_api_tokens
Revises: 0013_witness
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0016_api_tokens"
# On the users and sign-in branch (0009 -> 0010 -> 0013), whose newest head this is: tokens act
# like users, and refer to no other table.
down_revision = "0013_witness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("schools", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_api_tokens_hash", "api_tokens", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_api_tokens_hash", table_name="api_tokens")
    op.drop_table("api_tokens")

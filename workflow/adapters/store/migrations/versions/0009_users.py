"""Users in the database: who may sign in, with which role and schools, and their TOTP secret.

`passend init` fills the table from config.toml's [[users]] (workflow.service_layer.users);
`passend user add|disable|enable|list` manages it. Events keep naming users by id, so a user
row is never deleted, only disabled.

Revision ID: 0009_users
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0009_users"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("schools", sa.Text, nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("managed", sa.String(16), nullable=False),
        sa.Column("disabled_at", UTCDateTime, nullable=True),
        sa.Column("totp_secret", sa.LargeBinary, nullable=True),
        sa.Column("totp_enrolled_at", UTCDateTime, nullable=True),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_users_email", "users", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_email", table_name="users")
    op.drop_table("users")

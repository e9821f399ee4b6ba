"""The web app's state: sessions, sign-in links, OIDC flows in progress, sign-in throttles.

All of it lives here, not in a process, so several `passend web` processes can serve one school.

Revision ID: 0010_web_signin
Revises: 0009_users
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0010_web_signin"
down_revision = "0009_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"])
    op.create_table(
        "signin_links",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_signin_links_expires", "signin_links", ["expires_at"])
    op.create_table(
        "signin_flows",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("verifier", sa.String(128), nullable=False),
        sa.Column("browser", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_signin_flows_expires", "signin_flows", ["expires_at"])
    op.create_table(
        "signin_throttle",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table, indexes in (("signin_throttle", ()), ("signin_flows", ("ix_signin_flows_expires",)),
                           ("signin_links", ("ix_signin_links_expires",)),
                           ("web_sessions", ("ix_web_sessions_expires", "ix_web_sessions_user"))):
        for ix in indexes:
            op.drop_index(ix, table_name=table)
        op.drop_table(table)

"""Witnessing outside the store: the daily roots over every case's head, and what they hold.

`witness` holds one row per day: the Merkle root over every case's (id, seq, head hash), the
counts and the access log's head, as sent to the witnesses (docs/event-chain.md, "Witnessing").
`witness_leaves` holds the leaves that changed since the root before (the first root holds all):
the leaves of a root are, per case, its newest row at or before that root. `witness_timestamps`
holds an RFC 3161 timestamp token per root, when a timestamping service is configured. All three
are append-only, like the events: a root, once sent, is never changed here either.

Revision ID: 0013_witness
Revises: 0010_web_signin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.ddl import append_only, drop_append_only
from workflow.adapters.store.types import BigId, UTCDateTime

revision = "0013_witness"
# On the newest branch. The witness tables refer to no other table (a root holds the access log's
# head as a value), so they need no other branch; nor do they merge branches, which would take
# every branch's head (0008_access_chain among them) from the others' own downgrades and tests.
down_revision = "0010_web_signin"
branch_labels = None
depends_on = None

MESSAGE = "witness roots are append-only"


def upgrade() -> None:
    op.create_table(
        "witness",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("tree", sa.String(32), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("cases", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("access_records", sa.BigInteger, nullable=False),
        sa.Column("access_head", sa.String(64), nullable=False),
        sa.UniqueConstraint("day", name="uq_witness_day"),
    )
    op.create_table(
        "witness_leaves",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("witness_id", sa.BigInteger, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "witness_timestamps",
        sa.Column("witness_id", sa.BigInteger, primary_key=True),
        sa.Column("tsa_url", sa.Text, nullable=False),
        sa.Column("token", sa.LargeBinary, nullable=False),
        sa.Column("gen_time", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    for table in ("witness", "witness_leaves", "witness_timestamps"):
        append_only(table, MESSAGE)


def downgrade() -> None:
    for table in ("witness_timestamps", "witness_leaves", "witness"):
        drop_append_only(table)
        op.drop_table(table)

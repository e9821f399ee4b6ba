"""The outbox's operational columns: each message's sender, who holds a claim, who retried it.

- `sender`: the address a message goes out from, fixed at planning like its Message-ID, so a
  school's messages carry that school's `from` (config `[[schools]] from`), and a resend is the
  same mail.
- `claim_host`, `claim_pid`: the machine and process that claimed a row. A service that starts
  again releases the claims its earlier run on this machine left (their process is gone), so its
  messages go out at once instead of after the lease (workflow.adapters.store.outbox).
- `retried_by`, `retried_at`: who put a failed message back in the queue (`passend reminders
  retry --actor`), and when.

Hangs off the outbox's own branch (0007), as each table's migrations do here.

Revision ID: 0012_outbox_operations
Revises: 0007_outbox_sent_bodies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.types import UTCDateTime

revision = "0012_outbox_operations"
down_revision = "0007_outbox_sent_bodies"
branch_labels = None
depends_on = None

COLUMNS = (
    ("sender", sa.String(255)),
    ("claim_host", sa.String(255)),
    ("claim_pid", sa.Integer),
    ("retried_by", sa.String(128)),
    ("retried_at", UTCDateTime),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("reminder_outbox", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminder_outbox") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)

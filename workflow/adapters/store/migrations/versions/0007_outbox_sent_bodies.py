"""The outbox's sent rows whose message bodies are still kept: a partial index on sent_at.

A sent message keeps its row for good: its key stops the planner from planning it again (an
escalation stays due as long as its deadline is overdue), and sent_at and message_id are the
proof that the IB or directeur was told. Its subject, texts and calendar file are cleared
`keep_sent_days` after sending (workflow.adapters.store.outbox.clear_sent_bodies). This index holds
only the rows still to clear, so the clearing a tick does finds them without reading the
ever-growing history of cleared ones.

Revision ID: 0007_outbox_sent_bodies
Revises: 0002_reminders
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_outbox_sent_bodies"
down_revision = "0002_reminders"
branch_labels = None
depends_on = None

# sent_at is set exactly when a row is marked sent (workflow.adapters.store.outbox.mark_sent).
WHERE = sa.text("sent_at IS NOT NULL AND body_text <> ''")


def upgrade() -> None:
    op.create_index("ix_reminder_outbox_sent_bodies", "reminder_outbox", ["sent_at"],
                    sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_reminder_outbox_sent_bodies", table_name="reminder_outbox")

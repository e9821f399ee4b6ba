"""The access log becomes a hash chain: `prev_hash` and `hash` on every record, old ones sealed.

Each record's hash covers its fields and the previous record's hash (workflow.adapters.access_chain,
docs/event-chain.md), so a record changed, removed or put in between shows in `passend audit
verify`. The records written before this migration are sealed here, in id order: the chain
vouches for them from now on, not for what happened to them before. The append-only triggers
are lifted for that one UPDATE and put back as they were. A unique index on `prev_hash` lets no
record have two successors.

Revision ID: 0008_access_chain
Revises: 0003_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.adapters.store.ddl import append_only, drop_append_only

revision = "0008_access_chain"
down_revision = "0003_audit"
branch_labels = None
depends_on = None

MESSAGE = "the access log is append-only"
BATCH = 5000  # records sealed per round trip: a long log is never held whole


def upgrade() -> None:
    from workflow.adapters.access_chain import seal
    from workflow.adapters.store.tables import access_log
    from workflow.domain.events import GENESIS_HASH

    op.add_column("access_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("access_log", sa.Column("hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    t = access_log
    if conn.execute(sa.select(t.c.id).limit(1)).first() is not None:
        drop_append_only("access_log")
        head, last = GENESIS_HASH, 0
        while rows := [r._asdict() for r in conn.execute(
                sa.select(t).where(t.c.id > last).order_by(t.c.id).limit(BATCH))]:
            head = seal(rows, head)
            conn.execute(t.update().where(t.c.id == sa.bindparam("rid"))
                         .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
                         [{"rid": r["id"], "p": r["prev_hash"], "h": r["hash"]} for r in rows])
            last = rows[-1]["id"]
        append_only("access_log", MESSAGE)
    op.create_index("ix_access_log_prev_hash", "access_log", ["prev_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_access_log_prev_hash", table_name="access_log")
    op.drop_column("access_log", "hash")
    op.drop_column("access_log", "prev_hash")

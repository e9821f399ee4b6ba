"""Reminder work projection: when the planner next has something to do for a case.

`cases.next_action_on` is the first day on which the reminder planner could have a reminder or
escalation to plan for the case; `cases.planned_on` is the day the planner last planned it up to
(NULL: never, or the case changed since). The planner scans `next_action_on <= today` on an
index instead of folding every open case on every tick (see `workflow.service_layer.reminders.work`).

Backfill: every open case gets next_action_on = 1970-01-01 ("look at it at the next tick"),
so the first tick after the upgrade folds each open case once, computes its real date with the
school calendar (which only the configuration knows, not this migration) and writes it back.
That is exactly the state a case is in after any write; nothing is skipped meanwhile.

Revision ID: 0005_next_action
Revises: 0001_core (a branch of its own, like 0002-0004; `passend init` applies every head)
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0005_next_action"
down_revision = "0001_core"
branch_labels = None
depends_on = None

LOOK_NOW = dt.date(1970, 1, 1)  # the same sentinel as workflow.adapters.store.eventstore.LOOK_NOW


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("next_action_on", sa.Date, nullable=True))
        batch.add_column(sa.Column("planned_on", sa.Date, nullable=True))
    op.create_index("ix_cases_next_action_on", "cases", ["next_action_on"])
    op.create_index("ix_cases_planned_on", "cases", ["planned_on"])
    cases = sa.table("cases", sa.column("next_action_on", sa.Date), sa.column("closed_at"))
    op.execute(cases.update().where(cases.c.closed_at.is_(None)).values(next_action_on=LOOK_NOW))


def downgrade() -> None:
    op.drop_index("ix_cases_planned_on", table_name="cases")
    op.drop_index("ix_cases_next_action_on", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("planned_on")
        batch.drop_column("next_action_on")

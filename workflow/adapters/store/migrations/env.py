"""Alembic environment: always run with a connection handed in by `workflow.adapters.store.migrate`."""

from __future__ import annotations

from alembic import context

from workflow.adapters.store import tables

target_metadata = tables.cases.metadata
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

"""The SQL store (SQLite and PostgreSQL) behind the ports of workflow.adapters.ports: tables,
connections, the event store, the case read model, the access log, the outbox, the unit of work
and the migrations."""

"""DDL the migrations share: the triggers that make a table append-only.

`events` (0001_core) and `access_log` (0003_audit) refuse UPDATE and DELETE in the database
itself, so not even a bug in passend can rewrite history. Both migrations once spelled out the
same trigger SQL; it lives here now, once. The names are part of the schema that existing
databases, `passend audit verify`'s documentation and the tamper tests rely on, and the SQL text
is byte for byte what those migrations created (SQLite stores a trigger's text as written):

- SQLite: triggers `<table>_no_update` and `<table>_no_delete`;
- PostgreSQL: function `passend_<table>_append_only()` and trigger `<table>_append_only`.

Each function runs inside an Alembic migration (it uses `alembic.op`).
"""

from __future__ import annotations

from alembic import op


def append_only_sql(dialect: str, table: str, message: str) -> list[str]:
    """The statements that make `table` refuse UPDATE and DELETE with `message`."""
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
       BEGIN SELECT RAISE(ABORT, '{message}'); END"""
            for verb in ("UPDATE", "DELETE")
        ]
    return [
        f"""CREATE OR REPLACE FUNCTION passend_{table}_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
       FOR EACH ROW EXECUTE FUNCTION passend_{table}_append_only()""",
    ]


def drop_append_only_sql(dialect: str, table: str) -> list[str]:
    """The statements that undo `append_only_sql` for `table`."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP FUNCTION IF EXISTS passend_{table}_append_only()"]


def append_only(table: str, message: str) -> None:
    """In a migration: make `table` append-only (UPDATE and DELETE raise `message`)."""
    for stmt in append_only_sql(op.get_bind().dialect.name, table, message):
        op.execute(stmt)


def drop_append_only(table: str) -> None:
    """In a migration's downgrade: remove what `append_only` created for `table`."""
    for stmt in drop_append_only_sql(op.get_bind().dialect.name, table):
        op.execute(stmt)

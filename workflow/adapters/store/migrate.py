"""Create or upgrade a database to the newest schema with Alembic (every branch head)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upgrade(engine: Engine) -> list[str]:
    """Apply all pending migrations; returns the revision heads the database is now at."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    from workflow.adapters.store import problems
    from workflow.adapters.store.schema import schema_state

    state = schema_state(engine)
    if state.status == "newer":  # Alembic would fail on the revision it does not know
        raise problems.newer(state.unknown)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # a migration may rewrite a big table: no limit here
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    with engine.connect() as conn:
        return sorted(MigrationContext.configure(conn).get_current_heads())


def current_heads(engine: Engine) -> list[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return sorted(MigrationContext.configure(conn).get_current_heads())

"""The append-only triggers come from one helper (workflow.adapters.store.ddl) and the schema is what the
migrations always created: the same names and, on SQLite, the same stored trigger text; a full
downgrade removes them and an upgrade brings back the same schema."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine as SAEngine
from sqlalchemy import text

from workflow.adapters.store.ddl import append_only_sql, drop_append_only_sql
from workflow.adapters.store.migrate import MIGRATIONS
from workflow.service_layer.engine import Engine

# What 0001_core and 0003_audit created before the helper existed, as SQLite stores it.
SQLITE_TRIGGERS = {
    "events_no_update": "CREATE TRIGGER events_no_update BEFORE UPDATE ON events\n"
                        "       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "events_no_delete": "CREATE TRIGGER events_no_delete BEFORE DELETE ON events\n"
                        "       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "access_log_no_update": "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log\n"
                            "       BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
    "access_log_no_delete": "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log\n"
                            "       BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
}
# The witness tables (0013_witness) are append-only too, made by the same helper.
WITNESS_TABLES = ("witness", "witness_leaves", "witness_timestamps")
SQLITE_TRIGGERS.update({
    f"{t}_no_{verb.lower()}": f"CREATE TRIGGER {t}_no_{verb.lower()} BEFORE {verb} ON {t}\n"
                               "       BEGIN SELECT RAISE(ABORT, 'witness roots are append-only'); END"
    for t in WITNESS_TABLES for verb in ("UPDATE", "DELETE")
})
PG_TRIGGERS = {"events_append_only": "passend_events_append_only",
               "access_log_append_only": "passend_access_log_append_only",
               **{f"{t}_append_only": f"passend_{t}_append_only" for t in WITNESS_TABLES}}


def _triggers(db: SAEngine) -> dict[str, Any]:
    with db.connect() as conn:
        if db.dialect.name == "sqlite":
            return dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())
        return dict(conn.execute(text(
            "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND n.nspname = current_schema()")).all())


def _functions(db: SAEngine) -> set[str]:
    if db.dialect.name == "sqlite":
        return set()
    with db.connect() as conn:
        return {r[0] for r in conn.execute(text(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema()"))}


def _alembic(db: SAEngine, action: str, target: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, target)


def test_the_helper_writes_the_statements_the_migrations_wrote() -> None:
    assert append_only_sql("sqlite", "events", "events are append-only") == [
        SQLITE_TRIGGERS["events_no_update"], SQLITE_TRIGGERS["events_no_delete"]]
    assert drop_append_only_sql("postgresql", "access_log") == [
        "DROP TRIGGER IF EXISTS access_log_append_only ON access_log",
        "DROP FUNCTION IF EXISTS passend_access_log_append_only()"]


def test_append_only_triggers_survive_the_refactor_and_a_round_trip(engine: Engine) -> None:
    db = engine.db
    want = SQLITE_TRIGGERS if db.dialect.name == "sqlite" else PG_TRIGGERS
    assert _triggers(db) == want
    assert _functions(db) == (set() if db.dialect.name == "sqlite" else set(PG_TRIGGERS.values()))
    _alembic(db, "downgrade", "base")
    assert _triggers(db) == {} and _functions(db) == set()
    engine.init()
    assert _triggers(db) == want

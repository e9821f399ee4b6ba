"""The tables declared once (workflow/adapters/store/tables.py) describe the schema the migrations
make, column for column and index for index, on SQLite and PostgreSQL.

The migrations keep their own frozen copies and are what creates a database; the declarations are
what every query is built from. If the two drifted, a query could name a column the database does
not have, or a new migration could be written against a table that is not there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from workflow.adapters.store.tables import metadata
from workflow.service_layer.engine import Engine


def _type(t: Any, dialect: Any) -> str:
    return str(t.compile(dialect=dialect)).upper().replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMP")


def test_the_declared_tables_are_the_migrated_ones(engine: Engine) -> None:
    db = engine.db
    found = inspect(db)
    assert set(metadata.tables) == set(found.get_table_names()) - {"alembic_version"}
    for name, table in metadata.tables.items():
        columns = {c["name"]: c for c in found.get_columns(name)}
        assert set(columns) == {c.name for c in table.columns}, name
        for col in table.columns:
            got = columns[col.name]
            assert _type(col.type, db.dialect) == _type(got["type"], db.dialect), (name, col.name)
            assert bool(col.nullable) == bool(got["nullable"]) or col.primary_key, (name, col.name)
        assert {c.name for c in table.primary_key} == set(found.get_pk_constraint(name)["constrained_columns"])
        uniques = {(u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(name)}
        declared_uniques = {(c.name, tuple(col.name for col in c.columns)) for c in table.constraints
                            if c.__class__.__name__ == "UniqueConstraint"}
        assert declared_uniques <= uniques | {(n, cols) for n, cols, _ in _indexes(found, name)}, name
        declared = {(i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes}
        reflected = {ix for ix in _indexes(found, name) if (ix[0], ix[1]) not in declared_uniques}
        assert declared == reflected, (name, declared ^ reflected)


def _indexes(found: Any, table: str) -> set[tuple[str, tuple[str, ...], bool]]:
    """Indexes of a migrated table, without those that only back a unique constraint."""
    out = set()
    for ix in found.get_indexes(table):
        if ix.get("duplicates_constraint"):
            continue
        out.add((ix["name"], tuple(ix["column_names"]), bool(ix["unique"])))
    return out

"""Does the database's schema fit this version of passend? Compared before a command runs.

Alembic records the revisions a database is at (`alembic_version`, one row per branch head).
This version of passend knows the revisions in its `migrations/versions/` folder. Three ways
they can disagree, each its own clear refusal, before anything is read or written:

- no `alembic_version` at all: the database was never set up (`passend init`);
- the database lacks revisions this version has: it is older (`passend init` upgrades it);
- the database has revisions this version does not know: it was upgraded by a newer passend,
  and an older one could write rows the newer schema does not expect (upgrade passend).

The code's revisions are read from the migration files' `revision = ...` and `down_revision =
...` lines, not through Alembic's script loader, so the check costs a directory listing, not the
import of every migration (it runs at every command's start).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.M)


@lru_cache(maxsize=1)
def code_revisions() -> dict[str, tuple[str, ...]]:
    """revision -> the revisions it revises, for every migration this version ships."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        found = dict(_ASSIGN.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        rev = ast.literal_eval(found["revision"].strip())
        down = ast.literal_eval(found.get("down_revision", "None").strip())
        graph[rev] = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    return graph


def code_heads() -> list[str]:
    graph = code_revisions()
    revised = {d for downs in graph.values() for d in downs}
    return sorted(r for r in graph if r not in revised)


def _with_ancestors(revs: set[str]) -> set[str]:
    graph = code_revisions()
    seen: set[str] = set()
    todo = list(revs)
    while todo:
        r = todo.pop()
        if r in seen:
            continue
        seen.add(r)
        todo.extend(graph.get(r, ()))
    return seen


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against this version: `status` is ok, empty, older or newer."""

    status: str
    database: tuple[str, ...]
    code: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # revisions the database has that this version does not know


def schema_state(engine: Engine) -> SchemaState:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return judge(None)
        return judge(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))


def judge(revisions: Iterable[str] | None) -> SchemaState:
    """Where a database whose `alembic_version` holds `revisions` stands (None: it has no such
    table). SQLAlchemy is imported by `schema_state` only: the driver-only read of one case
    (store.direct) reads the rows itself and asks here."""
    code = tuple(code_heads())
    if revisions is None:
        return SchemaState("empty", (), code)
    db = tuple(sorted(revisions))
    if not db:
        return SchemaState("empty", db, code)
    unknown = tuple(r for r in db if r not in code_revisions())
    if unknown:
        return SchemaState("newer", db, code, unknown)
    if not set(code) <= _with_ancestors(set(db)):
        return SchemaState("older", db, code)
    return SchemaState("ok", db, code)

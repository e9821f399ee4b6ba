"""Statements and row forms that the SQL store and the driver-only read of one case share.

The driver-only read (store.direct) must read and write these rows exactly as the SQL store
does: the acting user as `SqlUserLookup` reads it, the access log's head and rows as
`SqlAccessLog` writes them (same columns, same stored time form, same chain). Written once,
here, without SQLAlchemy.
"""

from __future__ import annotations

import json
from typing import Any

from workflow.adapters.access_chain import FIELDS
from workflow.adapters.codec import stored_time
from workflow.adapters.config import User
from workflow.adapters.port_values import Acting
from workflow.domain.events import GENESIS_HASH

# The acting user: one read by primary key (qmark style; PostgreSQL's drivers want %s).
ACTING_SQL = "SELECT name, role, schools, email, disabled_at IS NOT NULL FROM users WHERE id = ?"
# The access log's newest hash, read under the append lock (store.access_log.locked_head).
ACCESS_HEAD_SQL = "SELECT hash FROM access_log ORDER BY id DESC LIMIT 1"
ACCESS_COLUMNS = (*FIELDS, "prev_hash", "hash")
ACCESS_INSERT_SQL = (f"INSERT INTO access_log ({', '.join(ACCESS_COLUMNS)}) "
                     f"VALUES ({', '.join('?' * len(ACCESS_COLUMNS))})")


def acting(user_id: str, row: tuple[Any, ...] | None) -> Acting | None:
    """The ACTING_SQL row of `user_id` as the `UserLookup` port gives it."""
    if row is None:
        return None
    name, role, schools, email, disabled = row
    return Acting(User(user_id, role, tuple(json.loads(schools)), name, email), not disabled)


def head_hash(row: tuple[Any, ...] | None) -> str:
    """The ACCESS_HEAD_SQL row as the chain's newest hash (64 zeros for an empty log)."""
    return GENESIS_HASH if row is None or row[0] is None else str(row[0])


def access_values(record: dict[str, Any]) -> tuple[Any, ...]:
    """A sealed access record as ACCESS_INSERT_SQL binds it on SQLite (its time as SQLAlchemy
    stores a UTC instant there: workflow.adapters.codec.stored_time)."""
    return (stored_time(record["at"]), *(record[c] for c in ACCESS_COLUMNS[1:]))

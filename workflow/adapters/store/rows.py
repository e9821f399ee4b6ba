"""Statements and row forms that the SQL store and the driver-only read of one case share.

The driver-only read (store.direct) must read and write these rows exactly as the SQL store
does: the acting user as `SqlUserLookup` reads it, the access log's head and rows as
`SqlAccessLog` writes them (same columns, same stored time form, same chain). Written once,
here, without SQLAlchemy.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from workflow.adapters.access_chain import FIELDS
from workflow.adapters.codec import read_instant, stored_instant, stored_time
from workflow.adapters.config import User
from workflow.adapters.port_values import Acting
from workflow.domain.events import GENESIS_HASH

if TYPE_CHECKING:
    from workflow.adapters.ports import TokenRecord

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


# An API token: found by its secret's keyed hash (a request's bearer), or by its name (the
# acting token of a command, in the command's own unit of work).
TOKEN_COLUMNS = "name, token_hash, role, schools, created_by, created_at, revoked_at, last_used_at"
TOKEN_BY_HASH_SQL = f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?"
TOKEN_BY_NAME_SQL = f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE name = ?"


def token(row: tuple[Any, ...] | None) -> TokenRecord | None:
    """A TOKEN_COLUMNS row as the `ApiTokens` and `UserLookup` ports give it."""
    if row is None:
        return None
    from workflow.adapters.ports import TokenRecord  # here: the read of one case need not build the ports

    return TokenRecord(name=row[0], token_hash=row[1], role=row[2], schools=tuple(json.loads(row[3])),
                       created_by=row[4], created_at=stored_instant(row[5]), revoked_at=read_instant(row[6]),
                       last_used_at=read_instant(row[7]))


def head_hash(row: tuple[Any, ...] | None) -> str:
    """The ACCESS_HEAD_SQL row as the chain's newest hash (64 zeros for an empty log)."""
    return GENESIS_HASH if row is None or row[0] is None else str(row[0])


def access_values(record: dict[str, Any]) -> tuple[Any, ...]:
    """A sealed access record as ACCESS_INSERT_SQL binds it on SQLite (its time as SQLAlchemy
    stores a UTC instant there: workflow.adapters.codec.stored_time)."""
    return (stored_time(record["at"]), *(record[c] for c in ACCESS_COLUMNS[1:]))

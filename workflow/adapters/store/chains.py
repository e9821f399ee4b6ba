"""The audit's raw reads: stored rows as plain tuples, a batch at a time, in one snapshot.

`audit verify` hashes every stored event and access record, `export` writes them out and
`replay`/`compliance` fold them, a million rows and more. SQLAlchemy's Row objects would cost
more than the hashing, so these reads go to the driver: on SQLite the DBAPI cursor itself (its
text, for verify, fetched as UTF-8 bytes, which is what gets hashed anyway); on PostgreSQL a
named, server-side psycopg cursor, with its timestamptz formatted as SQLite's stored text so
both take the same fast path, and case ids ordered bytewise (COLLATE "C"), as Python compares
them when it merges two streams. The event store, the case read model and the access log of
a unit of work (eventstore.py, cases.py, access_log.py) read through here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Generator, Iterator
from typing import Any

from sqlalchemy import Connection, text

# Column order of the raw event rows (workflow.adapters.ports.RAW_EVENT_COLUMNS).
COLUMNS = ("case_id", "seq", "type", "process_id", "process_version", "actor", "role",
           "recorded_at", "payload", "prev_hash", "hash")
EVENTS_SQL = (f"SELECT {', '.join(COLUMNS)} FROM events")
_PG_TIME = "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS recorded_at"
_PG_EVENTS_SQL = "SELECT " + ", ".join(_PG_TIME if c == "recorded_at" else c for c in COLUMNS) + " FROM events"
_PARAM = re.compile(r":([a-z_][a-z0-9_]*)")
_cursor_ids = itertools.count(1)
ORDER_SQL = " ORDER BY case_id, seq, id"
CASES_SQL = "SELECT case_id, version, head_hash FROM cases ORDER BY case_id"
_ACCESS_COLUMNS = "id, {at}, actor, role, action, case_id, school, purpose, on_behalf_of, source, prev_hash, hash"
ACCESS_SQL = {
    "sqlite": "SELECT " + _ACCESS_COLUMNS.format(at="at") + " FROM access_log ORDER BY id",
    "postgresql": "SELECT " + _ACCESS_COLUMNS.format(at="to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
                  + " FROM access_log ORDER BY id",
}
# Rows per fetch. 2 000 rows are still in the CPU cache when the loop hashes them: 10% faster
# than 10 000 over a million events, and as few round trips as matter on PostgreSQL.
BATCH = 2_000

Row = tuple[Any, ...]


def probe(conn: Connection, sql: str) -> None:
    """Run `sql` (a `... WHERE 1 = 0`) through SQLAlchemy, so a missing table or column is its
    DBAPIError, which the command line explains in one line, not a bare driver error."""
    conn.execute(text(sql)).close()


def event_filter(schools: Any, case_id: str | None, since: Any, sqlite: bool,
                 case_ids: Any = None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (bound parameters only, never user text) of an events read."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if case_id is not None:
        where.append("case_id = :cid")
        params["cid"] = case_id
    if case_ids is not None:
        ids = [f"c{i}" for i in range(len(case_ids))]
        where.append(f"case_id IN ({', '.join(':' + n for n in ids)})" if ids else "1 = 0")
        params.update(zip(ids, case_ids, strict=True))
    if schools is not None:
        names = [f"s{i}" for i in range(len(schools))]
        where.append(f"case_id IN (SELECT case_id FROM cases WHERE school IN ({', '.join(':' + n for n in names)}))")
        params.update(zip(names, schools, strict=True))
    if since is not None:
        where.append("recorded_at >= :since")
        params["since"] = since.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else since
    return (" WHERE " + " AND ".join(where)) if where else "", params


def fetch_batches(conn: Connection, sql: str, params: dict[str, Any] | None, *,
                  as_bytes: bool = False) -> Generator[list[Row], None, None]:
    """Stream raw tuples, BATCH at a time, inside the connection's transaction (one snapshot
    for every cursor). `sql` uses `:name` parameters.

    With `as_bytes` SQLite's text comes as UTF-8 bytes (see `drain_batches`). PostgreSQL gets a
    server-side cursor and always gives str.
    """
    if not conn.in_transaction():
        conn.begin()
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        raw = dbapi if as_bytes and hasattr(dbapi, "text_factory") else None
        yield from drain_batches(dbapi.cursor(), sql, params or {}, raw)
        return
    if sql.startswith(EVENTS_SQL):
        sql = _PG_EVENTS_SQL + sql[len(EVENTS_SQL):]
    sql = sql.replace(" ORDER BY case_id", ' ORDER BY case_id COLLATE "C"')
    cur = dbapi.cursor(name=f"passend_audit_{next(_cursor_ids)}")
    cur.itersize = BATCH
    yield from drain_batches(cur, _PARAM.sub(r"%(\1)s", sql), params or {})


def fetch(conn: Connection, sql: str, params: dict[str, Any] | None) -> Iterator[Row]:
    batches = fetch_batches(conn, sql, params)
    try:
        for chunk in batches:
            yield from chunk
    finally:
        batches.close()


def drain_batches(cur: Any, sql: str, params: dict[str, Any],
                  bytes_of: Any = None) -> Generator[list[Row], None, None]:
    """Run `sql` on a DBAPI cursor and yield its rows BATCH at a time; the cursor is closed
    however the caller stops (the end, an error, or a generator dropped halfway).

    `bytes_of`: a sqlite3 connection whose text is wanted as bytes. Its `text_factory` is
    switched only around each fetchmany (sqlite3 reads it per fetched row), so any other
    cursor on the connection, such as a diagnosis or the cases stream read between two
    batches, still gets str.
    """
    try:
        cur.execute(sql, params)
        while True:
            if bytes_of is None:
                chunk = cur.fetchmany(BATCH)
            else:
                before = bytes_of.text_factory
                bytes_of.text_factory = bytes
                try:
                    chunk = cur.fetchmany(BATCH)
                finally:
                    bytes_of.text_factory = before
            if not chunk:
                return
            yield chunk
    finally:
        cur.close()


def drain(cur: Any, sql: str, params: dict[str, Any]) -> Generator[Row, None, None]:
    """`drain_batches` row by row (the cursor is closed as there)."""
    batches = drain_batches(cur, sql, params)
    try:
        for chunk in batches:
            yield from chunk
    finally:
        batches.close()

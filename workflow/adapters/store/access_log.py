"""The SQL access log (the `AccessLog` port): append-only by database triggers, hash-chained.

Records are appended under a lock, so two writers never seal onto the same head: on SQLite the
writer's BEGIN IMMEDIATE (a unit of work that writes), on PostgreSQL a transaction-scoped
advisory lock taken before the head is read. A unique index on `prev_hash` refuses a fork even
so. The chain's form and its check are workflow.adapters.access_chain.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, text

from workflow.adapters import access_chain
from workflow.adapters.access_chain import AccessChainReport
from workflow.adapters.store import chains
from workflow.adapters.store.tables import access_log
from workflow.domain.events import GENESIS_HASH

if TYPE_CHECKING:
    from workflow.adapters.readmodels import AccessRecord
    from workflow.adapters.store.eventstore import Driver

# pg_advisory_xact_lock's key for appending to the access log: "pass" in ASCII.
_PG_LOCK_KEY = 0x70617373
CHUNK = access_chain.CHUNK  # records sealed and inserted per statement


def newest_hash(conn: Connection) -> str:
    row = conn.execute(select(access_log.c.hash).order_by(access_log.c.id.desc()).limit(1)).first()
    return GENESIS_HASH if row is None or row.hash is None else str(row.hash)


def locked_head(conn: Connection) -> str:
    """The hash of the newest record (64 zeros for an empty log), taken under the append lock.

    The caller's transaction must be able to write: on SQLite one begun IMMEDIATE or that has
    already written; on PostgreSQL the advisory lock taken here lasts until it ends.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    return newest_hash(conn)


_COLUMNS = ("at", "actor", "role", "action", "case_id", "school", "purpose", "on_behalf_of", "source",
            "prev_hash", "hash")
_INSERT = f"INSERT INTO access_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_HEAD = "SELECT hash FROM access_log ORDER BY id DESC LIMIT 1"


class SqlAccessLog:
    """The access log in one unit of work's transaction.

    `driver`: the unit's driver connection (store.eventstore.Driver). Appends then go straight
    to it: every case page viewed appends one record, and SQLAlchemy's statement machinery
    around two small statements cost more than they do. Without one (a borrowed Connection),
    through SQLAlchemy Core; the rows and the chain are the same either way."""

    def __init__(self, connect: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._connect = connect
        self._driver = driver

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        if self._driver is not None:
            return self._append_driver(self._driver(), iter(records))
        conn = self._connect()
        it = iter(records)
        written = 0
        head: str | None = None  # read under the lock once, then carried from chunk to chunk
        while chunk := list(itertools.islice(it, CHUNK)):
            head = access_chain.seal(chunk, locked_head(conn) if head is None else head)
            conn.execute(insert(access_log), chunk)
            written += len(chunk)
        return written

    @staticmethod
    def _append_driver(d: Driver, it: Iterator[dict[str, Any]]) -> int:
        """`append` through the driver: the same lock, head, seal and rows as the Core path."""
        written = 0
        head: str | None = None
        while chunk := list(itertools.islice(it, CHUNK)):
            if head is None:
                if not d.sqlite:
                    d.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,)).close()
                cur = d.execute(_HEAD, ())
                row = cur.fetchone()
                cur.close()
                head = GENESIS_HASH if row is None or row[0] is None else str(row[0])
            head = access_chain.seal(chunk, head)
            cur = d.dbapi.cursor()
            cur.executemany(d.sql(_INSERT), [tuple(d.time(r["at"]) if c == "at" else r[c] for c in _COLUMNS)
                                             for r in chunk])
            cur.close()
            written += len(chunk)
        return written

    def of_case(self, case_id: str) -> list[AccessRecord]:
        from workflow.adapters.readmodels import AccessRecord

        t = access_log
        rows = self._connect().execute(
            select(t.c.id, t.c.at, t.c.actor, t.c.role, t.c.action, t.c.case_id, t.c.school, t.c.purpose,
                   t.c.on_behalf_of, t.c.source)
            .where(t.c.case_id == case_id).order_by(t.c.at, t.c.id))
        return [AccessRecord(**r._asdict()) for r in rows]

    def head(self) -> dict[str, Any]:
        conn = self._connect()
        n = conn.execute(select(func.count()).select_from(access_log)).scalar_one()
        return {"records": int(n), "head_hash": newest_hash(conn)}

    def walk(self, *, progress: Callable[[int], None] | None = None,
             anchor: str | None = None) -> AccessChainReport:
        conn = self._connect()
        # Through SQLAlchemy first, so a schema from before 0008 is its DBAPIError (one clear CLI line).
        chains.probe(conn, "SELECT prev_hash, hash FROM access_log WHERE 1 = 0")
        batches = chains.fetch_batches(conn, chains.ACCESS_SQL[conn.dialect.name], None)
        try:
            return access_chain.check(batches, progress=progress, anchor=anchor)
        finally:
            batches.close()

"""The SQL access log (the `AccessLog` port): append-only by database triggers, hash-chained.

Records are appended under a lock, so two writers never seal onto the same head: on SQLite the
writer's BEGIN IMMEDIATE (a unit of work that writes), on PostgreSQL a transaction-scoped
advisory lock taken before the head is read. A unique index on `prev_hash` refuses a fork even
so. The chain's form and its check are workflow.adapters.access_chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from workflow.adapters import access_chain
from workflow.adapters.access_chain import AccessChainReport
from workflow.adapters.store import chains, rows
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import access_log
from workflow.domain.events import GENESIS_HASH

if TYPE_CHECKING:
    from workflow.adapters.readmodels import AccessRecord

# pg_advisory_xact_lock's key for appending to the access log: "pass" in ASCII.
_PG_LOCK_KEY = 0x70617373


def newest_hash(conn: Connection) -> str:
    row = conn.execute(select(access_log.c.hash).order_by(access_log.c.id.desc()).limit(1)).first()
    return GENESIS_HASH if row is None or row.hash is None else str(row.hash)


def _locked_head(d: Driver) -> str:
    """The hash of the newest record (64 zeros for an empty log), taken under the append lock.

    The caller's transaction must be able to write: on SQLite one begun IMMEDIATE or that has
    already written; on PostgreSQL the advisory lock taken here lasts until it ends.
    """
    if not d.sqlite:
        d.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,)).close()
    cur = d.execute(rows.ACCESS_HEAD_SQL, ())
    try:
        return rows.head_hash(cur.fetchone())
    finally:
        cur.close()


class SqlAccessLog:
    """The access log in one unit of work's transaction.

    Appends go through the driver connection (store.eventstore.Driver): the unit's own, or, for
    a borrowed Connection, the one under it. Every case page viewed appends one record, and
    SQLAlchemy's statement machinery around two small statements cost more than they do. The
    statements and row form are store.rows', which the driver-only read (store.direct) shares."""

    def __init__(self, connect: Callable[[], Connection], driver: Callable[[], Driver] | None = None) -> None:
        self._connect = connect
        self._driver = driver or (lambda: Driver.of(connect()))

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        d = self._driver()
        written = 0
        for chunk in access_chain.sealed_chunks(records, lambda: _locked_head(d)):
            cur = d.dbapi.cursor()
            cur.executemany(d.sql(rows.ACCESS_INSERT_SQL),
                            [(d.time(r["at"]), *(r[c] for c in rows.ACCESS_COLUMNS[1:])) for r in chunk])
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

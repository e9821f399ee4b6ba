"""The SQL event store (the `EventStore` port): append a case's new events and its projection
row, or load them back; the wrapped data keys; the raw stored rows for the audit.

Appends are checked against the version the command read: the projection row is updated
only `WHERE version = expected`, and (case_id, seq) is unique, so of two writers one loses.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from workflow.adapters.codec import CASE_EVENTS_SQL, CASE_KEY_SQL, restore_case_rows, stored_time
from workflow.adapters.ports import LOOK_NOW, Derive, NewCase, RawEvent
from workflow.adapters.projection import fold, projection_values
from workflow.adapters.store import chains
from workflow.adapters.store import worklist as _worklist
from workflow.adapters.store.tables import case_keys, cases, events
from workflow.domain.errors import Conflict, Said
from workflow.domain.events import Event

if TYPE_CHECKING:
    from workflow.domain.case import Case

# Hot statements are built once: building a Core statement per call (coercing every column and
# computing its cache key) cost more than SQLite's own work for a `fire`. A statement object
# memoises its cache key, so reusing it leaves only parameter binding per call.
_PROJECTION_COLUMNS = (
    "school", "school_group", "state", "level", "process_id", "process_version", "version",
    "head_hash", "opp_active", "opened_at", "state_entered_at", "updated_at", "closed_at",
    "close_reason", "next_action_on", "planned_on",
)
# Every write hands the case back to the reminder planner (projection.LOOK_NOW, re-exported here).
__all__ = ["LOOK_NOW", "Driver", "EventStore", "NewCase"]
_INSERT_EVENT = insert(events)
_INSERT_CASE = insert(cases)
_INSERT_KEY = insert(case_keys)


# The three statements of every command (load a case's events, append one, move the projection)
# go straight to the driver's cursor: SQLAlchemy's execution and result machinery cost three
# times SQLite's own work for them. Datetimes are bound and read in the exact form SQLAlchemy
# uses (naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite, timestamptz on PostgreSQL), so
# rows written either way are the same, and a driver's IntegrityError still becomes a Conflict.
_EVENT_COLUMNS = ("case_id", "seq", "type", "process_id", "process_version", "actor", "role",
                  "recorded_at", "payload", "prev_hash", "hash")
_RAW_SELECT_EVENTS = CASE_EVENTS_SQL  # the case's id is not fetched back once per event
_RAW_SELECT_KEY = CASE_KEY_SQL
_RAW_INSERT_EVENT = f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
# A command rewrites only the projection columns its events can change: school, group, process
# and opening time are fixed when a case is opened, and setting an indexed column rewrites its
# index entries even when the value stays the same (SQLite decides by the SET list, not by value).
# Every write moves version, head and the planner's days; a transition also moves the state.
UPDATED_ALWAYS = ("version", "head_hash", "updated_at", "next_action_on", "planned_on")
UPDATED_ON_MOVE = (*UPDATED_ALWAYS, "state", "level", "opp_active", "state_entered_at", "closed_at",
                   "close_reason")
# An import moves the state as a transition does; a migration also moves the process version.
UPDATED_ON_MIGRATE = (*UPDATED_ON_MOVE, "process_version")
MOVING_EVENTS = frozenset({"transitioned", "imported", "migrated"})


def update_case_sql(columns: Sequence[str]) -> str:
    """The projection UPDATE of one command, in qmark style, guarded by the version it read."""
    return f"UPDATE cases SET {', '.join(c + ' = ?' for c in columns)} WHERE case_id = ? AND version = ?"


_RAW_UPDATE_CASE = {False: update_case_sql(UPDATED_ALWAYS), True: update_case_sql(UPDATED_ON_MOVE),
                    "migrated": update_case_sql(UPDATED_ON_MIGRATE)}
_UPDATED: dict[bool | str, tuple[str, ...]] = {False: UPDATED_ALWAYS, True: UPDATED_ON_MOVE,
                                               "migrated": UPDATED_ON_MIGRATE}
_DATETIME_COLUMNS = frozenset({"opened_at", "state_entered_at", "updated_at", "closed_at", "recorded_at"})


_sqlite_time = stored_time  # how a datetime is bound on SQLite (codec.stored_time)
_projection_values = projection_values  # the projection row (workflow.adapters.projection)


class Driver:
    """A DBAPI connection with SQL in its parameter style: the hot statements' way to the database.

    On SQLite (which this project runs with the driver's autocommit, issuing BEGIN itself) a
    statement after a commit would run outside any transaction, so `rebegin` makes the next
    statement open one again first: a unit of work may commit and go on.

    On PostgreSQL every statement is a round trip to the server, and a command's own work is a
    few of them, so a unit of work's driver (`begins`) saves what it can (BENCHMARKS.md, 8e and
    13). Its statements go through libpq's pipeline mode directly (store.pgwire: psycopg's
    cursors and pipeline object cost more client CPU than the waits they saved), a batch at a
    time, one round trip a batch:

    - the transaction's BEGIN travels with its first statement. The connection runs in psycopg's
      autocommit mode and the driver sends BEGIN itself; the server is then in a transaction
      block and every later statement, the driver's or SQLAlchemy's, runs in it until COMMIT or
      ROLLBACK (store.db's `begin` listener hands the connection back to psycopg's own BEGIN
      when SQLAlchemy starts a transaction on it outside one);
    - `together()`: statements whose results are not needed one by one (an append's INSERT and
      UPDATE and the read of the work list's rows) go in one batch;
    - `defer()`: a statement whose result is not needed yet (the work list's changed rows, or a
      read asked ahead, such as the acting user's) waits for the next statement or the COMMIT
      and travels with it; `flush()` sends what waits (the unit of work calls it before
      SQLAlchemy uses the connection; a deferred read's result sends it when first fetched), a
      rollback drops it (`discard()`);
    - `prepare=True` prepares a fixed statement on the server at its first use on a connection
      (pooled connections keep them; psycopg's `prepare_threshold=None` in the connection's
      arguments turns preparing off, for a pooler that cannot keep them).

    A driver under a SQLAlchemy Connection (`Driver.of`) leaves all this to psycopg's cursors.
    """

    def __init__(self, dialect: Any, dbapi: Any, *, begin_sql: str | None = None, begins: bool = True,
                 info: dict[str, Any] | None = None) -> None:
        self.sqlite = dialect.name == "sqlite"
        self.dbapi = dbapi
        self.integrity_error: type[Exception] = dialect.loaded_dbapi.IntegrityError
        self.begin_sql = begin_sql
        self.rebegin = False
        # PostgreSQL: the unit's statements through libpq's pipeline (see the class); pipeline
        # mode needs libpq 14 or later, else psycopg's cursors and its own BEGIN as before.
        self._wire: Any = None
        if begins and not self.sqlite:
            wire_of = _wire_of()
            if wire_of is not None:
                self._wire = wire_of(dbapi, info if info is not None else {})
        self._batching = False
        self._queue: list[Any] = []  # PostgreSQL: (text, params, Result or None, prepare), not yet sent
        # A command binds its own instant up to four times (event, updated, entered, closed):
        # formatted once per unit of work, which is what a Driver lives for.
        self._last_time: tuple[dt.datetime | None, Any] = (None, None)

    @classmethod
    def of(cls, conn: Connection) -> Driver:
        """The driver under a SQLAlchemy Connection (tests and tools that hold one): it leaves
        beginning the transaction to SQLAlchemy and psycopg."""
        return cls(conn.dialect, conn.connection.driver_connection, begins=False)

    def sql(self, text: str) -> str:
        return text if self.sqlite else _pg_sql(text)

    def time(self, value: dt.datetime | None) -> Any:
        if not self.sqlite or value is None:
            return value
        last = self._last_time
        if last[0] is value:
            return last[1]
        text = _sqlite_time(value)
        self._last_time = (value, text)
        return text

    def date(self, value: Any) -> Any:
        """A date as SQLAlchemy's Date stores it on SQLite ('YYYY-MM-DD'); anything else as is."""
        return value.isoformat() if self.sqlite and type(value) is dt.date else value

    def rows_in(self, text: str, ids: Sequence[Any], *, chunk: int = 500) -> Iterator[Any]:
        """The rows of `text` (qmark style) for `ids`, each `{ids}` in it an IN list, asked
        `chunk` ids a statement: a long list given to SQLAlchemy cost more in rendering than the
        query itself (`reminders due` asks about every case of its scan)."""
        lists = text.count("{ids}")
        for i in range(0, len(ids), chunk):
            part = list(ids[i:i + chunk])
            yield from self.execute(text.format(ids=", ".join("?" * len(part))), part * lists).fetchall()

    def execute(self, text: str, params: Sequence[Any], *, prepare: bool | None = None) -> Any:
        """Run `text` (qmark style) and return its cursor. On PostgreSQL inside `together()` the
        statement is only queued: its cursor has its results when the block has ended."""
        if self.rebegin:
            self.rebegin = False
            if self.begin_sql is not None and not self.dbapi.in_transaction:
                self.dbapi.execute(self.begin_sql)
        if self.sqlite:
            cur = self.dbapi.cursor()
            cur.execute(text, params)
            return cur
        if self._wire is None:
            cur = self.dbapi.cursor()
            cur.execute(_pg_sql(text), params, prepare=prepare)
            return cur
        result = self._wire.result(self._send)
        self._queue.append((text, params, result, bool(prepare)))
        if not self._batching:
            self._send()
        return result

    def defer(self, text: str, params: Sequence[Any], *, read: bool = False) -> Any:
        """Run a statement whose result is not needed yet: at once on SQLite, or for a driver that
        leaves the transaction to SQLAlchemy; on a unit of work's PostgreSQL connection with the
        next statement or the COMMIT, in the same round trip. Returns its cursor when `read`:
        fetching from it sends it first if it has not gone yet."""
        if self._wire is not None:
            result = self._wire.result(self._send) if read else None
            self._queue.append((text, params, result, True))
            return result
        if self.sqlite and not self.rebegin:
            cur = self.dbapi.execute(text, params)
        else:
            cur = self.execute(text, params, prepare=True)
        # Read to the end now: a SQLite statement left unfinished keeps its snapshot past the
        # transaction's end (Python 3.11's sqlite3 no longer resets statements on ROLLBACK), and
        # the connection could not write again.
        return _Fetched(cur.fetchall()) if read else cur

    def _send(self) -> None:
        """The queued statements in one round trip, after a BEGIN when no transaction is open."""
        batch, self._queue = self._queue, []
        if not batch:
            return
        dbapi = self.dbapi
        if dbapi.pgconn.transaction_status == _PG_IDLE:
            if not dbapi.autocommit:
                dbapi.autocommit = True
            batch.insert(0, _BEGIN)
        self._wire.run(batch)

    def flush(self) -> None:
        """Send the deferred statements now (before anyone else uses the connection)."""
        if self._queue and not self._batching:
            self._send()

    def discard(self) -> None:
        """Forget the deferred statements: their transaction is being rolled back."""
        self._queue.clear()

    def commit(self) -> None:
        """COMMIT, with the deferred writes before it in the same round trip."""
        if self._wire is None or (not self._queue and self.dbapi.pgconn.transaction_status == _PG_IDLE):
            self.dbapi.commit()
            return
        self._queue.append(_COMMIT)
        self._send()

    def together(self) -> AbstractContextManager[Any]:
        """A block whose PostgreSQL statements travel to the server together when it ends; an
        error of any of them is raised then. Nothing on SQLite."""
        if self._wire is None or self._batching:
            return _NOTHING
        return _Batch(self)


class _Fetched:
    """Rows already read, as a cursor hands them out (Driver.defer's `read` off a unit's
    PostgreSQL connection)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    @property
    def rowcount(self) -> int:
        return len(self._rows)

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def close(self) -> None:
        self._rows = []


class _Batch:
    """One batch on the driver's connection; a block inside it joins it (see Driver.together)."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._queued = 0

    def __enter__(self) -> None:
        self._driver._batching = True
        self._queued = len(self._driver._queue)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        driver = self._driver
        driver._batching = False
        if exc is not None:
            del driver._queue[self._queued:]  # the block's statements were never sent
        elif driver._queue:
            driver._send()


_NOTHING: AbstractContextManager[Any] = nullcontext()  # reusable: SQLite's `together()`, every append
_PG_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction open on the server
_BEGIN = ("BEGIN", None, None, False)
_COMMIT = ("COMMIT", None, None, False)


@functools.cache
def _pg_sql(text: str) -> str:
    return text.replace("?", "%s")


@functools.cache
def pipelines() -> bool:
    """Whether psycopg's libpq has pipeline mode (libpq 14 and later)."""
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


@functools.cache
def _wire_of() -> Callable[[Any, dict[str, Any]], Any] | None:
    """store.pgwire's `wire_of` where libpq has pipelines, else None. Imported when a unit of
    work first runs on PostgreSQL (pgwire imports psycopg, which SQLite's reads never need) and
    kept: an import statement in Driver.__init__ ran for every command."""
    if not pipelines():
        return None
    from workflow.adapters.store.pgwire import wire_of

    return wire_of


def row_to_event(row: Any) -> Event:
    return Event(
        case_id=row.case_id, seq=row.seq, type=row.type, process_id=row.process_id,
        process_version=row.process_version, actor=row.actor, role=row.role,
        recorded_at=row.recorded_at, payload=json.loads(row.payload), prev_hash=row.prev_hash,
        hash=row.hash, payload_json=row.payload,
    )


def event_values(ev: Event) -> dict[str, Any]:
    return {
        "case_id": ev.case_id, "seq": ev.seq, "type": ev.type, "process_id": ev.process_id,
        "process_version": ev.process_version, "actor": ev.actor, "role": ev.role,
        "recorded_at": ev.recorded_at, "payload": ev.payload_text,
        "prev_hash": ev.prev_hash, "hash": ev.hash,
    }


class EventStore:
    """Reads and writes of one unit of work. `conn` may be a SQLAlchemy Connection or a function
    that makes one when first needed: a command that only loads and appends never needs one (the
    unit of work hands over the driver), and SQLAlchemy's connection and transaction objects
    cost more than SQLite's own BEGIN and COMMIT."""

    def __init__(self, conn: Connection | Callable[[], Connection], driver: Driver | None = None,
                 derive: Derive | None = None) -> None:
        self._derive = derive  # the work list of a case (domain.worklist.Deriver); None: not kept
        self._conn: Connection | None = None
        self._connect: Callable[[], Connection] | None = None
        if isinstance(conn, Connection):
            self._conn = conn
        else:
            self._connect = conn
        self._driver = driver

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            assert self._connect is not None
            self._conn = self._connect()
        return self._conn

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            self._driver = Driver.of(self.conn)
        return self._driver

    # ---- reading -------------------------------------------------------------------------
    def events_of(self, case_id: str) -> list[Event]:
        return restore_case_rows(case_id, self.driver.execute(_RAW_SELECT_EVENTS, (case_id,), prepare=True).fetchall())

    def load(self, case_id: str, *, first: Callable[[], object] | None = None) -> Case | None:
        """The case folded from its events; None when it has none (projection.fold). `first`
        is called between the read and the fold (the ports' EventStore.load)."""
        if first is None:
            return fold(case_id, self.events_of)
        rows = self.driver.execute(_RAW_SELECT_EVENTS, (case_id,), prepare=True).fetchall()
        first()
        return fold(case_id, lambda cid: restore_case_rows(cid, rows))

    def stream(self, case_id: str | None = None, batch: int = 5000) -> Iterator[Any]:
        """All event rows in (case, seq) order without holding them in memory."""
        q = select(events).order_by(events.c.case_id, events.c.seq)
        if case_id is not None:
            q = q.where(events.c.case_id == case_id)
        result = self.conn.execution_options(stream_results=True, yield_per=batch).execute(q)
        yield from result

    def projection(self, case_id: str) -> Any | None:
        """The case's whole `cases` row (every column), for tests and tools that check what the
        store wrote; services read the projection through the case read model (store.cases)."""
        return self.conn.execute(select(cases).where(cases.c.case_id == case_id)).first()

    def raw_batches(self, *, schools: Sequence[str] | None = None, case_id: str | None = None,
                    case_ids: Sequence[str] | None = None, since: dt.datetime | None = None,
                    as_bytes: bool = False) -> Iterator[list[RawEvent]]:
        """The stored rows (chains.COLUMNS), a batch at a time, in (case, seq) order, from this
        unit's transaction; on SQLite with `as_bytes` their text as UTF-8 bytes (verify)."""
        conn = self.conn
        chains.probe(conn, "SELECT 1 FROM events, cases WHERE 1 = 0")
        where, params = chains.event_filter(schools, case_id, since, conn.dialect.name == "sqlite", case_ids)
        return chains.fetch_batches(conn, chains.EVENTS_SQL + where + chains.ORDER_SQL, params,
                                    as_bytes=as_bytes)

    # ---- keys ------------------------------------------------------------------------------
    def put_key(self, case_id: str, wrapped: bytes, now: dt.datetime) -> None:
        self.conn.execute(_INSERT_KEY, {"case_id": case_id, "wrapped": wrapped, "created_at": now})

    def wrapped_key(self, case_id: str) -> bytes | None:
        # Through the driver like a case's events: `record` reads the key for every command.
        row = self.driver.execute(_RAW_SELECT_KEY, (case_id,), prepare=True).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def destroy_key(self, case_id: str, now: dt.datetime) -> None:
        """Destroy the wrapped key. On SQLite the freed bytes are overwritten as they are freed
        (secure_delete, from here to the end of the connection's transaction); the store's
        `scrub` then pushes them out of the WAL, and on PostgreSQL out of dead row versions."""
        conn = self.conn
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        conn.execute(update(case_keys).where(case_keys.c.case_id == case_id).values(wrapped=None, destroyed_at=now))

    # ---- writing ---------------------------------------------------------------------------
    def append(
        self, case: Case, new: Sequence[Event], *, expected_version: int,
        pupil_index: str | None = None, now: dt.datetime,
    ) -> None:
        """Store `new` (already folded into `case`) and bring the projection up to date."""
        if not new:
            return
        worklist = self._derive(case) if self._derive is not None else None
        values = projection_values(case, now, worklist)
        if expected_version == 0:
            self.conn.execute(_INSERT_EVENT, [event_values(e) for e in new])
            values["pupil_index"] = pupil_index
            self.conn.execute(_INSERT_CASE, values)
            if worklist is not None:
                _worklist.sync(self.driver, case.case_id, case.school, case.opened_at, worklist, fresh=True)
            return
        drv = self.driver
        stored = None
        try:
            # One round trip on PostgreSQL: the events, the projection's UPDATE and the read of the
            # work list's stored rows go together, and their results come back together.
            with drv.together():
                for e in new:  # the values of _EVENT_COLUMNS, in order
                    drv.execute(_RAW_INSERT_EVENT, (
                        e.case_id, e.seq, e.type, e.process_id, e.process_version, e.actor, e.role,
                        drv.time(e.recorded_at), e.payload_text, e.prev_hash, e.hash,
                    ), prepare=True)
                moved: bool | str = "migrated" if any(e.type == "migrated" for e in new) else \
                    any(e.type in MOVING_EVENTS for e in new)
                params = [drv.time(values[c]) if c in _DATETIME_COLUMNS else drv.date(values[c])
                          for c in _UPDATED[moved]]
                params += [case.case_id, expected_version]
                updated = drv.execute(_RAW_UPDATE_CASE[moved], params, prepare=True)
                if worklist is not None:
                    stored = _worklist.ask_stored(drv, case.case_id)
            rowcount = updated.rowcount
        except drv.integrity_error:
            raise Conflict(Said("store.conflict.case_changed", case_id=case.case_id)) from None
        if rowcount != 1:
            raise Conflict(Said("store.conflict.case_changed", case_id=case.case_id))
        if worklist is not None:
            _worklist.sync(drv, case.case_id, case.school, case.opened_at, worklist, fresh=False, stored_cursor=stored)

    def refresh_worklist(self, case: Case) -> None:
        if self._derive is not None:
            _worklist.sync(self.driver, case.case_id, case.school, case.opened_at, self._derive(case), fresh=False)

    def import_new_cases(self, batch: Sequence[NewCase]) -> None:
        """Insert whole new cases (events, projection row, wrapped key) with one statement per table.

        For bulk loads (the population generator, benchmarks): the cases must not exist yet, and
        the unique keys still refuse a duplicate. Three multi-row statements per batch instead of
        three per case is what makes a million events take a minute rather than an hour.
        """
        if not batch:
            return
        self.conn.execute(_INSERT_KEY, [
            {"case_id": c.case.case_id, "wrapped": c.wrapped_key, "created_at": c.case.opened_at}
            for c in batch
        ])
        self.conn.execute(_INSERT_EVENT, [event_values(e) for c in batch for e in c.case.events])
        derive = self._derive
        worklists = [derive(c.case) if derive is not None else None for c in batch]
        rows = []
        for c, worklist in zip(batch, worklists, strict=True):
            values = projection_values(c.case, c.case.events[-1].recorded_at, worklist)
            values["pupil_index"] = c.pupil_index
            rows.append(values)
        self.conn.execute(_INSERT_CASE, rows)
        if derive is not None:
            _worklist.insert_many(self.conn, [(c.case.case_id, c.case.school, c.case.opened_at, w)
                                              for c, w in zip(batch, worklists, strict=True) if w is not None])

"""Group commit: the writing units of work of one process share a SQLite transaction and its fsync.

Why: SQLite lets one writer at a time hold the write lock, through its COMMIT's fsync. Writers of
one process that meet at that lock (the web app's request threads: every case page viewed writes
its access record) wait in SQLite's busy handler, which sleeps 1, 2, 5, ... up to 100 ms between
tries, and under twenty concurrent pages that sleeping, not the work, made the slowest answers
(BENCHMARKS.md, sections 7 and 10). Here they queue on a lock of their own instead, woken the
moment it is free; each runs its statements in turn inside a SAVEPOINT of one shared transaction,
and the last of a run of queued writers commits for all of them: one fsync for the group.

What stays exactly as with one commit per command:
- Decisions. A unit runs alone on the shared connection and sees every earlier unit's writes (the
  case's version check, the heads of the event and access chains), in the order the units got
  their turn: the chains and the projection are what single commits in that order would write.
- Failure. A unit that fails is rolled back to its savepoint, and only it fails; the others in
  the group keep what they wrote.
- Durability. `commit()` returns only after the group's COMMIT (synchronous=FULL) has returned, so
  nobody answers before their command is durable. If that COMMIT fails, nothing of the group is
  stored and every unit in it raises (as each would have, had it been the one to commit).
- No waiting for company. A unit that finds nobody queued behind it commits at once; a group
  forms only of writers that were already waiting, so a lone writer is as fast as before.

Only for SQLite's writing units, and only in the long-running processes that ask for it (the web
app and the reminder service: `SqlStore.group_commit`; `[database] group_commit = false` turns it
off). PostgreSQL takes concurrent writers on row locks and groups their WAL flushes itself. Other
processes (the CLI, another service) still meet this one at SQLite's lock, as before.
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine

from workflow.adapters.ports import Derive
from workflow.adapters.store.eventstore import Driver, EventStore
from workflow.adapters.store.reserve import Kept, Reserve
from workflow.adapters.store.uow import SqlUnitOfWork, unit_error

SAVEPOINT = "passend_unit"
MAX_GROUP = 64  # units in one transaction at most: a bound on how long the first of them waits


class Group:
    """The open shared transaction: its connection, how many units it carries, and its outcome."""

    __slots__ = ("broken", "conn", "done", "error", "kept", "units")

    def __init__(self, kept: Kept) -> None:
        self.kept = kept
        self.conn: Connection | None = None  # a SQLAlchemy Connection on it, when a unit needs Core
        self.units = 0  # units whose writes it holds (released savepoints)
        self.done = threading.Event()  # set once it is committed (or failed)
        self.error: BaseException | None = None  # why its COMMIT failed
        self.broken: BaseException | None = None  # the transaction was lost under a unit


class GroupCommit:
    """Hands out writing units of work that take turns on one shared transaction (see module)."""

    def __init__(self, engine: Engine, reserve: Reserve | None, *, max_group: int = MAX_GROUP) -> None:
        self._engine = engine
        self._reserve = reserve
        self._dbapi = engine.dialect.loaded_dbapi
        self._turn = threading.Lock()
        self._count = threading.Lock()
        self._queued = 0  # threads waiting for the turn
        self._holder: int | None = None  # the thread that has it
        self._group: Group | None = None
        self.max_group = max_group
        self.commits = 0  # COMMITs made, and the units they carried: for tests and benchmarks
        self.units = 0

    def unit(self, derive: Derive | None) -> GroupUnit:
        return GroupUnit(self, derive)

    # ---- taking and giving up the turn ------------------------------------------------------
    def join(self) -> Group:
        """Wait for the turn; open the shared transaction if none is; begin the unit's savepoint."""
        if self._holder == threading.get_ident():
            raise RuntimeError("a writing unit of work opened inside another on the same thread")
        with self._count:
            self._queued += 1
        self._turn.acquire()
        with self._count:
            self._queued -= 1
        self._holder = threading.get_ident()
        try:
            group = self._group
            if group is None:
                group = self._group = self._open()
            try:
                group.kept.dbapi.execute(f"SAVEPOINT {SAVEPOINT}")
            except self._dbapi.Error as exc:
                group.broken = exc
                raise
        except BaseException:
            self.leave(self._group, member=False)
            raise
        return group

    def _open(self) -> Group:
        kept = self._reserve.take() if self._reserve is not None else self._take()
        try:
            kept.dbapi.execute("BEGIN IMMEDIATE")
        except BaseException:
            kept.fairy.close()
            raise
        return Group(kept)

    def _take(self) -> Kept:
        fairy = self._engine.raw_connection()
        return Kept(fairy, self._engine.pool, fairy.driver_connection)

    def leave(self, group: Group | None, *, member: bool) -> None:
        """Give up the turn. The last of a run of queued writers, or the one that fills the
        group, commits it; the others leave it open for the next in line."""
        try:
            if group is not None:
                if member:
                    group.units += 1
                if group.broken is not None or self._queued == 0 or group.units >= self.max_group:
                    self._group = None
                    self._close(group)
        finally:
            self._holder = None
            self._turn.release()

    def _close(self, group: Group) -> None:
        """COMMIT the group (or roll back one that carries nothing or was lost), then wake its units."""
        dbapi = group.kept.dbapi
        clean = True
        try:
            if group.broken is not None or not dbapi.in_transaction:
                # SQLite may have rolled the whole transaction back under a failed statement
                # (a full disk, an I/O error): then there is nothing to commit, and saying
                # "done" would lose every unit of the group silently.
                group.error = group.broken or RuntimeError("the shared transaction was lost")
                clean = False
                self._rollback(group)
            elif group.units == 0:
                self._rollback(group)
            elif group.conn is not None and group.conn.in_transaction():
                group.conn.commit()
            else:
                dbapi.commit()
            if group.error is None and group.units:
                self.commits += 1
                self.units += group.units
        except BaseException as exc:
            group.error = exc
            clean = False
            with contextlib.suppress(BaseException):  # the connection is dropped below
                self._rollback(group)
        finally:
            self._release(group, clean)
            group.done.set()

    @staticmethod
    def _rollback(group: Group) -> None:
        if group.conn is not None and group.conn.in_transaction():
            group.conn.rollback()
        group.kept.dbapi.rollback()

    def _release(self, group: Group, clean: bool) -> None:
        if group.conn is not None:
            group.conn.close()  # hands the driver connection back to the pool as well
        elif clean and self._reserve is not None:
            self._reserve.give(group.kept)
        else:
            group.kept.fairy.close()


class GroupUnit(SqlUnitOfWork):
    """A writing unit of work that runs in its turn inside the shared transaction (GroupCommit).

    Its repositories are SqlUnitOfWork's, on the shared connection. `commit()` releases its
    savepoint and waits until the group is durable; leaving without a commit rolls back to the
    savepoint. A unit is spent after its commit (nothing may follow it; no service does)."""

    def __init__(self, committer: GroupCommit, derive: Derive | None) -> None:
        super().__init__(committer._engine, write=True, reserve=None, derive=derive)
        self._committer = committer
        self._group: Group | None = None
        self._finished = False

    def __enter__(self) -> GroupUnit:
        try:
            self._group = self._committer.join()
        except Exception as exc:
            _reraise(exc, self._engine)
        self._kept = self._group.kept
        self._driver = Driver(self._engine.dialect, self._kept.dbapi)
        self.store = EventStore(self._connection, self._driver, self._derive)
        return self

    def _connection(self) -> Connection:
        group = self._live()
        if group.conn is None:
            group.conn = Connection(self._engine, connection=group.kept.fairy)
        return group.conn

    def _live(self) -> Group:
        if self._group is None or self._finished:
            raise RuntimeError("this unit of work has ended (group commit: nothing may follow its commit)")
        return self._group

    def commit(self) -> None:
        group = self._live()
        try:
            self._kept_dbapi().execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
        except Exception as exc:
            self._undo(group)
            self._finish(group, member=False)
            _reraise(exc, self._engine)
        self._finish(group, member=True)
        group.done.wait()
        if group.error is not None:
            _reraise(group.error, self._engine, committing=True)

    def rollback(self) -> None:
        """Undo what this unit wrote; it may go on (its savepoint begins again)."""
        group = self._live()
        self._undo(group)
        try:
            self._kept_dbapi().execute(f"SAVEPOINT {SAVEPOINT}")
        except Exception as exc:
            group.broken = exc
            _reraise(exc, self._engine)

    def _kept_dbapi(self) -> Any:
        assert self._kept is not None
        return self._kept.dbapi

    def _undo(self, group: Group) -> None:
        """Back to the savepoint, and drop it; a transaction that did not survive breaks the group."""
        dbapi = self._kept_dbapi()
        try:
            if not dbapi.in_transaction:
                raise RuntimeError("the shared transaction was lost")
            dbapi.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
            dbapi.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
        except Exception as exc:
            group.broken = exc

    def _finish(self, group: Group, *, member: bool) -> None:
        self._finished = True
        self._committer.leave(group, member=member)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        group = self._group
        if group is not None and not self._finished:
            self._undo(group)
            self._finish(group, member=False)
        if isinstance(exc, Exception):
            mapped = unit_error(exc, self._engine)
            if mapped is not exc:
                raise mapped from None


def _reraise(exc: BaseException, engine: Engine, *, committing: bool = False) -> NoReturn:
    """Raise what a unit of work raises for `exc` (uow.unit_error), without the driver's error
    (its text may quote a statement's values) chained to it."""
    mapped = unit_error(exc, engine, committing=committing)
    if mapped is exc:
        raise exc
    raise mapped from None

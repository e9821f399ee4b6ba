"""The SQL unit of work (the `UnitOfWork` port): one command, one transaction, all or nothing.

Database errors that mean "someone else wrote first" become a Conflict; everything else rolls
back and propagates. Nothing a failed command did is left behind.

The transaction is begun on the pooled driver connection itself (SQLite: BEGIN IMMEDIATE for a
writer, so two writers queue instead of one failing halfway; PostgreSQL: BEGIN sent with the
first statement, and the work list's deferred writes with the COMMIT, store.eventstore.Driver;
Core's first use flushes them, a rollback drops them).
A SQLAlchemy Connection is wrapped around that same connection and transaction only when
a caller needs Core (opening a case, reports, the planner). `fire` and `record` never do: for
them SQLAlchemy's connection, transaction and event objects cost about three times SQLite's own
BEGIN and COMMIT (see BENCHMARKS.md, fire). On SQLite the connection comes from, and cleanly
ends in, a `Reserve` (store.reserve) rather than the pool, for the same reason.

Its repositories: `store` (the event store), `cases` (the case read model), `access_log`,
`witness`, `users`, `parents`, `api_tokens` and the web sign-in's `web_sessions`, `signin_links`, `oidc_flows` and
`throttle`, all on the same connection and transaction; all but the first are made when first
asked for.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError

from workflow.adapters.ports import Derive
from workflow.adapters.store.access_log import SqlAccessLog
from workflow.adapters.store.cases import SqlCases
from workflow.adapters.store.db import is_sqlite
from workflow.adapters.store.eventstore import Driver, EventStore
from workflow.adapters.store.parents import SqlParents
from workflow.adapters.store.problems import BUSY, LOST, is_lock
from workflow.adapters.store.reserve import Kept, Reserve
from workflow.adapters.store.signin import SqlOidcFlows, SqlSigninLinks, SqlThrottle, SqlWebSessions
from workflow.adapters.store.tokens import SqlApiTokens
from workflow.adapters.store.users import SqlUsers
from workflow.adapters.store.witness import SqlWitnessLog
from workflow.domain.errors import Conflict

_BUSY = BUSY
_LOST = LOST


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True, reserve: Reserve | None = None,
                 derive: Derive | None = None) -> None:
        self._engine = engine
        self._derive = derive
        self._write = write
        self._reserve = reserve
        self._kept: Kept | None = None  # the pool's proxy of the connection, its pool, the driver's
        self._conn: Connection | None = None
        self._dbapi = engine.dialect.loaded_dbapi
        self.store: EventStore
        self._cases: SqlCases | None = None
        self._access_log: SqlAccessLog | None = None
        self._users: SqlUsers | None = None
        self._signin: tuple[SqlWebSessions, SqlSigninLinks, SqlOidcFlows, SqlThrottle] | None = None
        self._witness: SqlWitnessLog | None = None
        self._parents: SqlParents | None = None
        self._api_tokens: SqlApiTokens | None = None

    def __enter__(self) -> SqlUnitOfWork:
        engine = self._engine
        begin_sql = None
        if is_sqlite(engine):
            begin_sql = "BEGIN IMMEDIATE" if self._write else "BEGIN"
        try:
            if self._reserve is not None:
                self._kept = self._reserve.take()
            else:
                fairy = engine.raw_connection()
                self._kept = Kept(fairy, engine.pool, fairy.driver_connection)
            if begin_sql is not None:
                self._kept.dbapi.execute(begin_sql)
        except self._dbapi.Error as exc:
            if self._kept is not None:
                self._kept.fairy.close()
                self._kept = None
            if isinstance(exc, self._dbapi.OperationalError) and _is_lock(exc):
                raise Conflict(_BUSY) from None
            raise self._wrap(exc) from exc
        self._driver = Driver(engine.dialect, self._kept.dbapi, begin_sql=begin_sql,
                              info=None if begin_sql is not None else self._kept.fairy.info)
        self.store = EventStore(self._connection, self._driver, self._derive)
        return self

    def _connection(self) -> Connection:
        """A SQLAlchemy Connection on this unit's driver connection, joining its transaction."""
        self._driver.flush()  # the event store's deferred writes go before anything of Core's
        if self._conn is None:
            assert self._kept is not None
            dbapi = self._kept.dbapi
            # PostgreSQL: a connection from the reserve may still be in the autocommit mode the
            # driver uses (store.eventstore.Driver); outside a transaction block it goes back to
            # psycopg's usual mode, as at the pool's check-out (store.db), so that a statement of
            # psycopg's own on it (Driver.of) runs in a transaction, not committed alone.
            if self._reserve is not None and not self._driver.sqlite and dbapi.autocommit \
                    and dbapi.pgconn.transaction_status == 0:  # libpq's PQTRANS_IDLE
                dbapi.autocommit = False
            self._conn = Connection(self._engine, connection=self._kept.fairy)
            if self._write and is_sqlite(self._engine):  # after a commit, begin as a writer again
                self._conn.execution_options(sqlite_begin="IMMEDIATE")
        return self._conn

    @property
    def connection(self) -> Connection:
        return self._connection()

    @property
    def cases(self) -> SqlCases:
        if self._cases is None:
            self._cases = SqlCases(self._connection, lambda: self._driver)
        return self._cases

    @property
    def access_log(self) -> SqlAccessLog:
        if self._access_log is None:
            self._access_log = SqlAccessLog(self._connection, lambda: self._driver)
        return self._access_log

    @property
    def users(self) -> SqlUsers:
        if self._users is None:
            self._users = SqlUsers(self._connection, lambda: self._driver)
        return self._users

    def _signin_tables(self) -> tuple[SqlWebSessions, SqlSigninLinks, SqlOidcFlows, SqlThrottle]:
        if self._signin is None:
            c = self._connection
            self._signin = (SqlWebSessions(c, lambda: self._driver), SqlSigninLinks(c), SqlOidcFlows(c),
                            SqlThrottle(c))
        return self._signin

    @property
    def web_sessions(self) -> SqlWebSessions:
        return self._signin_tables()[0]

    @property
    def signin_links(self) -> SqlSigninLinks:
        return self._signin_tables()[1]

    @property
    def oidc_flows(self) -> SqlOidcFlows:
        return self._signin_tables()[2]

    @property
    def throttle(self) -> SqlThrottle:
        return self._signin_tables()[3]

    @property
    def parents(self) -> SqlParents:
        if self._parents is None:
            self._parents = SqlParents(self._connection, lambda: self._driver)
        return self._parents

    @property
    def witness(self) -> SqlWitnessLog:
        if self._witness is None:
            self._witness = SqlWitnessLog(self._connection)
        return self._witness

    @property
    def api_tokens(self) -> SqlApiTokens:
        if self._api_tokens is None:
            self._api_tokens = SqlApiTokens(self._connection, lambda: self._driver)
        return self._api_tokens

    def commit(self) -> None:
        try:
            if self._conn is not None and self._conn.in_transaction():
                self._driver.flush()
                self._conn.commit()
            else:
                self._driver.commit()
        except (IntegrityError, OperationalError) as exc:
            self._rollback()
            if isinstance(exc, IntegrityError) or _is_lock(exc):
                raise Conflict(_LOST) from None
            raise
        except (self._dbapi.IntegrityError, self._dbapi.OperationalError) as exc:
            self._rollback()
            if isinstance(exc, self._dbapi.IntegrityError) or _is_lock(exc):
                raise Conflict(_LOST) from None
            raise self._wrap(exc) from exc
        # A unit of work may go on after a commit; on SQLite the next statement begins again.
        self._driver.rebegin = True

    def rollback(self) -> None:
        """Undo everything since the last commit; the unit may go on in a new transaction."""
        self._rollback()
        self._driver.rebegin = True

    def _rollback(self) -> None:
        self._driver.discard()
        if self._conn is not None and self._conn.in_transaction():
            self._conn.rollback()
        self._driver.dbapi.rollback()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        clean = False
        try:
            if self._conn is not None or not self._driver.rebegin:  # else nothing is open
                self._rollback()
            clean = exc is None or not isinstance(exc, DBAPIError | self._dbapi.Error)
        finally:
            self._release(clean)
        if exc is None:
            return
        if isinstance(exc, IntegrityError | self._dbapi.IntegrityError):
            raise Conflict(_LOST) from None
        if isinstance(exc, OperationalError | self._dbapi.OperationalError) and _is_lock(exc):
            raise Conflict(_BUSY) from None
        if isinstance(exc, self._dbapi.Error):
            raise self._wrap(exc) from exc

    def _release(self, clean: bool) -> None:
        """The connection back where it came from; to the reserve only after a clean end (a
        database error may have left it unusable, and the pool knows how to judge that)."""
        assert self._kept is not None
        if self._conn is not None:
            self._conn.close()  # returns the driver connection to the pool too
        elif clean and self._reserve is not None:
            self._reserve.give(self._kept)
        else:
            self._kept.fairy.close()

    def _wrap(self, exc: Exception) -> StatementError:
        """A driver error as the SQLAlchemy error a Core statement would have raised, so callers
        (the CLI's one-line database messages) see one kind whichever path failed."""
        wrapped = DBAPIError.instance(None, None, exc, self._dbapi.Error, hide_parameters=True,
                                      dialect=self._engine.dialect)
        assert isinstance(wrapped, DBAPIError)  # without a statement, instance() always builds one
        return wrapped


def unit_error(exc: BaseException, engine: Engine, *, committing: bool = False) -> BaseException:
    """What a unit of work raises for `exc`: someone else wrote first (an integrity error, or a
    lock: at a commit "lost", before it "busy") is a Conflict; any other driver error becomes the
    SQLAlchemy error a Core statement would have raised; everything else stays as it is."""
    dbapi = engine.dialect.loaded_dbapi
    if isinstance(exc, IntegrityError | dbapi.IntegrityError):
        return Conflict(_LOST)
    if isinstance(exc, OperationalError | dbapi.OperationalError) and _is_lock(exc):
        return Conflict(_LOST if committing else _BUSY)
    if isinstance(exc, dbapi.Error):
        wrapped = DBAPIError.instance(None, None, exc, dbapi.Error, hide_parameters=True, dialect=engine.dialect)
        assert isinstance(wrapped, DBAPIError)
        return wrapped
    return exc


_is_lock = is_lock


class ConnectionUnit:
    """A unit of work on a SQLAlchemy Connection that someone else holds (tests and tools that
    change rows by hand and then ask a service, such as `audit verify`, about them, in the same
    transaction). Its repositories work in that connection's transaction; `commit` and
    `rollback` are the connection's, and leaving it ends nothing: the connection's owner does."""

    def __init__(self, conn: Connection, derive: Derive | None = None) -> None:
        self.connection = conn
        self.store = EventStore(conn, derive=derive)
        self.cases = SqlCases(lambda: conn, lambda: self.store.driver)
        self.access_log = SqlAccessLog(lambda: conn)
        self.users = SqlUsers(lambda: conn)
        self.web_sessions = SqlWebSessions(lambda: conn)
        self.signin_links = SqlSigninLinks(lambda: conn)
        self.oidc_flows = SqlOidcFlows(lambda: conn)
        self.throttle = SqlThrottle(lambda: conn)
        self.witness = SqlWitnessLog(lambda: conn)
        self.parents = SqlParents(lambda: conn)
        self.api_tokens = SqlApiTokens(lambda: conn)

    def __enter__(self) -> ConnectionUnit:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def unit_on(conn: Connection, derive: Derive | None = None) -> ConnectionUnit:
    """The unit of work of a Connection someone else holds (see ConnectionUnit)."""
    return ConnectionUnit(conn, derive)

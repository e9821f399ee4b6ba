"""A unit of work's statements on PostgreSQL, sent through libpq's pipeline mode directly.

Why not psycopg's cursors and `Connection.pipeline()`: a `fire` is a handful of small statements
in three round trips, and psycopg's Python around each of them (a cursor, a query object, the
pipeline's generators, which try to send and to read after every statement queued) cost the
client about 0.45 ms a command on the benchmark machine, more than twice the raw loop's whole
CPU time (BENCHMARKS.md, 13). Here a batch is queued in libpq's buffer (PQsendPrepare,
PQsendQueryPrepared), sent with one Sync, and its results read back in order: one write and one
wait for the server a batch. The values are psycopg's own: parameters are dumped and rows loaded
by psycopg's `Transformer` for the connection (its C implementation with psycopg[binary]), as a
cursor would, so what is stored and read back is the same as through a cursor.

Statements asked to be prepared are prepared at their first use on a connection, under names of
their own (`passend_N`, next to psycopg's `_pg3_N`), keyed by their text and their parameters'
types, as psycopg keys its own; psycopg's `prepare_threshold=None` on the connection (a pooler
that cannot keep prepared statements) turns preparing off here too. Other statements go unnamed.

A server error of any statement of a batch is raised, as psycopg's error class, once the whole
batch has been read back (libpq skips the rest of it up to the Sync); the connection is then in
a failed transaction, which the unit of work rolls back. Anything else that interrupts a batch
halfway (a lost connection, a KeyboardInterrupt) closes the connection: its state is unknown, and
the pool replaces a closed connection.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence
from typing import Any

from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

__all__ = ["Result", "Wire", "take_over_preparing", "wire_of"]

_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)
_FATAL = pq.ExecStatus.FATAL_ERROR
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
_AUTO = PyFormat.AUTO
# The formats dump_sequence is asked for: every parameter AUTO, one tuple per count, made once.
_AUTOS: dict[int, tuple[PyFormat, ...]] = {}


class Result:
    """What a cursor gave its callers here: the rows (loaded when first fetched) and the rowcount.
    Read before its batch has gone, it sends the batch first (`send`, the queue's owner's)."""

    __slots__ = ("_at", "_pgresult", "_rowcount", "_rows", "_send", "_wire")

    def __init__(self, send: Callable[[], None] | None = None) -> None:
        self._send = send
        self._wire: Wire | None = None
        self._pgresult: Any = None
        self._rows: list[tuple[Any, ...]] | None = None
        self._at = 0
        self._rowcount = -1

    def _set(self, wire: Wire, pgresult: Any) -> None:
        self._wire, self._pgresult, self._send = wire, pgresult, None
        count = pgresult.command_tuples
        self._rowcount = count if count is not None else -1

    def _sent(self) -> None:
        send, self._send = self._send, None
        if send is not None and self._wire is None:
            send()

    @property
    def rowcount(self) -> int:
        if self._send is not None:
            self._sent()
        return self._rowcount

    def _all(self) -> list[tuple[Any, ...]]:
        if self._send is not None:
            self._sent()
        if self._rows is None:
            res, self._pgresult = self._pgresult, None
            if res is None or res.status != pq.ExecStatus.TUPLES_OK or self._wire is None:
                self._rows = []
            else:
                tx = self._wire.tx
                tx.set_pgresult(res)
                self._rows = tx.load_rows(0, res.ntuples, tuple)
                tx.set_pgresult(None)
        return self._rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._all()
        out = rows[self._at:] if self._at else rows
        self._at = len(rows)
        return out

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._all()
        if self._at >= len(rows):
            return None
        self._at += 1
        return rows[self._at - 1]

    def __iter__(self) -> Any:
        return iter(self.fetchall())

    def close(self) -> None:
        self._pgresult = None


# One statement of a batch: its text (qmark style), its parameters (None: a bare command such
# as BEGIN), its Result (None: nobody reads it), and whether to prepare it.
Statement = tuple[str, Sequence[Any] | None, Result | None, bool]


class Wire:
    """The pipeline of one psycopg connection: its prepared statements and its Transformer."""

    def __init__(self, conn: Any, *, prepares: bool = True) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.tx: Any = Transformer(conn)
        self.encoding: str = conn.info.encoding
        self.prepares = prepares
        self._prepared: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self._names = 0
        self._texts: dict[str, bytes] = {}
        # Waiting for the server's answer, a poll object registered once for the connection's
        # socket (which stays the same for the connection's life; a Wire lives as long).
        self._reader = select.poll()
        self._reader.register(self.pgconn.socket, _POLLIN)

    def result(self, send: Callable[[], None] | None = None) -> Result:
        return Result(send)

    def run(self, batch: Sequence[Statement]) -> None:
        """Send `batch` with one Sync and read every result back; raise the first error."""
        tx = self.tx
        # Dumped before anything is sent: a value psycopg cannot adapt leaves the connection as it was.
        dumped: list[tuple[Any, tuple[int, ...], Any] | None] = []
        for _text, params, _result, _prepare in batch:
            if params is None:
                dumped.append(None)
            else:
                n = len(params)
                formats = _AUTOS.get(n) or _AUTOS.setdefault(n, (_AUTO,) * n)
                data = tx.dump_sequence(params, formats)
                dumped.append((data, tuple(tx.types), tx.formats))
        pgconn = self.pgconn
        # What each command sent gives back, in order: its Result (or None), and for a PREPARE
        # the key and name to keep once it succeeded.
        expected: list[tuple[Result | None, tuple[str, tuple[int, ...]] | None, bytes]] = []
        try:
            pgconn.enter_pipeline_mode()
            self._send(batch, dumped, expected)
            pgconn.pipeline_sync()
            while pgconn.flush():
                _wait(pgconn.socket, write=True)
            error = self._read(expected)
            pgconn.exit_pipeline_mode()
        except BaseException:
            # A connection cut off halfway, or an interrupt: its state is unknown.
            self.conn.close()
            raise
        if error is not None:
            if error.sqlstate in _GONE:  # someone deallocated the statements: prepare anew next time
                self._prepared.clear()
            raise error

    def _send(self, batch: Sequence[Statement], dumped: list[Any], expected: list[Any]) -> None:
        pgconn = self.pgconn
        pending: dict[tuple[str, tuple[int, ...]], bytes] = {}
        for (text, _params, result, prepare), values in zip(batch, dumped, strict=True):
            if values is None:
                pgconn.send_query_params(self._text(text), None)
                expected.append((result, None, b""))
                continue
            data, types, formats = values
            if not (prepare and self.prepares):
                pgconn.send_query_params(self._text(text), data, param_types=types, param_formats=formats)
                expected.append((result, None, b""))
                continue
            key = (text, types)
            name = self._prepared.get(key) or pending.get(key)
            if name is None:
                name = pending[key] = f"passend_{self._names}".encode()
                self._names += 1
                pgconn.send_prepare(name, self._text(text), param_types=types)
                expected.append((None, key, name))
            pgconn.send_query_prepared(name, data, param_formats=formats)
            expected.append((result, None, b""))

    def _text(self, text: str) -> bytes:
        """The statement in libpq's numbered style ($1, $2, ...), from qmark style."""
        found = self._texts.get(text)
        if found is None:
            parts = text.split("?")
            numbered = parts[0] + "".join(f"${i}{p}" for i, p in enumerate(parts[1:], 1))
            found = self._texts[text] = numbered.encode(self.encoding)
        return found

    def _read(self, expected: list[Any]) -> errors.Error | None:
        """Every result up to the Sync, handed to its Result; the first error, if any."""
        pgconn = self.pgconn
        poll = self._reader.poll
        error: errors.Error | None = None
        i = 0
        got: Any = None
        while True:
            while pgconn.is_busy():
                poll()
                pgconn.consume_input()
            res = pgconn.get_result()
            if res is None:  # the end of one command's results
                if i < len(expected):
                    result, key, name = expected[i]
                    if got is not None and got.status in _OK:
                        if key is not None:
                            self._prepared[key] = name
                        elif result is not None:
                            result._set(self, got)
                    i += 1
                got = None
                continue
            status = res.status
            if status == _SYNC:
                return error
            if status == _FATAL and error is None:
                error = errors.error_from_result(res, encoding=self.encoding)
            elif status != _ABORTED:
                got = res


_GONE = frozenset({"26000", "0A000"})  # invalid_sql_statement_name; a cached plan whose result type changed
_POLLIN, _POLLOUT = select.POLLIN, select.POLLOUT


def _wait(fileno: int, *, write: bool) -> None:
    """Until the socket can be read (or, for `write`, written, or read: the server may answer first)."""
    poller = select.poll()
    poller.register(fileno, _POLLIN | _POLLOUT if write else _POLLIN)
    poller.poll()


_KEY = "passend_wire"


def wire_of(conn: Any, info: dict[str, Any]) -> Wire:
    """The Wire of a psycopg connection, kept in `info`, the pool's record of the connection
    (SQLAlchemy's ConnectionRecord.info, which lives and dies with it): a module-level map held
    the connections themselves (a Wire holds its connection), so they were never closed."""
    wire = info.get(_KEY)
    if wire is None or wire.conn is not conn:
        wire = info[_KEY] = Wire(conn, prepares=conn.prepare_threshold is not None)
    return wire


def take_over_preparing(conn: Any, info: dict[str, Any]) -> None:
    """Called for every new connection: the Wire prepares (unless psycopg was told not to, with
    `prepare_threshold=None`), and psycopg no longer does. psycopg forgets its own prepared
    statements with DEALLOCATE ALL after every ROLLBACK, which would take the Wire's with them."""
    info[_KEY] = Wire(conn, prepares=conn.prepare_threshold is not None)
    conn.prepare_threshold = None

"""Database errors a person can meet, as one line from the message catalog (`store.*` keys; Dutch by
default), asked for by workflow.adapters.problems.

SQLite names its error classes (`sqlite_errorname`), PostgreSQL its SQLSTATE; both are matched
on those, not on the wording, except where a driver gives nothing else. Each line names the
database as the configuration names it (the file, or the server's host and database, never a
password) and what to do. That name is a sentence of the catalog too (`store.label.*`, "de
database x.db", in English "the database x.db"), given to each line as its `label`.
"""

from __future__ import annotations

import sys
from typing import Any

from workflow.domain.errors import Conflict, PassendError, Said, SchemaMismatch, StoreProblem

# A unit of work's own conflicts (store.uow, store.direct): a lock it could not get, a writer first.
BUSY = Said("store.conflict.busy")
LOST = Said("store.conflict.lost")
PLAIN = Said("store.label.plain")
_label = PLAIN  # set when a store is opened (describe), so the lines can name it


def describe(url: str) -> Said:
    """How a line names the database of `url`: the SQLite file, or PostgreSQL's host and name."""
    if url.startswith("sqlite:///") and "?" not in url:  # as make_url reads it, without importing it
        path = url[len("sqlite:///"):]
        return Said("store.label.file", path=path) if path else PLAIN
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:  # a label must never fail
        return PLAIN
    if u.drivername.startswith("sqlite"):
        return Said("store.label.file", path=u.database) if u.database else PLAIN
    host = u.host or "localhost"
    return Said("store.label.server", name=u.database, host=host) if u.database else \
        Said("store.label.host", host=host)


def remember(url: str) -> None:
    global _label
    _label = describe(url)


def not_initialised(label: Said | None = None) -> SchemaMismatch:
    return SchemaMismatch(Said("store.schema.not_initialised", label=label or _label))


def older(label: Said | None = None) -> SchemaMismatch:
    return SchemaMismatch(Said("store.schema.older", label=label or _label))


def newer(unknown: tuple[str, ...], label: Said | None = None) -> SchemaMismatch:
    return SchemaMismatch(Said("store.schema.newer", label=label or _label, revisions=", ".join(unknown)))


def refuse_schema(state: Any) -> None:
    """Refuse a schema that is not this version's (a `schema.SchemaState`): not set up, older
    or newer, each with the one line that says what to do; this version's passes."""
    if state.status == "empty":
        raise not_initialised()
    if state.status == "older":
        raise older()
    if state.status == "newer":
        raise newer(state.unknown)


def read_only(label: Said | None = None) -> StoreProblem:
    return StoreProblem(Said("store.read_only", label=label or _label))


def _orig(exc: BaseException) -> Any:
    """The driver's error under SQLAlchemy's wrapper (a process without SQLAlchemy has only those)."""
    sa = sys.modules.get("sqlalchemy.exc")
    if sa is None:
        return exc
    return exc.orig if isinstance(exc, sa.DBAPIError) and exc.orig is not None else exc


def is_lock(exc: BaseException) -> bool:
    """A lock not got in time (SQLite busy or locked, PostgreSQL a serialization failure)."""
    orig = _orig(exc)
    text = str(orig).lower() if orig is not None else ""
    return "locked" in text or "busy" in text or "could not serialize" in text


def database_problem(exc: BaseException, label: Said | None = None) -> PassendError | None:
    """The clear error for a database error, or None when `exc` is not one this knows."""
    orig = _orig(exc)
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return _sqlite(name, str(orig).lower(), label or _label)
    state = getattr(orig, "sqlstate", None)
    if state is not None or type(orig).__module__.startswith("psycopg"):
        return _postgres(state, str(orig).lower(), label or _label)
    return None


def _sqlite(name: str, text: str, label: Said) -> PassendError | None:
    if name == "SQLITE_NOTADB":
        return StoreProblem(Said("store.sqlite.not_a_database", label=label))
    if name == "SQLITE_FULL":
        return StoreProblem(Said("store.sqlite.full", label=label))
    if name.startswith("SQLITE_READONLY"):
        return read_only(label)
    if name.startswith("SQLITE_IOERR"):
        return StoreProblem(Said("store.sqlite.io_error", label=label))
    if name.startswith("SQLITE_CORRUPT"):
        return StoreProblem(Said("store.sqlite.corrupt", label=label))
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreProblem(Said("store.sqlite.cannot_open", label=label))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return Conflict(Said("store.sqlite.busy", label=label))
    if "no such table" in text:
        return not_initialised(label)
    if "no such column" in text:
        return older(label)
    return None


def _postgres(state: str | None, text: str, label: Said) -> PassendError | None:
    if state == "55P03":
        return Conflict(Said("store.postgres.lock_timeout", label=label))
    if state == "57014":
        return Conflict(Said("store.postgres.statement_timeout", label=label))
    if state in ("40001", "40P01"):
        return Conflict(LOST)
    if state == "53100":
        return StoreProblem(Said("store.postgres.disk_full", label=label))
    if state == "25006":
        return read_only(label)
    if state == "42P01":
        return not_initialised(label)
    if state == "42703":
        return older(label)
    if state in ("28P01", "28000"):
        return StoreProblem(Said("store.postgres.sign_in_failed", label=label))
    if state == "3D000":
        return StoreProblem(Said("store.postgres.no_database", label=label))
    if state is None or state.startswith("08") or "connection" in text or "could not connect" in text:
        return StoreProblem(Said("store.postgres.unreachable", label=label))
    return None

"""Database errors a person can meet, as one Dutch line (workflow.adapters.problems asks here).

SQLite names its error classes (`sqlite_errorname`), PostgreSQL its SQLSTATE; both are matched
on those, not on the wording, except where a driver gives nothing else. Each line names the
database as the configuration names it (the file, or the server's host and database, never a
password) and what to do.
"""

from __future__ import annotations

import sys
from typing import Any

from workflow.domain.errors import Conflict, PassendError, SchemaMismatch, StoreProblem

NOTHING = "er is niets opgeslagen"
# A unit of work's own conflicts (store.uow, store.direct): a lock it could not get, a writer first.
BUSY = "de database is bezet door een andere schrijver; probeer het opnieuw"
LOST = "een andere schrijver was eerder; er is niets opgeslagen"
_label = "de database"  # set when a store is opened (describe), so the lines can name it


def describe(url: str) -> str:
    """How a line names the database of `url`: the SQLite file, or PostgreSQL's host and name."""
    if url.startswith("sqlite:///") and "?" not in url:  # as make_url reads it, without importing it
        return f"de database {url[len('sqlite:///'):]}" if len(url) > len("sqlite:///") else "de database"
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:  # a label must never fail
        return "de database"
    if u.drivername.startswith("sqlite"):
        return f"de database {u.database}" if u.database else "de database"
    return f"de database {u.database or ''} op {u.host or 'localhost'}".replace("  ", " ")


def remember(url: str) -> None:
    global _label
    _label = describe(url)


def not_initialised(label: str | None = None) -> SchemaMismatch:
    return SchemaMismatch(f"{label or _label} is nog niet ingericht: voer eerst 'passend init' uit")


def older(label: str | None = None) -> SchemaMismatch:
    return SchemaMismatch(f"{label or _label} heeft een oudere opbouw dan deze versie van passend: "
                          "voer eerst 'passend init' uit (dat werkt hem bij)")


def newer(unknown: tuple[str, ...], label: str | None = None) -> SchemaMismatch:
    return SchemaMismatch(f"{label or _label} is bijgewerkt door een nieuwere versie van passend "
                          f"(schema {', '.join(unknown)}): werk passend bij; er is niets gelezen of geschreven")


def refuse_schema(state: Any) -> None:
    """Refuse a schema that is not this version's (a `schema.SchemaState`): not set up, older
    or newer, each with the one line that says what to do; this version's passes."""
    if state.status == "empty":
        raise not_initialised()
    if state.status == "older":
        raise older()
    if state.status == "newer":
        raise newer(state.unknown)


def read_only(label: str | None = None) -> StoreProblem:
    return StoreProblem(f"{label or _label} is alleen-lezen: schrijven kan hier niet; {NOTHING}")


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


def database_problem(exc: BaseException, label: str | None = None) -> PassendError | None:
    """The clear error for a database error, or None when `exc` is not one this knows."""
    orig = _orig(exc)
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return _sqlite(name, str(orig).lower(), label or _label)
    state = getattr(orig, "sqlstate", None)
    if state is not None or type(orig).__module__.startswith("psycopg"):
        return _postgres(state, str(orig).lower(), label or _label)
    return None


def _sqlite(name: str, text: str, label: str) -> PassendError | None:
    if name == "SQLITE_NOTADB":
        return StoreProblem(f"{label} is geen SQLite-database (kijk database.url na)")
    if name == "SQLITE_FULL":
        return StoreProblem(f"de schijf is vol: {label} kan niet groeien; {NOTHING}")
    if name.startswith("SQLITE_READONLY"):
        return read_only(label)
    if name.startswith("SQLITE_IOERR"):
        return StoreProblem(f"lees- of schrijffout bij {label} (schijf vol, een grens van het systeem "
                            f"of een defect); {NOTHING}")
    if name.startswith("SQLITE_CORRUPT"):
        return StoreProblem(f"{label} is beschadigd: zet een back-up terug (passend restore)")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreProblem(f"kan {label} niet openen (bestaat de map, en mag passend erin schrijven?)")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return Conflict(f"{label} is bezet door een andere schrijver (langer dan de wachttijd); "
                        f"probeer het opnieuw; {NOTHING}")
    if "no such table" in text:
        return not_initialised(label)
    if "no such column" in text:
        return older(label)
    return None


def _postgres(state: str | None, text: str, label: str) -> PassendError | None:
    if state == "55P03":
        return Conflict(f"{label}: wachten op een vergrendeling duurde langer dan database.lock_timeout_seconds; "
                        f"probeer het opnieuw; {NOTHING}")
    if state == "57014":
        return Conflict(f"{label}: de opdracht duurde langer dan database.statement_timeout_seconds en is "
                        f"afgebroken; {NOTHING}")
    if state in ("40001", "40P01"):
        return Conflict(f"een andere schrijver was eerder; {NOTHING}")
    if state == "53100":
        return StoreProblem(f"de schijf van de databaseserver is vol ({label}); {NOTHING}")
    if state == "25006":
        return read_only(label)
    if state == "42P01":
        return not_initialised(label)
    if state == "42703":
        return older(label)
    if state in ("28P01", "28000"):
        return StoreProblem(f"{label}: aanmelden bij de databaseserver mislukt (gebruiker of wachtwoord)")
    if state == "3D000":
        return StoreProblem(f"{label} bestaat niet op de server (kijk database.url na)")
    if state is None or state.startswith("08") or "connection" in text or "could not connect" in text:
        return StoreProblem(f"{label} is niet bereikbaar (kijk database.url of PASSEND_DATABASE_URL na)")
    return None

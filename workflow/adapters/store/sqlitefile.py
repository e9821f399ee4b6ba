"""How passend opens an existing SQLite file: never creating it, read-only when it cannot be
written, with the session settings every connection gets.

Kept apart from store.db (SQLAlchemy's engine) so the driver-only read of one case
(store.direct) opens the file exactly as the SQL store does without importing SQLAlchemy: the
same checks and clear refusals, the same URI, the same pragmas.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from workflow.domain.errors import ConfigError, Said, SchemaMismatch, StoreProblem

BUSY_TIMEOUT_MS = 15_000


def existing_file(path: Path) -> tuple[str, bool]:
    """The SQLite URI that opens `path` without ever creating it, and whether it is read-only.
    Refuses clearly what would otherwise fail obscurely: no file, a folder, no permission."""
    if path.is_dir():
        raise ConfigError(Said("store.file.is_folder", path=str(path)))
    if not path.exists():
        raise SchemaMismatch(Said("store.file.missing", path=str(path)))
    if not os.access(path, os.R_OK):
        raise StoreProblem(Said("store.file.unreadable", path=str(path)))
    uri = "file:" + quote(str(path.resolve()))
    folder = path.resolve().parent
    writable = os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)
    if writable:
        return uri + "?mode=rw", False
    if read_only_fs(path):
        wal = Path(str(path) + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreProblem(Said("store.file.read_only_wal", path=str(path), wal=wal.name))
        return uri + "?mode=ro&immutable=1", True
    return uri + "?mode=ro", True


def read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def prepare(dbapi_conn: Any, busy_ms: int = BUSY_TIMEOUT_MS, read_only: bool = False) -> None:
    """A new connection's settings: passend issues BEGIN itself; WAL and synchronous=FULL (a
    committed write survives a power cut), foreign keys, and how long to wait for a lock."""
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    if not read_only:  # a read-only file keeps the journal mode it has
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.close()

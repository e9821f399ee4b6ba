"""Backups of a SQLite store with SQLite's online backup API, and the copy a restore starts from.

The online backup copies the database page by page as one consistent snapshot while the
service and the web app go on writing (their commits after the snapshot are simply not in it);
copying the file with `cp` can catch it halfway through a checkpoint, and leaves out what is
still in `-wal`. The copy is switched to a rollback journal (`journal_mode=DELETE`), so it is
one self-contained file that can be read on read-only media (see db.py); passend switches it
back to WAL when it opens it for writing. It is created 0600 (workflow.adapters.files) and
renamed into place only once complete and synced, so a half-written backup never has the name.

PostgreSQL has its own tools for this (pg_dump, or a base backup with WAL archiving); passend
does not wrap them, it says how (PG_GUIDANCE).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from workflow.adapters.files import PrivateFiles
from workflow.domain.errors import BadInput, Said, StoreProblem

PG_GUIDANCE = Said("store.backup.postgres")
HEADER = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == HEADER
    except OSError:
        return False


def copy_database(source: sqlite3.Connection, target: Path, files: PrivateFiles) -> None:
    """Write the database of `source` to the new file `target` (which must not exist), whole
    or not at all."""
    if target.exists():
        raise BadInput(Said("store.backup.exists", path=str(target)))
    if not target.parent.is_dir():
        raise BadInput(Said("store.backup.no_folder", folder=str(target.parent)))
    part = target.with_name(f".{target.name}.deel-{os.getpid()}")
    try:
        with files.open(part, "wb"):
            pass  # created private before SQLite writes a byte into it
        dst = sqlite3.connect(part, isolation_level=None)
        try:
            source.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            ok = dst.execute("PRAGMA quick_check").fetchone()
            if ok is None or ok[0] != "ok":
                raise StoreProblem(Said("store.backup.copy_unsound", path=str(target), check=str(ok)))
        finally:
            dst.close()
        with part.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, target)
        _sync_folder(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        for extra in ("-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(part) + extra).unlink()


def copy_file(source: Path, target: Path, files: PrivateFiles) -> None:
    """`copy_database` from a database file (a backup to restore), opened read-only."""
    if not source.is_file():
        raise BadInput(Said("store.backup.no_source", path=str(source)))
    if not is_sqlite_file(source):
        raise BadInput(Said("store.backup.not_sqlite", path=str(source)))
    src = sqlite3.connect(f"file:{quote(str(source.resolve()))}?mode=ro", uri=True)
    try:
        copy_database(src, target, files)
    finally:
        src.close()


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

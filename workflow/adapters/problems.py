"""Failures a person can cause or meet, as one clear line (the catalog's `store.*`, Dutch by
default) and the error that carries its exit code, instead of "interne fout".

The command line (and the services' start-up) ask `explain(exc)`: an operating-system error
(a full disk, a read-only file system, a folder where a file belongs, no permission) or a
database error (workflow.adapters.store.problems: not a database, full, read-only, locked,
timed out, not set up, unreachable) becomes a `PassendError`; anything else is a real defect
and stays one (None). The lines name files and keys, never a pupil's data: the exceptions they
come from are never shown themselves.
"""

from __future__ import annotations

import errno
import sys

from workflow.domain.errors import ConfigError, PassendError, Said, StoreProblem

_OS: dict[int, str] = {  # errno -> the catalog's words for it
    errno.ENOSPC: "store.os.disk_full",
    errno.EDQUOT: "store.os.quota",
    errno.EFBIG: "store.os.file_too_big",
    errno.EROFS: "store.os.read_only_fs",
    errno.EACCES: "store.os.no_access",
    errno.EPERM: "store.os.not_permitted",
    errno.EIO: "store.os.io_error",
}


def os_problem(exc: OSError) -> PassendError:
    """One line for an operating-system error, naming the file when it is known."""
    if isinstance(exc, IsADirectoryError) or exc.errno == errno.EISDIR:
        return ConfigError(Said("store.os.is_folder", path=exc.filename or Said("store.os.the_path")))
    if isinstance(exc, NotADirectoryError) or exc.errno == errno.ENOTDIR:
        return ConfigError(Said("store.os.not_a_folder", path=exc.filename or Said("store.os.the_path")))
    if isinstance(exc, FileNotFoundError):
        return ConfigError(Said("store.os.missing", path=exc.filename or Said("store.os.the_file")))
    key = _OS.get(exc.errno or 0)
    if key is None:
        reason = exc.strerror or type(exc).__name__
        if exc.filename:
            return StoreProblem(Said("store.os.other_at", file=exc.filename, reason=reason))
        return StoreProblem(Said("store.os.other", reason=reason))
    if exc.filename:
        return StoreProblem(Said("store.os.problem_at", what=Said(key), file=exc.filename))
    return StoreProblem(Said("store.os.problem", what=Said(key)))


def explain(exc: BaseException) -> PassendError | None:
    """The clear error for `exc`, or None when it is a defect (an "interne fout")."""
    if isinstance(exc, PassendError):
        return exc
    if "sqlalchemy" in sys.modules or "sqlite3" in sys.modules or "psycopg" in sys.modules:
        from workflow.adapters.store.problems import database_problem

        found = database_problem(exc)
        if found is not None:
            return found
    if isinstance(exc, OSError) and exc.errno is not None:
        return os_problem(exc)
    return None

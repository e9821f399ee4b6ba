"""Failures a person can cause or meet, as one clear Dutch line and the error that carries its
exit code, instead of "interne fout".

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

from workflow.domain.errors import ConfigError, PassendError, StoreProblem

NOTHING_STORED = "er is niets opgeslagen"

_OS: dict[int, str] = {
    errno.ENOSPC: "de schijf is vol",
    errno.EDQUOT: "de schijfruimte (quotum) is op",
    errno.EFBIG: "het bestand mag niet groter worden (een grens van het systeem)",
    errno.EROFS: "het bestandssysteem is alleen-lezen",
    errno.EACCES: "geen toegang (rechten)",
    errno.EPERM: "niet toegestaan (rechten)",
    errno.EIO: "lees- of schrijffout van de schijf",
}


def os_problem(exc: OSError) -> PassendError:
    """One line for an operating-system error, naming the file when it is known."""
    where = f" ({exc.filename})" if exc.filename else ""
    if isinstance(exc, IsADirectoryError) or exc.errno == errno.EISDIR:
        return ConfigError(f"{exc.filename or 'het pad'} is een map; daar hoort een bestand")
    if isinstance(exc, NotADirectoryError) or exc.errno == errno.ENOTDIR:
        return ConfigError(f"{exc.filename or 'het pad'}: een deel van het pad is een bestand, geen map")
    if isinstance(exc, FileNotFoundError):
        return ConfigError(f"{exc.filename or 'het bestand'} bestaat niet")
    what = _OS.get(exc.errno or 0)
    if what is None:
        return StoreProblem(f"bestandsfout{where}: {exc.strerror or type(exc).__name__}; {NOTHING_STORED}")
    return StoreProblem(f"{what}{where}; {NOTHING_STORED}")


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

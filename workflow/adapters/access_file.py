"""An access log in a file, for reading a store that cannot be written (`--access-log FILE`).

Why: an auditor may be given a read-only copy of the database (a backup on read-only media).
Every read of personal data must still leave its access record (NEN 7513), and the copy's own
`access_log` table cannot take one. So the records go to a file the auditor names instead,
sealed into a hash chain exactly like the table's (workflow.adapters.access_chain: the same
fields, the same canonical form, the first record after 64 zeros), so the file proves its own
order and completeness the same way, and `passend audit verify --access-log FILE` checks it.

The file is JSON Lines, one record a line: `{"n", "at", "actor", "role", "action", "case_id",
"school", "purpose", "on_behalf_of", "source", "prev_hash", "hash"}`, `n` counting from 1. It is
only ever appended to (O_APPEND, under an exclusive lock, so two readers on one file never seal
onto the same head), and created 0600 (workflow.adapters.files). Nothing is read back from it
but its last line's hash. Keep it: it is part of the school's access record for that copy, and
hand it back with the audit's outcome.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workflow.adapters import access_chain
from workflow.adapters.access_chain import FIELDS, AccessChainReport
from workflow.adapters.files import PrivateFiles
from workflow.domain.errors import BadInput, Said, StoreProblem
from workflow.domain.events import GENESIS_HASH
from workflow.domain.instants import iso_utc


class FileAccessLog:
    def __init__(self, path: Path, files: PrivateFiles | None = None) -> None:
        self.path = path
        self.files = files or PrivateFiles()
        if path.is_dir():
            raise BadInput(Said("store.access_file.is_folder", path=str(path)))
        if not path.parent.is_dir():
            raise BadInput(Said("store.access_file.no_folder", folder=str(path.parent)))

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Seal `records` onto the file's chain and append them; returns how many."""
        try:
            with self.files.open(self.path, "a", append=True, encoding="utf-8") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                n, head = _last(self.path)
                written = 0
                for r in records:
                    rec = {k: r.get(k) for k in FIELDS}
                    head = access_chain.seal([rec], head)
                    n += 1
                    line = {"n": n, **rec, "at": iso_utc(r["at"])}
                    fh.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
                    written += 1
                fh.flush()
                os.fsync(fh.fileno())
            return written
        except OSError as exc:
            raise StoreProblem(Said("store.access_file.cannot_write", path=str(self.path),
                                    reason=exc.strerror or type(exc).__name__)) from None


def _last(path: Path) -> tuple[int, str]:
    """(number, hash) of the file's last record; (0, 64 zeros) for an empty or new file."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        if end == 0:
            return 0, GENESIS_HASH
        pos = max(0, end - 65_536)
        fh.seek(pos)
        tail = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        last = json.loads(tail)
        return int(last["n"]), str(last["hash"])
    except (ValueError, KeyError, TypeError):
        raise StoreProblem(Said("store.access_file.last_line", path=str(path))) from None


def check_file(path: Path, *, anchor: str | None = None) -> AccessChainReport:
    """The file's chain checked as `audit verify` checks the table's (access_chain.check)."""
    def batches() -> Iterator[list[access_chain.Record]]:
        with path.open("r", encoding="utf-8") as fh:
            chunk: list[access_chain.Record] = []
            for i, text in enumerate(fh, 1):
                try:
                    r = json.loads(text)
                    chunk.append((r["n"], r["at"], *(r[k] for k in FIELDS[1:]), r["prev_hash"], r["hash"]))
                except (ValueError, KeyError, TypeError):
                    chunk.append((i, "", None, None, None, None, None, None, None, None, "", ""))
                if len(chunk) == 1000:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

    if not path.is_file():
        raise BadInput(Said("store.access_file.missing", path=str(path)))
    return access_chain.check(batches(), anchor=anchor)

"""The holidays of each region and year, kept in a small file so a process need not import
`holidays` to know them.

Importing `holidays` costs most of a second (it loads every country it knows). A command-line
process runs one command, and any step that moves a due day off a non-school day needs the
calendar, so without this every such command would pay it. The file maps `version:region:year`
to the dates, where `version` identifies the installed `holidays` (its package file's path, size
and time, read without importing it): a new release, which may correct a year's dates, is
computed afresh. A file
that is missing, unreadable or not ours is ignored and rewritten; where it cannot be written
(a read-only home, say) the holidays are computed as before. Only dates are in it, nothing of
a school or a pupil.
"""

from __future__ import annotations

import _thread
import datetime as dt
import hashlib
import importlib.util
import json
import os
from pathlib import Path

from workflow.domain.calendar import HolidaySource, compute_holidays

FILE_NAME = "holidays.json"
FORMAT = 1


def default_folder() -> Path:
    """$PASSEND_CACHE_DIR, else $XDG_CACHE_HOME/passend, else ~/.cache/passend."""
    given = os.environ.get("PASSEND_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "passend"


def holidays_version() -> str:
    """Which installed `holidays` this is, without importing it (that is the point) and without
    `importlib.metadata` (which costs ~40 ms here): its package file's path, size and time, which
    change whenever it is installed again, in another version or place."""
    spec = importlib.util.find_spec("holidays")
    if spec is None or spec.origin is None:
        return "missing"
    try:
        st = os.stat(spec.origin)
    except OSError:
        return "unknown"
    ident = f"{spec.origin}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:16]


class HolidayCache:
    """A HolidaySource that asks `compute` once per release, region and year, and keeps the answer."""

    def __init__(self, folder: Path, compute: HolidaySource = compute_holidays, version: str | None = None) -> None:
        self.path = folder / FILE_NAME
        self.compute = compute
        self._version = version  # read on first use: most commands never need a calendar
        self._lock = _thread.allocate_lock()  # threading.Lock, without importing threading
        self._entries: dict[str, object] | None = None  # this release's entries, read once

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = holidays_version()
        return self._version

    def __call__(self, subdiv: str, year: int) -> frozenset[dt.date]:
        with self._lock:
            key = f"{self.version}:{subdiv}:{year}"
            if self._entries is None:
                self._entries = {k: v for k, v in self._read().items() if k.startswith(f"{self.version}:")}
            stored = self._entries.get(key)
            if isinstance(stored, list):
                try:
                    return frozenset(dt.date.fromisoformat(d) for d in stored)
                except (TypeError, ValueError):
                    pass  # not ours: computed and written again below
            days = self.compute(subdiv, year)
            self._entries[key] = sorted(d.isoformat() for d in days)
            self._write(self._entries)
            return days

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("days"), dict):
            return {}
        return dict(data["days"])

    def _write(self, entries: dict[str, object]) -> None:
        """Atomically (a temporary file renamed over the old one), so a reader never sees half."""
        import tempfile  # here: its import (random's) is paid only by a process that writes

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".holidays-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump({"format": FORMAT, "days": entries}, f, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return  # not writable here: the next process computes them again


_SHARED: dict[Path, HolidayCache] = {}


def shared_cache(folder: Path) -> HolidayCache:
    """One cache per folder and process: a process that bootstraps several times (tests, the
    demo) keeps the dates it has read instead of reading the file again each time."""
    cache = _SHARED.get(folder)
    if cache is None:
        cache = _SHARED[folder] = HolidayCache(folder)
    return cache

"""Parsed process definitions (and `case show`'s config.toml), kept as JSON so a process need
not parse their TOML again.

Why: every command reads the installed definitions (states/*.toml), and `tomllib` parsing
them took about 15 ms, most of what `passend case show` does besides starting (issue 17);
reading the same tables back from JSON takes a fraction of a millisecond. `case show` reads its
config.toml through it too (workflow.bootstrap.reader), and so does not even import tomllib.
Each file's table is kept under the SHA-256 of its text (and the Python version, whose tomllib
parsed it), so an edited file is parsed afresh, never read stale, and nothing need be
invalidated. A table JSON cannot hold exactly (TOML dates and times) is not kept; a cache file
that is missing, unreadable or not ours is ignored and written again; where none can be written
(a read-only home) the text is parsed every time, as before. The files hold what those files
hold (the definitions; the config's schools and staff, and no secret: it names environment
variables for those, and a config whose database URL holds a password is not kept, `keep`),
nothing of a pupil, each readable by the user alone, in
$PASSEND_CACHE_DIR (holiday_cache.default_folder) under `toml/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
_PLAIN = (str, int, float, bool)


def _plain(value: Any) -> bool:
    """Whether JSON holds `value` exactly: tables, arrays, strings, numbers, booleans."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN)


class TomlCache:
    """A `tomllib.loads` that keeps each text's table in `folder` (see the module)."""

    def __init__(self, folder: Path, *, keep: Callable[[dict[str, Any]], bool] = lambda table: True) -> None:
        self.folder = folder / "toml"
        self.keep = keep  # whether a parsed table may be written to the cache folder at all

    def __call__(self, text: str) -> dict[str, Any]:
        ident = f"{FORMAT}|{sys.version_info[0]}.{sys.version_info[1]}|".encode() + text.encode("utf-8")
        path = self.folder / f"{hashlib.sha256(ident).hexdigest()}.json"
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            table = None
        if isinstance(table, dict):
            return table
        import tomllib  # here: a process that finds every text kept never imports it

        table = tomllib.loads(text)  # a TOMLDecodeError goes to the caller, as tomllib's own
        if _plain(table) and self.keep(table):
            self._write(path, table)
        return table

    def _write(self, path: Path, table: dict[str, Any]) -> None:
        """Atomically (a temporary file renamed over), so a reader never sees half a table."""
        import tempfile  # here: its import (random's) is paid only by a process that writes

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".toml-", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(table, f, ensure_ascii=False)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return  # not writable here: the next process parses the text again

"""Files that hold personal data are written for their owner only: mode 0600 (folders 0700), or
0640 (0750) for one configured group (`[security] file_group`), never the umask's 0644.

What they are: a timeline (HTML, text or JSON with the notes decrypted), an export, the `.eml`
files of the file notifier, a backup of the database, an access log kept in a file. A file is
created with its mode from the start (os.open with the mode, then fchmod, since the umask can
only take bits away), so there is no moment at which another user could open it; an existing
file that is replaced gets the mode again.
"""

from __future__ import annotations

import contextlib
import grp
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from workflow.domain.errors import ConfigError, Said


class PrivateFiles:
    """Creates files and folders readable by their owner (and `group`, when configured) only."""

    def __init__(self, group: str | None = None) -> None:
        self.group = group
        self._gid: int | None = None
        if group is not None:
            try:
                self._gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise ConfigError(Said("store.files.no_group", group=group)) from None

    @property
    def file_mode(self) -> int:
        return 0o640 if self._gid is not None else 0o600

    @property
    def dir_mode(self) -> int:
        return 0o750 if self._gid is not None else 0o700

    def secure(self, path: Path | int) -> None:
        """Give an existing file (a path or an open descriptor) its private mode and group."""
        if isinstance(path, int):
            if self._gid is not None:
                os.fchown(path, -1, self._gid)
            os.fchmod(path, self.file_mode)
            return
        if self._gid is not None:
            os.chown(path, -1, self._gid)
        os.chmod(path, self.dir_mode if path.is_dir() else self.file_mode)

    def mkdir(self, path: Path) -> None:
        """The folder (and missing parents), private; an existing folder keeps its mode unless it
        was just made."""
        existed = path.exists()
        path.mkdir(parents=True, exist_ok=True)
        if not existed:
            self.secure(path)

    @contextlib.contextmanager
    def open(self, path: Path, mode: str = "w", *, append: bool = False, **kwargs: Any) -> Iterator[IO[Any]]:
        """`path` opened for writing, created private (truncated, or appended to with `append`)."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(path, flags, self.file_mode)
        try:
            self.secure(fd)
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, ("a" if append else "w") + ("b" if "b" in mode else ""), **kwargs) as fh:
            yield fh

    def write_text(self, path: Path, text: str) -> None:
        with self.open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

    def write_bytes(self, path: Path, data: bytes) -> None:
        with self.open(path, "wb") as fh:
            fh.write(data)

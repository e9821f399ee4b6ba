"""The file notifier: each message becomes an .eml file in a folder (the embedded default).

It lets the service run on a fresh machine with no mail server. Files are named after the
Message-ID, and written atomically, so a resend after a crash replaces the same file instead
of adding a second one. They are written 0600 (0640 for `[security] file_group`), the folder
made 0700 (0750): a message names cases, schools and deadlines.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .base import Message, Notifier, NotifierConfigError, NotifierError, check_keys, sender_of


class FileNotifier(Notifier):
    name = "file"

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender
        self.group: str | None = None  # [security] file_group: files 0640 for it, else 0600

    def use_file_group(self, group: str | None) -> None:
        self.group = group

    def _modes(self) -> tuple[int, int, int]:
        """(file mode, folder mode, gid or -1): a message holds names of cases and schools."""
        if self.group is None:
            return 0o600, 0o700, -1
        import grp

        try:
            return 0o640, 0o750, grp.getgrnam(self.group).gr_gid
        except KeyError:
            raise NotifierConfigError("notify.file.group_unknown", field="security.file_group",
                                      group=self.group) from None

    def check(self) -> None:
        """The folder exists or can be made, and passend may write in it."""
        self._modes()
        try:
            self._folder()
        except OSError as exc:
            raise NotifierConfigError("notify.file.folder_cannot_make", field="notifier.folder",
                                      folder=str(self.folder), reason=exc.strerror or type(exc).__name__) from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise NotifierConfigError("notify.file.folder_not_writable", field="notifier.folder",
                                      folder=str(self.folder))

    def _folder(self) -> None:
        if not self.folder.is_dir():
            _, dir_mode, gid = self._modes()
            self.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder, dir_mode)
            if gid != -1:
                os.chown(self.folder, -1, gid)

    @classmethod
    def from_config(cls, options: dict[str, Any], base: Any) -> FileNotifier:
        check_keys(options, {"folder", "from"}, "file")
        folder = options.get("folder", "var/outbox")
        if not isinstance(folder, str) or not folder:
            raise NotifierConfigError("notify.file.folder_invalid", field="notifier.folder")
        p = Path(folder).expanduser()
        return cls(p if p.is_absolute() else Path(base) / p, sender_of(options))

    def path_for(self, message: Message) -> Path:
        digest = hashlib.sha256(message.message_id.encode("utf-8")).hexdigest()[:24]
        return self.folder / f"{digest}.eml"

    def send(self, message: Message) -> None:
        target = self.path_for(message)
        tmp = target.with_suffix(".tmp")
        mode, _, gid = self._modes()
        try:
            self._folder()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), mode)  # whatever the umask: the owner (and group) only
                if gid != -1:
                    os.fchown(fh.fileno(), -1, gid)
                fh.write(bytes(message.to_email(self.sender)))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            # A full or read-only disk is the channel being down: no attempt spent on the message.
            raise NotifierError(f"kan niet schrijven naar {self.folder} ({type(exc).__name__})", down=True) from None

    def describe(self) -> str:
        return f"file ({self.folder})"

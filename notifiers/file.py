"""The file notifier: each message becomes an .eml file in a folder (the embedded default).

It lets the service run on a fresh machine with no mail server. Files are named after the
Message-ID, and written atomically, so a resend after a crash replaces the same file instead
of adding a second one.
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

    @classmethod
    def from_config(cls, options: dict[str, Any], base: Any) -> FileNotifier:
        check_keys(options, {"folder", "from"}, "file")
        folder = options.get("folder", "var/outbox")
        if not isinstance(folder, str) or not folder:
            raise NotifierConfigError("notifier.folder: must be a folder path such as var/outbox")
        p = Path(folder).expanduser()
        return cls(p if p.is_absolute() else Path(base) / p, sender_of(options))

    def path_for(self, message: Message) -> Path:
        digest = hashlib.sha256(message.message_id.encode("utf-8")).hexdigest()[:24]
        return self.folder / f"{digest}.eml"

    def send(self, message: Message) -> None:
        target = self.path_for(message)
        tmp = target.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(bytes(message.to_email(self.sender)))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise NotifierError(f"cannot write to {self.folder} ({type(exc).__name__})") from None

    def describe(self) -> str:
        return f"file ({self.folder})"

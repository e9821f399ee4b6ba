"""The console notifier: prints each message to standard output (for trying things out)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .base import Message, Notifier, check_keys, sender_of


class ConsoleNotifier(Notifier):
    name = "console"

    def __init__(self, sender: str, stream: TextIO | None = None) -> None:
        self.sender = sender
        self.stream = stream

    @classmethod
    def from_config(cls, options: dict[str, Any], base: Any) -> ConsoleNotifier:
        check_keys(options, {"from"}, "console")
        return cls(sender_of(options))

    def send(self, message: Message) -> None:
        out = self.stream or sys.stdout
        out.write(f"--- {message.message_id}\nAan: {', '.join(message.to)}\n"
                  f"Onderwerp: {message.subject}\n\n{message.text}\n")
        for a in message.attachments:
            out.write(f"[bijlage: {a.filename}]\n")
        out.flush()

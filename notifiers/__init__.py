"""Notification channels: one small module per backend, chosen by name from config.toml.

In the style of APScheduler 3's plugin folders: `base` holds the interface and the message,
each backend (`smtp`, `file`, `console`) lives in its own module and is imported only when it
is chosen, so a missing or slow dependency of one channel never burdens the others. This
package knows nothing of cases or deadlines; it sends what it is given.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .base import Attachment, Message, Notifier, NotifierConfigError, NotifierError

BACKENDS: dict[str, str] = {
    "smtp": "notifiers.smtp:SmtpNotifier",
    "file": "notifiers.file:FileNotifier",
    "console": "notifiers.console:ConsoleNotifier",
}

__all__ = [
    "BACKENDS", "Attachment", "Message", "Notifier", "NotifierConfigError", "NotifierError", "create",
]


def create(options: dict[str, Any], base: Path, *, file_group: str | None = None) -> Notifier:
    """The notifier named by `options["backend"]`, configured from the rest of `options`.

    Relative paths are taken from `base` (the config file's folder); files it writes are for
    `file_group` too, else for their owner only. Raises NotifierConfigError naming the key that
    is wrong.
    """
    backend = options.get("backend", "file")
    target = BACKENDS.get(backend) if isinstance(backend, str) else None
    if target is None:
        raise NotifierConfigError("notify.backend.unknown", field="notifier.backend", backend=repr(backend),
                                  known=", ".join(BACKENDS))
    module, attr = target.split(":")
    cls = getattr(importlib.import_module(module), attr)
    rest = {k: v for k, v in options.items() if k != "backend"}
    notifier: Notifier = cls.from_config(rest, base)
    notifier.use_file_group(file_group)
    return notifier

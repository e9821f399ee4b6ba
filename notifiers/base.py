"""The notifier interface and the message every backend sends.

A message is complete before it reaches a notifier (recipients, subject, plain text, HTML,
attachments and a Message-ID fixed by the sender), so sending it again after a crash produces
the same mail, with the same Message-ID, that a mail system can recognise as a duplicate.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any


class NotifierError(Exception):
    """A send failed and may succeed later (server down, refused, timed out). Retry it.

    `down` says the channel itself is unreachable, so the next messages would fail the same
    way; a dispatcher stops its run instead of spending every message's attempt on it.
    """

    def __init__(self, message: str, *, down: bool = False) -> None:
        super().__init__(message)
        self.down = down


class NotifierConfigError(ValueError):
    """The `[notifier]` section cannot be used; the message names the key."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    data: str
    params: tuple[tuple[str, str], ...] = ()  # e.g. (("method", "PUBLISH"),)


@dataclass(frozen=True)
class Message:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    message_id: str  # with angle brackets: <id@host>
    attachments: tuple[Attachment, ...] = ()
    date: dt.datetime | None = None

    def to_email(self, sender: str) -> EmailMessage:
        """The RFC 5322 message: plain text with an HTML alternative, then attachments."""
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = self.subject
        msg["Message-ID"] = self.message_id
        if self.date is not None:
            msg["Date"] = format_datetime(self.date)
        msg["Auto-Submitted"] = "auto-generated"
        msg["Content-Language"] = "nl"
        msg.set_content(self.text)
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html")
        for a in self.attachments:
            maintype, subtype = a.content_type.split("/", 1)
            msg.add_attachment(a.data.encode("utf-8"), maintype=maintype, subtype=subtype,
                               filename=a.filename, params=dict(a.params))
        return msg


class Notifier(abc.ABC):
    """Sends messages through one channel. `send` raises NotifierError when it may be retried."""

    name = "base"

    @classmethod
    @abc.abstractmethod
    def from_config(cls, options: dict[str, Any], base: Any) -> Notifier:
        """Build from the `[notifier]` options (without `backend`)."""

    @abc.abstractmethod
    def send(self, message: Message) -> None:
        """Deliver one message or raise NotifierError."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing open
        """Release connections; the notifier may be used again afterwards."""

    def describe(self) -> str:
        return self.name


def check_keys(options: dict[str, Any], allowed: set[str], backend: str) -> None:
    for k in options:
        if k not in allowed:
            raise NotifierConfigError(
                f"notifier.{k}: unknown key for the {backend} notifier (allowed: backend, {', '.join(sorted(allowed))})"
            )


def sender_of(options: dict[str, Any]) -> str:
    sender = options.get("from", "passend@localhost")
    if not isinstance(sender, str) or "@" not in sender or "\n" in sender:
        raise NotifierConfigError("notifier.from: must be an email address such as passend@school.example")
    return sender

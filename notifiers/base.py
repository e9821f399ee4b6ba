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
    """A send failed. By default it may succeed later (a 4xx answer, a time-out): retry it.

    `down`: the channel itself could not be reached or used before any recipient was refused
    (no connection, a dropped connection, 421, a refused login), so the message was not tried at
    all and the next ones would fail the same way: a dispatcher hands them back without spending
    an attempt and stops its run. `permanent`: the server refused this message for good (a 5xx
    answer); trying again would only be refused again, so it fails at once, with the answer.
    """

    def __init__(self, message: str, *, down: bool = False, permanent: bool = False) -> None:
        super().__init__(message)
        self.down = down
        self.permanent = permanent


# What a NotifierConfigError says when nothing renders it from passend's catalog: a program that
# uses these notifiers on their own, a traceback. The English of the catalog's notify.* entries,
# word for word (tests/test_notifier_messages.py holds the two together); passend itself shows the
# catalog's sentence, in plain Dutch unless PASSEND_LANGUAGE=en. The one table of these sentences.
TEXTS: dict[str, str] = {
    "notify.backend.unknown": "{field}: unknown backend {backend} (known: {known})",
    "notify.options.unknown_key": "{field}: unknown key for the {backend} notifier (allowed: backend, {allowed})",
    "notify.options.from_invalid": "{field}: must be an email address such as passend@school.example",
    "notify.file.group_unknown": "{field}: the group '{group}' does not exist",
    "notify.file.folder_cannot_make": "{field}: cannot create {folder} ({reason})",
    "notify.file.folder_not_writable": "{field}: passend may not write in {folder}",
    "notify.file.folder_invalid": "{field}: must be a folder path such as var/outbox",
    "notify.smtp.host_required": "{field}: the SMTP server's host name is required",
    "notify.smtp.security_invalid": "{field}: must be one of {choices}",
    "notify.smtp.port_invalid": "{field}: must be a port number (1-65535)",
    "notify.smtp.username_invalid": "{field}: must be a non-empty string",
    "notify.smtp.password_env_invalid": "{field}: must name an environment variable",
    "notify.smtp.password_env_required": "{field}: needed with username (the variable holding the password)",
    "notify.smtp.timeout_invalid": "{field}: must be a number of seconds > 0",
    "notify.smtp.ca_file_invalid": "{field}: must be the path of a PEM file of trusted certificates",
    "notify.smtp.none_with_login": "{field}: \"none\" with a username would send the password unencrypted: "
                                   "use starttls or ssl",
    "notify.smtp.password_unset": "{field}: the environment variable {variable} (the SMTP password) is not set",
    "notify.smtp.ca_file_unreadable": "{field}: {path} is not a readable PEM file ({reason})",
}


class NotifierConfigError(ValueError):
    """The `[notifier]` section cannot be used: which problem (`key`) and with what (`values`).

    Why a key and not a sentence: passend shows a config problem in plain Dutch (in English under
    PASSEND_LANGUAGE=en) from its message catalog, but this package stands alone and imports
    nothing of passend, neither the catalog nor its `Said`. So it names the catalog's entry
    (`key`, a `notify.*` id) and the pieces that fill it in (`values`: always `field`, the config
    key that is wrong, and safe pieces such as a path, a group or a variable's name, never a
    password), and passend renders it (`Said(exc.key, **exc.values)`). `str()` is the English
    of TEXTS, for a program that uses the notifiers on their own.
    """

    def __init__(self, key: str, /, *, field: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values: dict[str, str] = {"field": field, **values}

    @property
    def field(self) -> str:
        """The config key that is wrong, such as `notifier.host`."""
        return self.values["field"]

    def __str__(self) -> str:
        return TEXTS.get(self.key, self.key).format(**self.values)


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
    sender: str | None = None  # this message's From (a school's own); None: the notifier's

    def to_email(self, sender: str) -> EmailMessage:
        """The RFC 5322 message: plain text with an HTML alternative, then attachments. From is
        the message's own sender, else the notifier's `sender`."""
        msg = EmailMessage()
        msg["From"] = self.sender or sender
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

    def check(self) -> None:  # noqa: B027 - a backend with nothing to check has nothing to do
        """Raise NotifierConfigError when the channel cannot work as configured, found without
        sending anything (a service checks this when it starts, not per message)."""

    def use_file_group(self, group: str | None) -> None:  # noqa: B027 - only the file backend writes files
        """Files this notifier writes are for this group too (0640), else for the owner only."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing open
        """Release connections; the notifier may be used again afterwards."""

    def describe(self) -> str:
        return self.name


def check_keys(options: dict[str, Any], allowed: set[str], backend: str) -> None:
    for k in options:
        if k not in allowed:
            raise NotifierConfigError("notify.options.unknown_key", field=f"notifier.{k}", backend=backend,
                                      allowed=", ".join(sorted(allowed)))


def sender_of(options: dict[str, Any]) -> str:
    sender = options.get("from", "passend@localhost")
    if not isinstance(sender, str) or "@" not in sender or "\n" in sender:
        raise NotifierConfigError("notify.options.from_invalid", field="notifier.from")
    return sender

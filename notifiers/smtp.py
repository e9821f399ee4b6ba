"""The SMTP notifier: host, port, STARTTLS or SSL, login with a password from an env var.

TLS always verifies the server's certificate (the system's CAs, or `ca_file` for a school
board's own relay); there is no switch to turn verification off.

The password never sits in config.toml: the config names the environment variable that holds
it. One connection is reused for a batch of messages and reopened after a failure. Errors carry
the SMTP code and the exception type, never the message content.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from pathlib import Path
from typing import Any

from .base import Message, Notifier, NotifierConfigError, NotifierError, check_keys, sender_of

SECURITY = ("starttls", "ssl", "none")


class SmtpNotifier(Notifier):
    name = "smtp"

    def __init__(self, *, host: str, port: int, security: str, sender: str,
                 username: str | None = None, password_env: str | None = None,
                 timeout: float = 30.0, ca_file: str | None = None) -> None:
        self.host, self.port, self.security = host, port, security
        self.sender = sender
        self.username, self.password_env = username, password_env
        self.timeout = timeout
        self.ca_file = ca_file
        self._conn: smtplib.SMTP | None = None

    @classmethod
    def from_config(cls, options: dict[str, Any], base: Any) -> SmtpNotifier:
        check_keys(options, {"host", "port", "security", "username", "password_env", "from", "timeout", "ca_file"},
                   "smtp")
        host = options.get("host")
        if not isinstance(host, str) or not host:
            raise NotifierConfigError("notifier.host: the SMTP server's host name is required")
        security = options.get("security", "starttls")
        if security not in SECURITY:
            raise NotifierConfigError(f"notifier.security: must be one of {', '.join(SECURITY)}")
        port = options.get("port", 465 if security == "ssl" else 587)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise NotifierConfigError("notifier.port: must be a port number (1-65535)")
        username = options.get("username")
        password_env = options.get("password_env")
        if username is not None and (not isinstance(username, str) or not username):
            raise NotifierConfigError("notifier.username: must be a non-empty string")
        if password_env is not None and (not isinstance(password_env, str) or not password_env):
            raise NotifierConfigError("notifier.password_env: must name an environment variable")
        if username and not password_env:
            raise NotifierConfigError("notifier.password_env: needed with username (the variable holding the password)")
        timeout = options.get("timeout", 30)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise NotifierConfigError("notifier.timeout: must be a number of seconds > 0")
        ca_file = options.get("ca_file")
        if ca_file is not None:
            if not isinstance(ca_file, str) or not ca_file:
                raise NotifierConfigError("notifier.ca_file: must be the path of a PEM file of trusted certificates")
            p = Path(ca_file).expanduser()
            ca_file = str(p if p.is_absolute() else Path(base) / p)
        return cls(host=host, port=port, security=security, sender=sender_of(options),
                   username=username, password_env=password_env, timeout=float(timeout), ca_file=ca_file)

    def _connect(self) -> smtplib.SMTP:
        # The server's certificate is always verified: against the system's CAs, or ca_file.
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise NotifierError(f"cannot read notifier.ca_file ({type(exc).__name__})") from None
        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                conn.starttls(context=context)
        if self.username:
            password = os.environ.get(self.password_env or "")
            if password is None:
                conn.close()
                raise NotifierError(f"environment variable {self.password_env} (SMTP password) is not set")
            conn.login(self.username, password)
        return conn

    def send(self, message: Message) -> None:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                code = getattr(exc, "smtp_code", None)
                what = f"SMTP {code}" if code else f"SMTP {type(exc).__name__}"
                raise NotifierError(f"{what} connecting to {self.host}:{self.port}", down=True) from None
        try:
            refused = self._conn.send_message(message.to_email(self.sender))
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise NotifierError(f"SMTP {exc.smtp_code} from {self.host}:{self.port}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise NotifierError(f"SMTP {type(exc).__name__} at {self.host}:{self.port}") from None
        if refused:
            raise NotifierError(f"SMTP refused {len(refused)} recipient(s)")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            with contextlib.suppress(OSError):
                conn.close()

    def describe(self) -> str:
        return f"smtp ({self.host}:{self.port}, {self.security})"

"""The SMTP notifier: host, port, STARTTLS or SSL, login with a password from an env var.

TLS always verifies the server's certificate (the system's CAs, or `ca_file` for a school
board's own relay); there is no switch to turn verification off.

The password never sits in config.toml: the config names the environment variable that holds
it, and `check` (at the service's start) refuses a login over `security = "none"` and a
variable that is not set. One connection is reused for a batch of messages and reopened after a
failure. Errors carry the SMTP code, the stage and the server's answer, never the message
content; they say whether the channel is down (nothing tried, no attempt spent) or the message
was refused for good (5xx).
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
            raise NotifierConfigError("notify.smtp.host_required", field="notifier.host")
        security = options.get("security", "starttls")
        if security not in SECURITY:
            raise NotifierConfigError("notify.smtp.security_invalid", field="notifier.security",
                                      choices=", ".join(SECURITY))
        port = options.get("port", 465 if security == "ssl" else 587)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise NotifierConfigError("notify.smtp.port_invalid", field="notifier.port")
        username = options.get("username")
        password_env = options.get("password_env")
        if username is not None and (not isinstance(username, str) or not username):
            raise NotifierConfigError("notify.smtp.username_invalid", field="notifier.username")
        if password_env is not None and (not isinstance(password_env, str) or not password_env):
            raise NotifierConfigError("notify.smtp.password_env_invalid", field="notifier.password_env")
        if username and not password_env:
            raise NotifierConfigError("notify.smtp.password_env_required", field="notifier.password_env")
        timeout = options.get("timeout", 30)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise NotifierConfigError("notify.smtp.timeout_invalid", field="notifier.timeout")
        ca_file = options.get("ca_file")
        if ca_file is not None:
            if not isinstance(ca_file, str) or not ca_file:
                raise NotifierConfigError("notify.smtp.ca_file_invalid", field="notifier.ca_file")
            p = Path(ca_file).expanduser()
            ca_file = str(p if p.is_absolute() else Path(base) / p)
        return cls(host=host, port=port, security=security, sender=sender_of(options),
                   username=username, password_env=password_env, timeout=float(timeout), ca_file=ca_file)

    def check(self) -> None:
        """What can be known without sending: the password's variable is set (else every message
        would fail at its turn), `none` is never used with a login (the password would cross the
        network in plain text), the CA file can be read."""
        if self.username and self.security == "none":
            raise NotifierConfigError("notify.smtp.none_with_login", field="notifier.security")
        if self.username and not os.environ.get(self.password_env or ""):
            raise NotifierConfigError("notify.smtp.password_unset", field="notifier.password_env",
                                      variable=str(self.password_env))
        if self.ca_file is not None:
            try:
                ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise NotifierConfigError("notify.smtp.ca_file_unreadable", field="notifier.ca_file",
                                          path=self.ca_file, reason=type(exc).__name__) from None

    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        """A connection ready to send (TLS, login): any failure here means the channel is down."""
        # The server's certificate is always verified: against the system's CAs, or ca_file.
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise NotifierError(f"kan notifier.ca_file niet lezen ({type(exc).__name__})", down=True) from None
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    conn.starttls(context=context)
            if self.username:
                password = os.environ.get(self.password_env or "")
                if password is None:
                    raise NotifierError(f"omgevingsvariabele {self.password_env} (SMTP-wachtwoord) is niet gezet",
                                        down=True)
                conn.login(self.username, password)
            return conn
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    conn.close()
            code = getattr(exc, "smtp_code", None)
            what = f"SMTP {code} {_answer(exc)}".rstrip() if code else f"SMTP {type(exc).__name__}"
            raise NotifierError(f"{what} bij verbinden met {self._where()}", down=True) from None

    def send(self, message: Message) -> None:
        """One message, step by step (MAIL, RCPT, DATA), so each failure is classed right:
        before any recipient was refused a lost connection or a 421 is the channel being down
        (NotifierError(down=True): no attempt spent); a 5xx answer refuses the message for good
        (permanent, with the server's answer); a 4xx answer or a connection lost during DATA may
        succeed later (an attempt spent)."""
        reused = self._conn is not None
        try:
            self._send(message)
        except NotifierError as exc:
            if not (reused and exc.down and self._conn is None):
                raise
            # A kept connection the server closed while idle: one new connection, then as above.
            self._send(message)

    def _send(self, message: Message) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        mail = message.to_email(self.sender)
        envelope_from = message.sender or self.sender
        stage = "MAIL"
        try:
            conn.ehlo_or_helo_if_needed()
            code, resp = conn.mail(envelope_from)
            if code != 250:
                self._refused(stage, code, resp)
            stage = "RCPT"
            answers = [conn.rcpt(addr) for addr in message.to]
            accepted = [a for a in answers if a[0] in (250, 251)]
            if not accepted:
                worst = next((a for a in answers if a[0] >= 500), answers[0] if answers else (554, b""))
                self._refused(stage, *worst)
            stage = "DATA"
            code, resp = conn.data(mail.as_bytes(policy=mail.policy.clone(linesep="\r\n")))
            if code != 250:
                self._refused(stage, code, resp)
        except NotifierError:
            raise
        except smtplib.SMTPResponseException as exc:  # an answer smtplib raised (DATA's 354 refused)
            self._refused(stage, exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            # Before DATA nothing was handed over: the connection dropping is the channel's outage.
            raise NotifierError(f"SMTP {type(exc).__name__} bij {stage} aan {self._where()}",
                                down=stage != "DATA") from None

    def _refused(self, stage: str, code: int, resp: bytes | str) -> None:
        """The server answered `code` at `stage`: reset the transaction and raise accordingly."""
        text = _clean(resp)
        if code == 421 or code == -1:  # closing the connection, or it was closed under us
            self.close()
            raise NotifierError(f"SMTP {code} {text} bij {stage} aan {self._where()}".replace("  ", " "), down=True)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            assert self._conn is not None
            self._conn.rset()
        raise NotifierError(f"SMTP {code} {text} bij {stage} aan {self._where()}".replace("  ", " "),
                            permanent=500 <= code < 600)

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


def _clean(resp: bytes | str | None) -> str:
    """A server's answer as one short line: what `reminders list --failed` shows."""
    if resp is None:
        return ""
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())[:200]


def _answer(exc: BaseException) -> str:
    return _clean(getattr(exc, "smtp_error", None))

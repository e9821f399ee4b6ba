"""The second step after a link: a TOTP code (RFC 6238, 30 s, 6 digits; pyotp) from the user's
authenticator app.

Every role of today's process reads personal data (ib, leerkracht, directeur, auditor), so every
sign-in by link asks for a code. The first sign-in enrols: a secret is made and kept (sealed with
the master key) until the first right code confirms it; only then is it the user's. A code is
accepted once (the step of the last accepted code is kept: a code seen over a shoulder or in a
proxy's log cannot be used again), one step either side of now counts (clocks drift). Wrong codes
are limited per user (WRONG_LIMIT in WINDOW); past that no code is checked until the window ends,
so six digits cannot be guessed through the web.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyotp
from sqlalchemy import select, update

from workflow.adapters.store.db import begin_write
from workflow.adapters.store.tables import users
from workflow.service_layer.signin import throttle

if TYPE_CHECKING:
    from workflow.service_layer.engine import Engine

WRONG_LIMIT = 5
WINDOW = dt.timedelta(minutes=15)
ISSUER = "passend"


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text and as an otpauth URI (for the QR)."""

    secret: str
    uri: str


class Codes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _context(self, user_id: str) -> str:
        return f"totp/{user_id}"

    def enrolled(self, user_id: str) -> bool:
        with self.engine.db.connect() as conn:
            row = conn.execute(select(users.c.totp_enrolled_at).where(users.c.id == user_id)).first()
        return row is not None and row.totp_enrolled_at is not None

    def enrolment(self, user_id: str, label: str) -> Enrolment:
        """The secret being enrolled (made and stored when there is none yet). Refused once the
        user has enrolled: the secret is never shown again."""
        keyring = self.engine.keyring
        with begin_write(self.engine.db) as conn:
            row = conn.execute(select(users.c.totp_secret, users.c.totp_enrolled_at)
                               .where(users.c.id == user_id)).one()
            if row.totp_enrolled_at is not None:
                raise PermissionError("already enrolled")
            if row.totp_secret is None:
                secret = pyotp.random_base32()
                conn.execute(update(users).where(users.c.id == user_id).values(
                    totp_secret=keyring.seal_secret(self._context(user_id), secret)))
            else:
                secret = keyring.open_secret(self._context(user_id), row.totp_secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)
        return Enrolment(secret, uri)

    def check(self, user_id: str, code: str) -> str:
        """'ok' (and enrolled, if this was the first code), 'wrong', or 'throttled'."""
        code = "".join(code.split()) if isinstance(code, str) else ""
        now = self.engine.clock()
        key = f"code:{user_id}"
        with begin_write(self.engine.db) as conn:
            if throttle.over(conn, key, limit=WRONG_LIMIT, window=WINDOW, now=now):
                return "throttled"
            row = conn.execute(select(users.c.totp_secret, users.c.totp_enrolled_at, users.c.totp_last_step)
                               .where(users.c.id == user_id)).one()
            step = None
            if row.totp_secret is not None and len(code) == 6 and code.isdigit():
                totp = pyotp.TOTP(self.engine.keyring.open_secret(self._context(user_id), row.totp_secret))
                now_step = int(now.timestamp()) // totp.interval
                for candidate in (now_step - 1, now_step, now_step + 1):
                    if hmac.compare_digest(totp.generate_otp(candidate), code):
                        step = candidate
                        break
            if step is None or (row.totp_last_step is not None and step <= row.totp_last_step):
                throttle.hit(conn, key, limit=WRONG_LIMIT, window=WINDOW, now=now)
                return "wrong"
            conn.execute(update(users).where(users.c.id == user_id).values(
                totp_last_step=step, totp_enrolled_at=row.totp_enrolled_at or now,
                **({"updated_at": now} if row.totp_enrolled_at is None else {})))
            throttle.clear(conn, key)
        return "ok"

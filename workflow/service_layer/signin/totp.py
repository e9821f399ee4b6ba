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

import pyotp

from workflow.domain.errors import NotFound
from workflow.messages import text
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.signin import throttle

WRONG_LIMIT = 5
WINDOW = dt.timedelta(minutes=15)
ISSUER = "passend"


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text and as an otpauth URI (for the QR)."""

    secret: str
    uri: str


class Codes:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _context(self, user_id: str) -> str:
        return f"totp/{user_id}"

    def enrolled(self, user_id: str) -> bool:
        with self.ctx.uow(write=False) as uow:
            state = uow.users.totp(user_id)
        return state is not None and state.enrolled_at is not None

    def enrolment(self, user_id: str, label: str) -> Enrolment:
        """The secret being enrolled (made and stored when there is none yet). Refused once the
        user has enrolled: the secret is never shown again."""
        keyring = self.ctx.keyring
        with self.ctx.uow() as uow:
            state = uow.users.totp(user_id)
            if state is None:
                raise NotFound(text("svc.users.unknown", user=user_id))
            if state.enrolled_at is not None:
                raise PermissionError("already enrolled")
            if state.secret is None:
                secret = pyotp.random_base32()
                uow.users.set_totp_secret(user_id, keyring.seal_secret(self._context(user_id), secret))
            else:
                secret = keyring.open_secret(self._context(user_id), state.secret)
            uow.commit()
        uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)
        return Enrolment(secret, uri)

    def check(self, user_id: str, code: str) -> str:
        """'ok' (and enrolled, if this was the first code), 'wrong', or 'throttled'."""
        code = "".join(code.split()) if isinstance(code, str) else ""
        now = self.ctx.clock()
        key = f"code:{user_id}"
        with self.ctx.uow() as uow:
            if throttle.over(uow, key, limit=WRONG_LIMIT, window=WINDOW, now=now):
                return "throttled"
            state = uow.users.totp(user_id)
            step = None
            if state is not None and state.secret is not None and len(code) == 6 and code.isdigit():
                totp = pyotp.TOTP(self.ctx.keyring.open_secret(self._context(user_id), state.secret))
                now_step = int(now.timestamp()) // totp.interval
                for candidate in (now_step - 1, now_step, now_step + 1):
                    if hmac.compare_digest(totp.generate_otp(candidate), code):
                        step = candidate
                        break
            if state is None or step is None or (state.last_step is not None and step <= state.last_step):
                throttle.hit(uow, key, limit=WRONG_LIMIT, window=WINDOW, now=now)
                uow.commit()
                return "wrong"
            uow.users.accept_totp(user_id, step, now=now)
            throttle.clear(uow, key)
            uow.commit()
        return "ok"

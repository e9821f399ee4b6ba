"""Web sessions, kept on the server: the cookie holds a random token, the table its keyed hash.

A session is in one of two stages: `code` (an e-mail link was used; the TOTP code is still due,
and nothing but the code pages is open to it, for at most CODE_MINUTES) and `full`. Going from
`code` to `full` gives the session a new token (no session fixation). A session ends at sign-out
(its row is deleted: the token is worth nothing after), after `idle` without a request, at its
absolute end (`lifetime` after sign-in), and at once when its user is disabled: every request
reads the session together with its user (the `WebSessions` port).

`last_seen_at` is written at most once a TOUCH_SECONDS per session, not on every request, so
the idle timeout is exact to within that much.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from workflow.adapters.config import User
from workflow.service_layer.context import ServiceContext

CODE_MINUTES = 10
TOUCH_SECONDS = 60
STAGES = ("code", "full")
METHODS = ("link", "oidc")


@dataclass(frozen=True)
class WebSession:
    id: str  # the keyed hash, never the token
    user: User
    stage: str
    method: str
    csrf: str
    created_at: dt.datetime
    expires_at: dt.datetime

    @property
    def full(self) -> bool:
        return self.stage == "full"


class Sessions:
    def __init__(self, ctx: ServiceContext, *, idle: dt.timedelta, lifetime: dt.timedelta) -> None:
        self.ctx = ctx
        self.idle = idle
        self.lifetime = lifetime

    def _hash(self, token: str) -> str:
        return self.ctx.keyring.token_hash("session", token)

    def start(self, user_id: str, *, stage: str, method: str) -> str:
        """A new session for `user_id`; returns the token for the cookie."""
        assert stage in STAGES and method in METHODS
        token = secrets.token_urlsafe(32)
        now = self.ctx.clock()
        end = now + (dt.timedelta(minutes=CODE_MINUTES) if stage == "code" else self.lifetime)
        with self.ctx.uow() as uow:
            uow.web_sessions.add(session_id=self._hash(token), user_id=user_id, stage=stage, method=method,
                                 csrf=secrets.token_urlsafe(32), now=now, expires_at=end)
            uow.web_sessions.purge(now=now)  # old rows go
            uow.commit()
        return token

    def resolve(self, token: str | None) -> WebSession | None:
        """The live session of this cookie token, or None (unknown, ended, idle too long, past its
        end, or its user disabled: then it is deleted, with every other session of that user)."""
        if not token or len(token) > 100:
            return None
        sid = self._hash(token)
        now = self.ctx.clock()
        with self.ctx.uow(write=False) as uow:
            row = uow.web_sessions.get(sid)
        if row is None:
            return None
        if not row.user_active:
            self.end_user(row.user.id)
            return None
        if row.expires_at <= now or row.last_seen_at + self.idle <= now:
            self._delete(sid)
            return None
        if (now - row.last_seen_at).total_seconds() >= TOUCH_SECONDS:
            with self.ctx.uow() as uow:
                uow.web_sessions.touch(sid, now)
                uow.commit()
        return WebSession(id=sid, user=row.user, stage=row.stage, method=row.method, csrf=row.csrf,
                          created_at=row.created_at, expires_at=row.expires_at)

    def promote(self, session: WebSession) -> str:
        """The code was right: the session becomes `full` under a new token (the old one ends)."""
        token = secrets.token_urlsafe(32)
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            if not uow.web_sessions.promote(session.id, new_id=self._hash(token), csrf=secrets.token_urlsafe(32),
                                            now=now, expires_at=now + self.lifetime):
                raise LookupError("session already promoted or ended")
            uow.commit()
        return token

    def end(self, token: str | None) -> None:
        if token and len(token) <= 100:
            self._delete(self._hash(token))

    def _delete(self, sid: str) -> None:
        with self.ctx.uow() as uow:
            uow.web_sessions.end(sid)
            uow.commit()

    def end_user(self, user_id: str) -> None:
        with self.ctx.uow() as uow:
            uow.web_sessions.end_user(user_id)
            uow.commit()

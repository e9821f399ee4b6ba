"""Web sessions, kept on the server: the cookie holds a random token, the table its keyed hash.

A session is in one of two stages: `code` (an e-mail link was used; the TOTP code is still due,
and nothing but the code pages is open to it, for at most CODE_MINUTES) and `full`. Going from
`code` to `full` gives the session a new token (no session fixation). A session ends at sign-out
(its row is deleted: the token is worth nothing after), after `idle` without a request, at its
absolute end (`lifetime` after sign-in), and at once when its user is disabled: every request
reads the session together with its user.

`last_seen_at` is written at most once a TOUCH_SECONDS per session, not on every request, so
the idle timeout is exact to within that much.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from workflow.adapters.config import User
from workflow.adapters.store.db import begin_write
from workflow.adapters.store.tables import users, web_sessions

if TYPE_CHECKING:
    from workflow.service_layer.engine import Engine

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
    def __init__(self, engine: Engine, *, idle: dt.timedelta, lifetime: dt.timedelta) -> None:
        self.engine = engine
        self.idle = idle
        self.lifetime = lifetime

    def _hash(self, token: str) -> str:
        return self.engine.keyring.token_hash("session", token)

    def start(self, user_id: str, *, stage: str, method: str) -> str:
        """A new session for `user_id`; returns the token for the cookie."""
        assert stage in STAGES and method in METHODS
        token = secrets.token_urlsafe(32)
        now = self.engine.clock()
        end = now + (dt.timedelta(minutes=CODE_MINUTES) if stage == "code" else self.lifetime)
        with begin_write(self.engine.db) as conn:
            conn.execute(insert(web_sessions).values(
                id=self._hash(token), user_id=user_id, stage=stage, method=method,
                csrf=secrets.token_urlsafe(32), created_at=now, last_seen_at=now, expires_at=end))
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))  # old rows go
        return token

    def resolve(self, token: str | None) -> WebSession | None:
        """The live session of this cookie token, or None (unknown, ended, idle too long, past its
        end, or its user disabled: then it is deleted, with every other session of that user)."""
        if not token or len(token) > 100:
            return None
        sid = self._hash(token)
        now = self.engine.clock()
        with self.engine.db.connect() as conn:
            row = conn.execute(
                select(web_sessions, users.c.name, users.c.role, users.c.schools, users.c.email,
                       users.c.disabled_at)
                .join(users, users.c.id == web_sessions.c.user_id)
                .where(web_sessions.c.id == sid)).first()
        if row is None:
            return None
        if row.disabled_at is not None:
            self.end_user(row.user_id)
            return None
        if row.expires_at <= now or row.last_seen_at + self.idle <= now:
            self._delete(sid)
            return None
        if (now - row.last_seen_at).total_seconds() >= TOUCH_SECONDS:
            with begin_write(self.engine.db) as conn:
                conn.execute(update(web_sessions).where(web_sessions.c.id == sid).values(last_seen_at=now))
        user = User(row.user_id, row.role, tuple(json.loads(row.schools)), row.name, row.email)
        return WebSession(id=sid, user=user, stage=row.stage, method=row.method, csrf=row.csrf,
                          created_at=row.created_at, expires_at=row.expires_at)

    def promote(self, session: WebSession) -> str:
        """The code was right: the session becomes `full` under a new token (the old one ends)."""
        token = secrets.token_urlsafe(32)
        now = self.engine.clock()
        with begin_write(self.engine.db) as conn:
            done = conn.execute(update(web_sessions).where(
                web_sessions.c.id == session.id, web_sessions.c.stage == "code").values(
                id=self._hash(token), stage="full", csrf=secrets.token_urlsafe(32), last_seen_at=now,
                expires_at=now + self.lifetime))
            if done.rowcount != 1:
                raise LookupError("session already promoted or ended")
        return token

    def end(self, token: str | None) -> None:
        if token and len(token) <= 100:
            self._delete(self._hash(token))

    def _delete(self, sid: str) -> None:
        with begin_write(self.engine.db) as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id == sid))

    def end_user(self, user_id: str) -> None:
        with begin_write(self.engine.db) as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))

"""OpenID Connect sign-ins in progress: the `state`, `nonce` and PKCE verifier of each.

The browser carries `state` to the provider and back; the server keeps its keyed hash with the
nonce the ID token must hold and the PKCE code verifier, for FLOW_MINUTES, for one use. Kept in
the database, so the callback may reach another `passend web` process than the start did. A flow
is bound to the browser that began it (the keyed hash of that browser's pre-session cookie): a
callback URL someone else's sign-in produced cannot sign this browser in as them (login CSRF).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select

from workflow.adapters.store.db import begin_write
from workflow.adapters.store.tables import signin_flows

if TYPE_CHECKING:
    from workflow.service_layer.engine import Engine

FLOW_MINUTES = 10


class Flows:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, browser: str) -> tuple[str, str, str]:
        """(state, nonce, code_verifier) for a new sign-in; the verifier is 64 URL-safe characters
        (RFC 7636 asks 43-128)."""
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        now = self.engine.clock()
        with begin_write(self.engine.db) as conn:
            conn.execute(delete(signin_flows).where(signin_flows.c.expires_at < now))
            conn.execute(insert(signin_flows).values(
                id=self.engine.keyring.token_hash("oidc-state", state), nonce=nonce, verifier=verifier,
                browser=browser, created_at=now, expires_at=now + dt.timedelta(minutes=FLOW_MINUTES)))
        return state, nonce, verifier

    def take(self, state: str, browser: str) -> tuple[str, str] | None:
        """(nonce, verifier) of the flow `state` began, once; None when unknown, used, expired, or
        begun in another browser."""
        if not isinstance(state, str) or not 20 <= len(state) <= 100:
            return None
        fid = self.engine.keyring.token_hash("oidc-state", state)
        now = self.engine.clock()
        with begin_write(self.engine.db) as conn:
            row = conn.execute(select(signin_flows).where(signin_flows.c.id == fid)).first()
            if row is None:
                return None
            done = conn.execute(delete(signin_flows).where(signin_flows.c.id == fid))
            if done.rowcount != 1 or row.expires_at <= now or not hmac.compare_digest(row.browser, browser):
                return None
        return row.nonce, row.verifier

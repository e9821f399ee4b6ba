"""OpenID Connect sign-ins in progress: the `state`, `nonce` and PKCE verifier of each.

The browser carries `state` to the provider and back; the store keeps its keyed hash with the
nonce the ID token must hold and the PKCE code verifier, for FLOW_MINUTES, for one use. Kept by
the store (the `OidcFlows` port), so the callback may reach another `passend web` process than
the start did. A flow is bound to the browser that began it (the keyed hash of that browser's
pre-session cookie): a callback URL someone else's sign-in produced cannot sign this browser in
as them (login CSRF). Starting a flow is limited per IP (START_LIMIT per WINDOW).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from workflow.adapters.config import User
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.signin import throttle

FLOW_MINUTES = 10
START_LIMIT = 30
WINDOW = dt.timedelta(minutes=15)


class Flows:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def start(self, browser: str, *, ip: str) -> tuple[str, str, str] | None:
        """(state, nonce, code_verifier) for a new sign-in (the verifier is 64 URL-safe characters;
        RFC 7636 asks 43-128), or None when `ip` started too many flows in the window."""
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            if not throttle.hit(uow, f"oidc-ip:{ip[:64]}", limit=START_LIMIT, window=WINDOW, now=now):
                uow.commit()  # the attempt counts
                return None
            state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
            uow.oidc_flows.purge(now=now)
            uow.oidc_flows.add(flow_id=self.ctx.keyring.token_hash("oidc-state", state), nonce=nonce,
                               verifier=verifier, browser=browser, now=now,
                               expires_at=now + dt.timedelta(minutes=FLOW_MINUTES))
            uow.commit()
        return state, nonce, verifier

    def take(self, state: str, browser: str) -> tuple[str, str] | None:
        """(nonce, verifier) of the flow `state` began, once; None when unknown, used, expired, or
        begun in another browser (it is used up either way)."""
        if not isinstance(state, str) or not 20 <= len(state) <= 100:
            return None
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            row = uow.oidc_flows.take(self.ctx.keyring.token_hash("oidc-state", state))
            uow.commit()
        if row is None or row.expires_at <= now or not hmac.compare_digest(row.browser, browser):
            return None
        return row.nonce, row.verifier

    def user_for(self, email: str) -> tuple[User | None, str]:
        """The active passend user the provider's (verified) address belongs to, and why not:
        (user, "ok"), (None, "unknown_user") or (None, "disabled_user")."""
        record = self.ctx.users.by_email(email)
        if record is None:
            return None, "unknown_user"
        if not record.active:
            return None, "disabled_user"
        return record.as_user(), "ok"

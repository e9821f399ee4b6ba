"""Sign-in links by e-mail, for a school without its own identity provider.

A link carries a random 256-bit token; the database keeps only its keyed hash (HMAC with a key
derived from the master key), so the link is verified by that signature and a copy of the
database cannot make or use one. A link is good once, for `minutes` (default 15), and only while
its user is active. Asking for a link never tells whether the address is known: the answer, and
what is counted against the address and the IP, are the same either way, and the mail is sent
after the answer (see the web layer). Requests are limited per address (PER_ADDRESS) and per IP
(PER_IP) in a WINDOW; the address is counted by its keyed hash, never stored as such.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflow.messages import text
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.signin import throttle

if TYPE_CHECKING:
    from notifiers import Message

PER_ADDRESS = 5
PER_IP = 20
WINDOW = dt.timedelta(minutes=15)


class LinkRefused(Exception):
    """A link that cannot sign anyone in; `reason` is from the catalog and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Issued:
    """A link to send: to whom, the token, and until when it works."""

    user_id: str
    email: str
    token: str
    expires_at: dt.datetime


class Links:
    def __init__(self, ctx: ServiceContext, *, minutes: int = 15) -> None:
        self.ctx = ctx
        self.lifetime = dt.timedelta(minutes=minutes)

    def request(self, email: str, *, ip: str) -> Issued | None:
        """Count the request; a link when the address belongs to an active user and neither the
        address nor the IP is over its limit, else None. The caller answers the same either way."""
        address = email.strip().lower() if isinstance(email, str) else ""
        now = self.ctx.clock()
        key = self.ctx.keyring.token_hash("address", address)[:32]
        issued = None
        with self.ctx.uow() as uow:
            ip_ok = throttle.hit(uow, f"link-ip:{ip[:64]}", limit=PER_IP, window=WINDOW, now=now)
            address_ok = throttle.hit(uow, f"link-address:{key}", limit=PER_ADDRESS, window=WINDOW, now=now)
            throttle.purge(uow, older_than=now - dt.timedelta(days=1))
            user = uow.users.by_email(address) if ip_ok and address_ok and address and len(address) <= 254 else None
            if user is not None and user.active and user.email is not None:
                token = secrets.token_urlsafe(32)
                issued = Issued(user.id, user.email, token, now + self.lifetime)
                uow.signin_links.add(link_id=self._hash(token), user_id=user.id, now=now,
                                     expires_at=issued.expires_at)
                uow.signin_links.purge(before=now - dt.timedelta(days=1))
            uow.commit()  # the attempt counts, link or not
        return issued

    def _hash(self, token: str) -> str:
        return self.ctx.keyring.token_hash("link", token)

    def consume(self, token: str) -> str:
        """Use a link: its user's id, or LinkRefused (unknown, used before, expired, user disabled).
        Of two requests with one link, exactly one gets through (`SigninLinks.use`)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise LinkRefused(text("svc.signin.link_invalid"))
        lid = self._hash(token)
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            row = uow.signin_links.get(lid)
            if row is None:
                raise LinkRefused(text("svc.signin.link_invalid"))
            if row.used_at is not None:
                raise LinkRefused(text("svc.signin.link_used"))
            if row.expires_at <= now:
                minutes = int(self.lifetime.total_seconds() // 60)
                raise LinkRefused(text("svc.signin.link_expired", minutes=minutes))
            if not row.user_active:
                raise LinkRefused(text("svc.signin.no_access"))
            if not uow.signin_links.use(lid, now):
                raise LinkRefused(text("svc.signin.link_used"))
            uow.commit()
        return row.user_id


def link_message(issued: Issued, url: str, *, sent_at: dt.datetime, host: str) -> Message:
    """The mail with the link: from the catalog, no pupil data, nothing but the link and its end time."""
    from notifiers import Message
    from workflow.domain.instants import SCHOOL_TZ

    until = issued.expires_at.astimezone(SCHOOL_TZ).strftime("%H:%M")
    body = text("mail.signin.link.body", url=url, until=until)
    return Message(to=(issued.email,), subject=text("mail.signin.link.subject"), text=body, html=None,
                   message_id=f"<signin.{secrets.token_hex(12)}@{host}>", date=sent_at)

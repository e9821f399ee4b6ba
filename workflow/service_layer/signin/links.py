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

from sqlalchemy import delete, insert, select, update

from workflow.adapters.store.db import begin_write
from workflow.adapters.store.tables import signin_links, users
from workflow.service_layer.signin import throttle

if TYPE_CHECKING:
    from notifiers import Message
    from workflow.service_layer.engine import Engine

PER_ADDRESS = 5
PER_IP = 20
WINDOW = dt.timedelta(minutes=15)


class LinkRefused(Exception):
    """A link that cannot sign anyone in; `reason` is Dutch and safe to show."""

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
    def __init__(self, engine: Engine, *, minutes: int = 15) -> None:
        self.engine = engine
        self.lifetime = dt.timedelta(minutes=minutes)

    def request(self, email: str, *, ip: str) -> Issued | None:
        """Count the request; a link when the address belongs to an active user and neither the
        address nor the IP is over its limit, else None. The caller answers the same either way."""
        address = email.strip().lower() if isinstance(email, str) else ""
        now = self.engine.clock()
        key = self.engine.keyring.token_hash("address", address)[:32]
        with begin_write(self.engine.db) as conn:
            ip_ok = throttle.hit(conn, f"link-ip:{ip[:64]}", limit=PER_IP, window=WINDOW, now=now)
            address_ok = throttle.hit(conn, f"link-address:{key}", limit=PER_ADDRESS, window=WINDOW, now=now)
            throttle.purge(conn, older_than=now - dt.timedelta(days=1))
            if not (ip_ok and address_ok) or not address or len(address) > 254:
                return None
            row = conn.execute(select(users.c.id, users.c.email, users.c.disabled_at)
                               .where(users.c.email == address)).first()
            if row is None or row.disabled_at is not None:
                return None
            token = secrets.token_urlsafe(32)
            expires = now + self.lifetime
            conn.execute(insert(signin_links).values(
                id=self._hash(token), user_id=row.id, created_at=now, expires_at=expires))
            conn.execute(delete(signin_links).where(signin_links.c.expires_at < now - dt.timedelta(days=1)))
        return Issued(row.id, row.email, token, expires)

    def _hash(self, token: str) -> str:
        return self.engine.keyring.token_hash("link", token)

    def consume(self, token: str) -> str:
        """Use a link: its user's id, or LinkRefused (unknown, used before, expired, user disabled).
        Of two requests with one link, exactly one gets through (a conditional UPDATE)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise LinkRefused("Deze inloglink is niet geldig.")
        lid = self._hash(token)
        now = self.engine.clock()
        with begin_write(self.engine.db) as conn:
            row = conn.execute(select(signin_links, users.c.disabled_at)
                               .join(users, users.c.id == signin_links.c.user_id)
                               .where(signin_links.c.id == lid)).first()
            if row is None:
                raise LinkRefused("Deze inloglink is niet geldig.")
            if row.used_at is not None:
                raise LinkRefused("Deze inloglink is al gebruikt. Een link werkt maar één keer.")
            if row.expires_at <= now:
                minutes = int(self.lifetime.total_seconds() // 60)
                raise LinkRefused(f"Deze inloglink is verlopen. Een link werkt {minutes} minuten.")
            if row.disabled_at is not None:
                raise LinkRefused("U heeft geen toegang meer tot passend.")
            done = conn.execute(update(signin_links).where(
                signin_links.c.id == lid, signin_links.c.used_at.is_(None)).values(used_at=now))
            if done.rowcount != 1:
                raise LinkRefused("Deze inloglink is al gebruikt. Een link werkt maar één keer.")
        return str(row.user_id)


def link_message(issued: Issued, url: str, *, sent_at: dt.datetime, host: str) -> Message:
    """The mail with the link: Dutch, no pupil data, nothing but the link and its end time."""
    from notifiers import Message
    from workflow.domain.instants import SCHOOL_TZ

    until = issued.expires_at.astimezone(SCHOOL_TZ).strftime("%H:%M")
    text = (
        "Goedendag,\n\n"
        "U vroeg om in te loggen bij passend. Klik op deze link om verder te gaan:\n\n"
        f"{url}\n\n"
        f"De link werkt één keer, tot {until} uur. Daarna vraagt passend om een code uit uw "
        "authenticator-app. De eerste keer stelt u die app eerst in.\n\n"
        "Vroeg u niet om deze link? Dan hoeft u niets te doen. Stuur deze e-mail niet door.\n"
    )
    return Message(to=(issued.email,), subject="Uw inloglink voor passend", text=text, html=None,
                   message_id=f"<signin.{secrets.token_hex(12)}@{host}>", date=sent_at)

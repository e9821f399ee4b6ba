"""Parents and guardians on a case: the IB adds, removes and invites them; a parent signs in.

A parent is no passend user. Their row belongs to one case and holds their name and e-mail
address sealed with that case's key, like every other personal field (erasing the case erases
them). Whoever may record the parents' consent on the case (the IB) manages the rows.

An invitation is an e-mail with a sign-in link: a random 256-bit token of which the store keeps
only the keyed hash, good once, for LINK_DAYS, and only while the parent is on the case. A new
invitation replaces the unused links before it; invitations are limited per parent
(INVITES_PER_DAY). Using the link starts a parent session (`ParentSessions`): short (IDLE
without a request, LIFETIME at most), and scoped to the one case of the parent's row. Removing a
parent deletes their links and sessions in the same transaction: they stop working at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.adapters.ports import ParentRow, UnitOfWork
from workflow.domain.case import Case
from workflow.domain.errors import BadInput, NotFound
from workflow.domain.evidence import PARENT_ROLE
from workflow.domain.reasons import Reason
from workflow.messages import text
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.refusals import refused
from workflow.service_layer.signin import throttle

if TYPE_CHECKING:
    from notifiers import Message

log = get_logger("passend.parents")
LINK_DAYS = 7
INVITES_PER_DAY = 5
IDLE = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=4)
TOUCH_SECONDS = 60
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,251}\.[A-Za-z]{2,24}$")


class LinkRefused(Exception):
    """A parent's link that cannot sign anyone in; `reason` is from the catalog and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Parent:
    """A parent row, opened: for the IB's page and the parent's own."""

    id: str
    case_id: str
    school: str
    name: str
    email: str
    added_at: dt.datetime

    @property
    def actor(self) -> str:
        """How the parent is named as actor of an event or an access record."""
        return f"{PARENT_ROLE}:{self.id}"


@dataclass(frozen=True)
class Invitation:
    """An invitation to send: to whom, the token, until when it works."""

    parent: Parent
    token: str
    expires_at: dt.datetime


def _seal(cipher: CaseCipher, field: str, value: str) -> str:
    return json.dumps(cipher.seal(field, value), separators=(",", ":"))


def opened(cipher: CaseCipher, row: ParentRow) -> Parent:
    return Parent(row.id, row.case_id, row.school, cipher.open("parent.name", json.loads(row.name)),
                  cipher.open("parent.email", json.loads(row.email)), row.added_at)


def _manager(ctx: ServiceContext, uow: UnitOfWork, case_id: str, actor: str) -> Case:
    """The case, if `actor` may manage its parents (serves its school, may record consent)."""
    user = ctx.user(actor)
    case = ctx.load(uow, case_id, user)
    d = ctx.definition_of(case)
    if user.role not in d.evidence_roles.get("consent", frozenset()):
        raise refused(text("svc.refused"), [Reason("role_may_not_record", {"role": user.role, "kind": "consent"})], d)
    return case


def _clean(name: str, email: str) -> tuple[str, str]:
    name = " ".join((name or "").split())
    email = (email or "").strip().lower()
    errors = {}
    if not 1 <= len(name) <= 200:
        errors["name"] = text("svc.parents.name.field")
    if len(email) > 254 or not EMAIL.match(email):
        errors["email"] = text("svc.parents.email.field")
    if errors:
        raise BadInput(text("svc.parents.invalid", problems=" ".join(errors.values())), fields=errors)
    return name, email


def add(ctx: ServiceContext, case_id: str, *, actor: str, name: str, email: str) -> str:
    """Put a parent or guardian on the case; returns the parent's id."""
    bind_log(actor=actor, case_id=case_id, command="parent.add")
    name, email = _clean(name, email)
    now = ctx.clock()
    with ctx.uow() as uow:
        case = _manager(ctx, uow, case_id, actor)
        if case.closed:
            raise refused(text("svc.refused"), [Reason("case_closed")], ctx.definition_of(case))
        cipher = ctx.cipher(uow, case_id)
        if any(opened(cipher, r).email == email for r in uow.parents.of_case(case_id)):
            raise BadInput(text("svc.parents.email_taken"), fields={"email": text("svc.parents.email_taken.field")})
        pid = "P-" + secrets.token_hex(8)
        uow.parents.add(ParentRow(pid, case_id, case.school, _seal(cipher, "parent.name", name),
                                  _seal(cipher, "parent.email", email), actor, now, None))
        uow.commit()
    log.info("parent.added", parent=pid)
    return pid


def remove(ctx: ServiceContext, case_id: str, parent_id: str, *, actor: str) -> None:
    """Take a parent off the case: their links and sessions end in the same transaction."""
    bind_log(actor=actor, case_id=case_id, command="parent.remove")
    with ctx.uow() as uow:
        _manager(ctx, uow, case_id, actor)
        row = uow.parents.get(parent_id) if isinstance(parent_id, str) else None
        if row is None or row.case_id != case_id or row.removed_at is not None:
            raise NotFound(text("svc.parents.not_on_case"))
        uow.parents.remove(parent_id, ctx.clock())
        uow.commit()
    log.info("parent.removed", parent=parent_id)


def listing(ctx: ServiceContext, case_id: str, *, actor: str) -> list[Parent]:
    """The parents on the case (for the IB; the case page that shows them logs the read)."""
    user = ctx.user(actor)  # before the unit of work: the user lookup takes a connection of its own
    with ctx.uow(write=False) as uow:
        ctx.load(uow, case_id, user)
        cipher = ctx.cipher(uow, case_id)
        return [opened(cipher, r) for r in uow.parents.of_case(case_id)]


def invite(ctx: ServiceContext, case_id: str, parent_id: str, *, actor: str) -> Invitation:
    """A new sign-in link for the parent (the unused ones before it stop working). Refused
    (BadInput) after INVITES_PER_DAY invitations for one parent in a day."""
    bind_log(actor=actor, case_id=case_id, command="parent.invite")
    now = ctx.clock()
    with ctx.uow() as uow:
        case = _manager(ctx, uow, case_id, actor)
        row = uow.parents.get(parent_id) if isinstance(parent_id, str) else None
        if row is None or row.case_id != case_id or row.removed_at is not None:
            raise NotFound(text("svc.parents.not_on_case"))
        if case.closed:
            raise refused(text("svc.refused"), [Reason("case_closed")], ctx.definition_of(case))
        if not throttle.hit(uow, f"parent-invite:{parent_id}", limit=INVITES_PER_DAY,
                            window=dt.timedelta(days=1), now=now):
            uow.commit()
            raise BadInput(text("svc.parents.invites_used", limit=INVITES_PER_DAY))
        token = secrets.token_urlsafe(32)
        uow.parents.drop_links(parent_id)
        uow.parents.purge(now=now)
        expires = now + dt.timedelta(days=LINK_DAYS)
        uow.parents.add_link(link_id=ctx.keyring.token_hash("parent-link", token), parent_id=parent_id, now=now,
                             expires_at=expires)
        parent = opened(ctx.cipher(uow, case_id), row)
        uow.commit()
    log.info("parent.invited", parent=parent_id)
    return Invitation(parent, token, expires)


def invitation_message(inv: Invitation, url: str, *, school: str, sent_at: dt.datetime, host: str) -> Message:
    """The invitation: Dutch (B1), nothing of the pupil, the link and until when it works."""
    from notifiers import Message
    from workflow.domain.instants import SCHOOL_TZ

    until = inv.expires_at.astimezone(SCHOOL_TZ)
    body = text("mail.parent.invitation.body", name=inv.parent.name, school=school, url=url,
                date=f"{until.day}-{until.month}-{until.year}", time=f"{until:%H:%M}")
    return Message(to=(inv.parent.email,), subject=text("mail.parent.invitation.subject"), text=body,
                   html=None, message_id=f"<parent.{secrets.token_hex(12)}@{host}>", date=sent_at)


@dataclass(frozen=True)
class ParentSession:
    """A parent's live session: whose, for which case, its CSRF secret."""

    id: str  # the keyed hash, never the token
    parent_id: str
    case_id: str
    school: str
    csrf: str
    expires_at: dt.datetime


class ParentSessions:
    """Parents' sign-in: a link becomes a session; a cookie's token finds it again."""

    def __init__(self, ctx: ServiceContext, *, idle: dt.timedelta = IDLE, lifetime: dt.timedelta = LIFETIME) -> None:
        self.ctx = ctx
        self.idle = idle
        self.lifetime = lifetime

    def consume(self, token: str) -> str:
        """Use a link: a new session's token, or LinkRefused (unknown, used, expired, parent
        removed). Of two requests with one link, exactly one gets through."""
        bind_log(command="parent.link")
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise LinkRefused(text("svc.parents.link_invalid"))
        lid = self.ctx.keyring.token_hash("parent-link", token)
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            row = uow.parents.link(lid)
            if row is None:
                raise LinkRefused(text("svc.parents.link_unknown"))
            if row.parent.removed_at is not None:  # removed by the IB, or the case was erased
                raise LinkRefused(text("svc.parents.link_removed"))
            if row.used_at is not None or not uow.parents.use_link(lid, now):
                raise LinkRefused(text("svc.parents.link_used"))
            if row.expires_at <= now:
                raise LinkRefused(text("svc.parents.link_expired", days=LINK_DAYS))
            session = secrets.token_urlsafe(32)
            uow.parents.add_session(session_id=self._hash(session), parent_id=row.parent.id,
                                    csrf=secrets.token_urlsafe(32), now=now, expires_at=now + self.lifetime)
            uow.commit()
        log.info("parent.signed_in", parent=row.parent.id)
        return session

    def _hash(self, token: str) -> str:
        return self.ctx.keyring.token_hash("parent-session", token)

    def resolve(self, token: str | None) -> ParentSession | None:
        """The live session of this cookie's token, or None (unknown, idle too long, past its
        end, or its parent removed from the case)."""
        if not token or len(token) > 100:
            return None
        sid = self._hash(token)
        now = self.ctx.clock()
        with self.ctx.uow(write=False) as uow:
            row = uow.parents.session(sid)
        if row is None:
            return None
        if row.parent.removed_at is not None or row.expires_at <= now or row.last_seen_at + self.idle <= now:
            self._end(sid)
            return None
        if (now - row.last_seen_at).total_seconds() >= TOUCH_SECONDS:
            with self.ctx.uow() as uow:
                uow.parents.touch_session(sid, now)
                uow.commit()
        p = row.parent
        return ParentSession(sid, p.id, p.case_id, p.school, row.csrf, row.expires_at)

    def end(self, token: str | None) -> None:
        if token and len(token) <= 100:
            self._end(self._hash(token))

    def _end(self, sid: str) -> None:
        with self.ctx.uow() as uow:
            uow.parents.end_session(sid)
            uow.commit()


def parent_of(ctx: ServiceContext, uow: UnitOfWork, session: ParentSession) -> Parent:
    """The session's parent, opened, while still on the case (else NotFound)."""
    row = uow.parents.get(session.parent_id)
    if row is None or row.removed_at is not None:
        raise NotFound(text("svc.parents.no_access"))
    return opened(ctx.cipher(uow, row.case_id), row)


def describe(parent: Parent) -> dict[str, Any]:
    return {"id": parent.id, "name": parent.name, "email": parent.email, "added_at": parent.added_at}

"""API tokens: how a school's own systems act through the JSON API (`/api/v1`).

One token per integration (a student information system, a dashboard), made by the operator with
`passend token add`. A token acts as exactly one role of the process definition for a set of
schools, like a user; its actor id is `api:<name>` (`actor_of`), which no user id can be (a
user id has no colon), so every event and access record it causes names the token, never a name
someone typed. The services learn its role and schools through `UserDirectory.acting`, which asks
`acting` here for an `api:` actor, so every command and query checks it exactly as it checks a
person.

The secret is shown once, when the token is made, and never stored: the store keeps its keyed
hash (KeyRing.token_hash), so a copy of the database can neither use a token nor make one. A
request's token is hashed and looked up, then the hashes compared in constant time. A revoked
token is refused from that moment, by every process (the row is read per request).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from workflow.adapters.config import User
from workflow.adapters.crypto import KeyRing
from workflow.domain.errors import BadInput, NotFound
from workflow.domain.reasons import Reason
from workflow.messages import text
from workflow.service_layer.refusals import refused

if TYPE_CHECKING:
    from workflow.adapters.ports import Store, TokenRecord

__all__ = ["ACTOR_PREFIX", "acting", "actor_of", "add", "all_tokens", "authenticate", "judge", "revoke"]

ACTOR_PREFIX = "api:"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SECRET_PREFIX = "psd_"  # recognisable in a config file or a leaked log, as other services' tokens are
PURPOSE = "api-token"
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at to the minute: no write on every request


class _Context(Protocol):
    """What the token rules need of a ServiceContext (kept narrow: users.py calls `acting`)."""

    store: Store
    keyring: KeyRing
    clock: Callable[[], dt.datetime]


def actor_of(name: str) -> str:
    return ACTOR_PREFIX + name


def _unknown(name: str) -> NotFound:
    return NotFound(text("svc.tokens.unknown", token=name))


def _hash(keyring: KeyRing, secret: str) -> str:
    return keyring.token_hash(PURPOSE, secret)


def add(ctx: _Context, *, name: str, role: str, schools: Iterable[str], roles: Iterable[str],
        known_schools: Iterable[str], created_by: str) -> tuple[TokenRecord, str]:
    """A new token; returns it and its secret (shown once, never stored). A name in use: exit 2."""
    if not isinstance(name, str) or not NAME.match(name):
        raise BadInput(text("svc.tokens.name"))
    roles = tuple(roles)
    if role not in roles:
        raise BadInput(text("svc.users.unknown_role", role=role, roles=", ".join(roles)))
    known = set(known_schools)
    picked = tuple(dict.fromkeys(s.strip() for s in schools if isinstance(s, str) and s.strip()))
    if not picked:
        raise BadInput(text("svc.users.no_school", key="--school"))
    for s in picked:
        if s != "*" and s not in known:
            raise BadInput(text("svc.users.unknown_school", key="--school", school=s, schools=", ".join(sorted(known))))
    import secrets  # here: its import (random's) is paid only by the command that makes a token

    secret = SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    from workflow.adapters.ports import TokenRecord  # here: a read of one case need not build the ports

    record = TokenRecord(name=name, token_hash=_hash(ctx.keyring, secret), role=role, schools=picked,
                         created_by=created_by, created_at=ctx.clock(), revoked_at=None, last_used_at=None)
    with ctx.store.uow() as uow:
        if uow.api_tokens.get(name) is not None:
            raise BadInput(text("svc.tokens.exists", token=name))
        uow.api_tokens.insert(record)
        uow.commit()
    return record, secret


def all_tokens(ctx: _Context) -> list[TokenRecord]:
    with ctx.store.uow(write=False) as uow:
        return uow.api_tokens.all()


def revoke(ctx: _Context, name: str) -> tuple[TokenRecord, bool]:
    """Revoke the token now; returns it and whether it was still in use. Unknown: exit 2."""
    now = ctx.clock()
    with ctx.store.uow() as uow:
        changed = uow.api_tokens.revoke(name, now)
        record = uow.api_tokens.get(name)
        if record is None:
            raise _unknown(name)
        uow.commit()
    return record, changed


def as_user(record: TokenRecord) -> User:
    """The token as the services see an acting user."""
    return User(actor_of(record.name), record.role, record.schools, record.name)


def authenticate(ctx: _Context, secret: str | None) -> User | None:
    """The acting user of a request's bearer secret, or None (no such token, or revoked)."""
    if not secret or len(secret) > 200:
        return None
    wanted = _hash(ctx.keyring, secret)
    now = ctx.clock()
    record = ctx.store.users.token(wanted)  # the lookup's kept connection: no unit of work for one read
    if record is None or not hmac.compare_digest(record.token_hash.encode(), wanted.encode()) or not record.active:
        return None
    if not ctx.store.read_only and (record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY):
        with ctx.store.uow() as uow:
            uow.api_tokens.touch(record.name, now)
            uow.commit()
    return as_user(record)


def acting(store: Store, actor: str) -> User:
    """The acting user of actor `api:<name>` (UserDirectory.acting): unknown -> NotFound (exit 2),
    revoked -> Refused (exit 3), as for a disabled user."""
    name = actor[len(ACTOR_PREFIX):]
    with store.uow(write=False) as uow:
        record = uow.api_tokens.get(name)
    return judge(name, record)


def judge(name: str, record: TokenRecord | None) -> User:
    """`acting`'s verdict on token `name` as read (None: no such token), wherever it was read:
    by `acting`, or with a command's case (`ApiTokens.acting_later`)."""
    if record is None:
        raise _unknown(name)
    if not record.active:
        raise refused(text("svc.tokens.revoked", token=name), [Reason("token_revoked", {"token": name})], None)
    return as_user(record)

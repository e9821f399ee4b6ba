"""Who is asking: the signed-in user from the server-side session, CSRF, read-only roles.

`signed_in` is the one way a route learns its user: a FastAPI dependency that returns the
passend `User` of the session cookie (and nothing else: no id from a form, a query or a header),
or sends the browser to the sign-in page. Routes call the service layer with `user.id` as actor.

`protect` runs before every route (the app's global dependency): a POST, PUT, PATCH or DELETE
must carry the CSRF token (form field `csrf` or header `X-CSRF-Token`, as htmx sends it): the
session's own secret (a synchroniser token), or, before sign-in, a token bound to the browser's
pre-session cookie. Without it: 403, and nothing ran. A read-only role (the process definition's
`read_only_roles`: directeur, auditor) gets 403 on every such request but sign-out, whatever the
route; templates get `read_only` to leave write controls out.

A page people open all day (Mijn werk, Leerlingen, Casus and its OPP, Directie, the diagram)
is an `async` route that hands its whole work to one worker thread with `as_signed_in`: its
user is read there, by `signed_in`, right before the page. A `Depends(signed_in)` would read the
user in a worker thread of its own first, and handing work to a thread and back is a tenth of
a case page's cost when twenty people load pages at once (BENCHMARKS section 12).

The parents' pages (under /ouder) have a session of their own (`parent_session`: its own
cookie, workflow.service_layer.parents): their POSTs carry that session's CSRF secret (or,
before sign-in, the pre-session token), and a staff session counts for nothing there.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import Depends, HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from workflow.adapters.config import User
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text
from workflow.service_layer.parents import ParentSession
from workflow.service_layer.signin.sessions import WebSession

__all__ = [  # `context` too: route modules have long taken it from here
    "API_PREFIX", "PRE_COOKIE", "READ_ONLY_POSTS", "SAFE_METHODS", "SESSION_COOKIE", "SignInRequired", "as_signed_in",
    "context", "current_session", "is_read_only", "new_pre_cookie", "parent_session", "pre_token", "protect",
    "signed_in", "writer",
]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_POSTS = frozenset({"/uitloggen"})
API_PREFIX = "/api/"  # bearer tokens only, never the session cookie: no CSRF there
SESSION_COOKIE = "passend"
PRE_COOKIE = "passend-pre"
PARENT_COOKIE = "passend-ouder"
PARENT_PREFIX = "/ouder"  # the parents' pages: their own session and CSRF secret, no staff session


class SignInRequired(Exception):
    """No full session: the app answers with a redirect to the sign-in page."""


def current_session(request: Request) -> WebSession | None:
    """The live session of this request's cookie (any stage), read once per request."""
    if not hasattr(request.state, "session"):
        web = context(request)
        request.state.session = web.sessions.resolve(request.cookies.get(web.session_cookie))
    session: WebSession | None = request.state.session
    return session


def parent_session(request: Request) -> ParentSession | None:
    """The live parent session of this request's parent cookie, read once per request."""
    if not hasattr(request.state, "parent_session"):
        web = context(request)
        request.state.parent_session = web.parent_sessions.resolve(request.cookies.get(web.parent_cookie))
    session: ParentSession | None = request.state.parent_session
    return session


def signed_in(request: Request) -> User:
    """The signed-in passend user (a full session), or SignInRequired."""
    session = current_session(request)
    if session is None or not session.full:
        raise SignInRequired()
    return session.user


async def as_signed_in(request: Request, page: Callable[..., Response], *args: Any) -> Response:
    """`page(request, user, *args)` for the signed-in user, the user read in the same worker
    thread as the page (see the module's docstring); SignInRequired as `signed_in` raises it."""
    return await run_in_threadpool(lambda: page(request, signed_in(request), *args))


def is_read_only(request: Request, user: User) -> bool:
    return user.role in context(request).engine.definition.read_only_roles


def writer(request: Request, user: User = Depends(signed_in)) -> User:  # noqa: B008
    """The signed-in user, if their role may change anything; else 403."""
    if is_read_only(request, user):
        raise HTTPException(403, text("web.error.read_only"))
    return user


def pre_token(request: Request, cookie: str | None = None) -> str | None:
    """The CSRF token of a browser without a session: bound to its pre-session cookie."""
    web = context(request)
    value = cookie if cookie is not None else request.cookies.get(web.pre_cookie)
    if not value or len(value) > 100:
        return None
    return web.engine.keyring.token_hash("csrf-pre", value)


def new_pre_cookie() -> str:
    return secrets.token_urlsafe(32)


async def protect(request: Request) -> None:
    """CSRF and read-only roles, before every route (see the module's docstring)."""
    if request.method in SAFE_METHODS or request.url.path.startswith(API_PREFIX):
        return
    sent: Any = request.headers.get("x-csrf-token")
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get("csrf")
    if request.url.path == PARENT_PREFIX or request.url.path.startswith(PARENT_PREFIX + "/"):
        parent = await run_in_threadpool(parent_session, request)
        expected = parent.csrf if parent is not None else pre_token(request)
        if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise HTTPException(403, text("web.error.csrf"))
        return
    session = await run_in_threadpool(current_session, request)
    expected = session.csrf if session is not None else pre_token(request)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, text("web.error.csrf"))
    if (session is not None and session.full and request.url.path not in READ_ONLY_POSTS
            and is_read_only(request, session.user)):
        raise HTTPException(403, text("web.error.read_only"))

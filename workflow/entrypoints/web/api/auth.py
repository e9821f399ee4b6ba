"""Who is asking the API: the bearer token's acting user, never a session cookie or a typed name.

The `Authorization: Bearer <secret>` header is the one way an API route learns who acts. `Secret`
takes it off the request: no header is 401 at once, before anything is read. The route then
hands its whole work to one worker thread with `as_token`, where the secret is hashed and looked
up (workflow.service_layer.tokens.authenticate) right before the work: an unknown or revoked
token is 401 there, and for a route that writes (`write=True`) a read-only role (the process
definition's `read_only_roles`) is 403, as the pages' `guard.writer` does. The user has the
token's role and schools and the id `api:<name>`, which the work hands to the services as
`actor`. No CSRF here: a browser never sends a bearer token by itself.

Why one thread: each sync dependency FastAPI meets runs in a worker thread of its own, and
handing work to a thread and back cost more than the token's read; the token, the role's check
and the command had three hops where they now have one (BENCHMARKS section 15), as the pages'
`guard.as_signed_in` does for a session.

What a request that FastAPI refuses before the route runs (a body or a parameter that does not
validate) gets: `first_who` still answers 401 or 403 before any 400 that would describe the
request, so nobody without a token learns more of a route than that it wants one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from workflow.adapters.config import User
from workflow.entrypoints.web.api.errors import ApiError
from workflow.entrypoints.web.guard import SAFE_METHODS
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text
from workflow.service_layer import tokens

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A token made with `passend token add`; the secret is shown once.")


async def token_secret(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The request's bearer secret, unchecked (no read: `as_token` checks it); none is 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, text("api.token_missing"))
    return credentials.credentials


Secret = Annotated[str, Depends(token_secret)]


def token_user(request: Request, secret: str, *, write: bool) -> User:
    """The token's acting user; 401 for an unknown or revoked one, 403 for a read-only role when
    the route writes. In a worker thread: it reads the store."""
    engine = context(request).engine
    user = tokens.authenticate(engine, secret)
    if user is None:
        raise ApiError(401, text("api.token_unknown"))
    if write and user.role in engine.definition.read_only_roles:
        raise ApiError(403, text("api.token_read_only"))
    return user


async def as_token(request: Request, secret: str, work: Callable[..., Any], *args: Any, write: bool = False) -> Any:
    """`work(request, user, *args)` for the token's user, the user read in the same worker thread
    as the work (see the module's docstring)."""
    return await run_in_threadpool(lambda: work(request, token_user(request, secret, write=write), *args))


async def first_who(request: Request) -> None:
    """For a request FastAPI refused before its route ran: 401 or 403 as the route would have
    answered (no token, an unknown or revoked one, a read-only role on a route that writes)."""
    credentials = await bearer(request)
    secret = await token_secret(credentials)
    await run_in_threadpool(token_user, request, secret, write=request.method not in SAFE_METHODS)

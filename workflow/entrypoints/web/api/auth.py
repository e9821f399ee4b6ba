"""Who is asking the API: the bearer token's acting user, never a session cookie or a typed name.

`token_user` is the one way an API route learns who acts: the `Authorization: Bearer <secret>`
header, hashed and looked up (workflow.service_layer.tokens.authenticate). No header, an unknown
secret or a revoked token: 401, before anything is read. The user it returns has the token's
role and schools and the id `api:<name>`, which the routes hand to the services as `actor`.
`writer` adds the read-only roles' 403 (the process definition's `read_only_roles`), as the
pages' `guard.writer` does. No CSRF here: a browser never sends a bearer token by itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from workflow.adapters.config import User
from workflow.entrypoints.web.api.errors import ApiError
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text
from workflow.service_layer import tokens

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A token made with `passend token add`; the secret is shown once.")


def token_user(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, text("api.token_missing"))
    user = tokens.authenticate(context(request).engine, credentials.credentials)
    if user is None:
        raise ApiError(401, text("api.token_unknown"))
    return user


def writer(request: Request, user: Annotated[User, Depends(token_user)]) -> User:
    """The token's user, if its role may change anything; else 403."""
    if user.role in context(request).engine.definition.read_only_roles:
        raise ApiError(403, text("api.token_read_only"))
    return user


Reader = Annotated[User, Depends(token_user)]
Writer = Annotated[User, Depends(writer)]

"""The JSON API's errors: every failure as a `Problem` body with the status a program expects.

    400 bad input (also FastAPI's request validation, which would be 422), 401 no, an unknown or a
    revoked token (with `WWW-Authenticate: Bearer`), 403 the token's role may not do this, 404 an
    unknown case or another school's (the same answer: nothing is said about another school's
    case), 409 the case changed since the client read it (or the pupil has an open case already),
    422 a guard refused the step, with every reason as {code, params, text}, 500 anything else
    (logged by type and path only: no pupil data in a log).

The sentences come from the message catalog (`api.<code>`), as the reasons' do. The app's error
handlers (app.py) hand every request under /api/ here, so the pages keep their HTML errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from workflow.domain.errors import Conflict, IntegrityError, NotFound, PassendError, Refused, StoreProblem
from workflow.domain.reasons import Reason
from workflow.entrypoints.web.api.models import Problem, ReasonOut
from workflow.entrypoints.web.guard import API_PREFIX
from workflow.messages import render

CODES = {400: "bad_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "bad_input",
         409: "conflict", 422: "refused", 500: "internal", 503: "unavailable"}
ROLE_CODES = frozenset({"role_may_not_fire", "role_may_not_record", "role_may_not_open"})
DOCUMENTED: dict[int | str, dict[str, Any]] = {
    s: {"model": Problem, "description": d} for s, d in (
        (400, "Bad input"), (401, "No, an unknown or a revoked token"), (403, "The token's role may not do this"),
        (404, "No such case (or another school's)"), (409, "The case changed meanwhile"),
        (422, "Refused by a guard: every reason"), (500, "Internal error; nothing was stored"),
        (503, "The database cannot be used now; nothing was stored"))}


class ApiError(Exception):
    """An answer decided by the API layer itself (no token, a read-only role, a bad trigger)."""

    def __init__(self, status: int, detail: str | None = None, *, fields: Mapping[str, str] | None = None,
                 reasons: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(detail or CODES.get(status, "error"))
        self.status, self.detail, self.fields, self.reasons = status, detail, dict(fields or {}), list(reasons)


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def problem(status: int, detail: str | None = None, *, fields: Mapping[str, str] | None = None,
            reasons: Sequence[Mapping[str, Any]] = ()) -> JSONResponse:
    code = CODES.get(status, "bad_input" if status < 500 else "internal")
    body = Problem(status=status, code=code, text=render(Reason(f"api.{code}"), None), detail=detail,
                   fields=dict(fields or {}), reasons=[ReasonOut(**r) for r in reasons])
    headers = {"WWW-Authenticate": 'Bearer realm="passend"'} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def status_of(exc: PassendError) -> int:
    """The status of a service's refusal (see the module's docstring)."""
    codes = {d.get("code") for d in exc.details}
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Refused):
        if "no_school_access" in codes:
            return 404
        if "token_revoked" in codes:
            return 401
        if "case_already_open" in codes:
            return 409
        if codes & ROLE_CODES:
            return 403
        return 422
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, StoreProblem):
        return 503
    if isinstance(exc, IntegrityError):
        return 500
    return 400


def from_service(exc: PassendError) -> JSONResponse:
    status = status_of(exc)
    if status == 404:  # nothing about another school's case, nor the reason it is hidden
        return problem(404)
    return problem(status, exc.message, fields=exc.fields, reasons=exc.details)


def _field_text(kind: str) -> str:
    if kind == "missing":
        key = "missing"
    elif kind == "extra_forbidden":
        key = "extra"
    elif kind.startswith(("too_", "greater_", "less_", "string_too", "list_too")):
        key = "range"
    else:
        key = "type"
    return render(Reason(f"api.field.{key}"), None)


def validation(errors: Sequence[Any]) -> JSONResponse:
    """FastAPI's request validation (422 there) as a 400 naming each wrong field (its location and
    what is wrong, in the catalog's words; never the value sent: it may be a pupil's)."""
    fields: dict[str, str] = {}
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header"))
        fields[(loc or "body")[:100]] = _field_text(str(e.get("type", "")))
    return problem(400, render(Reason("api.field.see"), None), fields=fields)

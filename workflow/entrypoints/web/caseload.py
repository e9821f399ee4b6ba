"""Leerlingen: the caseload. Every case of the user's schools, filtered by state, level, group,
deadline status, "waits for the parents" and an exact pupil reference, newest first, a page at
a time (keyset: the page links carry the key of the case they continue from, never an offset).

GET /leerlingen   the filters are the query string, so a filtered list can be bookmarked and the
                  form works without JavaScript (a GET form with a button). With htmx, changing
                  a filter fetches only the results (the `HX-Request` header) and swaps them in.

Filters show labels (state labels, "Niveau 3", "Groep 5", "Te laat"); the query string holds
the ids the service checks. No pupil reference or name is listed (they are encrypted, and a
list is not an access to a pupil's file): the reference search finds the case through the
keyed pupil index, exactly, and the case page then shows who it is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from workflow.adapters.config import User
from workflow.domain.errors import BadInput
from workflow.entrypoints.web import filters  # noqa: F401  (the templates' Dutch dates)
from workflow.entrypoints.web.guard import as_signed_in, context
from workflow.entrypoints.web.pages import render
from workflow.messages import text
from workflow.service_layer import worklist

router = APIRouter()


def _int(value: str | None, bad: str) -> int | None:
    """A filter's number; not a number: BadInput with the catalog's message `bad`."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise BadInput(text(bad)) from None


@router.get("/leerlingen")
async def caseload(request: Request) -> Response:
    return await as_signed_in(request, _caseload)


def _caseload(request: Request, user: User) -> Response:
    q = request.query_params
    engine = context(request).engine
    chosen: dict[str, Any] = {
        "school": q.get("school") or None, "status": q.get("status") or None, "niveau": q.get("niveau") or "",
        "groep": q.get("groep") or "", "termijn": q.get("termijn") or None, "wacht": q.get("wacht") == "ja",
        "afgesloten": q.get("afgesloten") == "ja", "leerling": (q.get("leerling") or "").strip(),
    }
    page = worklist.caseload(
        engine, actor=user.id, school=chosen["school"], state=chosen["status"],
        level=_int(chosen["niveau"], "web.caseload.bad_level"), group=_int(chosen["groep"], "web.caseload.bad_group"),
        deadline=chosen["termijn"],
        waiting=chosen["wacht"], closed=chosen["afgesloten"], pupil=chosen["leerling"] or None,
        after=q.get("na") or None, before=q.get("voor") or None)
    schools = [s for s in engine.config.schools if user.serves(s)]
    active = {k: v for k, v in chosen.items() if v not in (None, "", False)}
    values: dict[str, Any] = dict(page=page, chosen=chosen, filters=active, choices=worklist.describe(engine),
                  schools=schools, first_page=q.get("na") is None and q.get("voor") is None)
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true":
        response = render(request, "_caseload_results.html", **values)
    else:
        response = render(request, "caseload.html", nav="leerlingen", **values)
    response.headers["Vary"] = "HX-Request"
    return response

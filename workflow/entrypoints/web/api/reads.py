"""The API's reads: the caseload, one case, its timeline.

GET /api/v1/cases                 the caseload of the token's schools: the page's filters (state,
                                  niveau, group, deadline status, waiting for the parents, closed
                                  too, an exact pupil reference), newest first, a keyset page at a
                                  time (`after` = the page's `next`, `before` = its `previous`)
GET /api/v1/cases/{id}            the case: state, niveau, running deadlines, every step the
                                  token's role could take with what it still needs, the evidence
GET /api/v1/cases/{id}/timeline   the case's chronology

The same queries as the pages (worklist.caseload, queries.case), acting as the token. Reading a
case writes an access record (NEN 7513) for the token, source "api"; the caseload carries no
personal data and is not logged, as on the pages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.requests import Request

from workflow.adapters.config import User
from workflow.entrypoints.web.api.auth import Secret, as_token
from workflow.entrypoints.web.api.errors import DOCUMENTED
from workflow.entrypoints.web.api.models import CaseDetail, CaseloadPage, Timeline
from workflow.entrypoints.web.webcontext import context
from workflow.service_layer import queries, worklist

router = APIRouter(responses={k: v for k, v in DOCUMENTED.items() if k in (400, 401, 404, 422, 500, 503)})
Text = Annotated[str | None, Query(max_length=64)]
Cursor = Annotated[str | None, Query(pattern=r"^\d{8}T\d{12}_[A-Za-z0-9][A-Za-z0-9._-]{0,39}$",
                                     description="a page's `next` (as after) or `previous` (as before)")]
Deadline = Literal["ok", "soon", "overdue", "none", "week"]
assert set(Deadline.__args__) == set(worklist.DEADLINE_FILTERS)  # type: ignore[attr-defined]


@router.get("/cases", response_model=CaseloadPage, summary="The caseload of the token's schools")
async def list_cases(request: Request, secret: Secret, school: Text = None, state: Text = None,
                     level: Annotated[int | None, Query(ge=0, le=99, description="a niveau")] = None,
                     group: Annotated[int | None, Query(ge=1, le=8)] = None,
                     deadline: Annotated[Deadline | None, Query()] = None,
                     waiting: bool = False, closed: bool = False,
                     pupil: Text = None, after: Cursor = None, before: Cursor = None,
                     size: Annotated[int, Query(ge=1, le=worklist.PAGE_MAX)] = worklist.PAGE) -> Any:
    def page(request: Request, user: User) -> Any:
        return worklist.caseload(
            context(request).engine, actor=user.id, school=school, state=state, level=level, group=group,
            deadline=deadline, waiting=waiting, closed=closed, pupil=pupil, after=after, before=before, size=size)
    return await as_token(request, secret, page)


def read(request: Request, user_id: str, case_id: str, *, timeline: bool = False) -> dict[str, Any]:
    """The case as the token may see it, its read logged (source "api")."""
    return queries.case(context(request).engine, case_id, actor=user_id, source="api", timeline=timeline)


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case, with its steps")
async def get_case(request: Request, secret: Secret, case_id: str) -> Any:
    return await as_token(request, secret, _case, case_id)


def _case(request: Request, user: User, case_id: str) -> Any:
    view = read(request, user.id, case_id)
    return {**view, "steps": view["options"],
            "evidence": [{k: e[k] for k in ("seq", "kind", "kind_label", "date", "actor", "recorded_at", "fields")}
                         for e in view["evidence"]]}


@router.get("/cases/{case_id}/timeline", response_model=Timeline, summary="The case's chronology")
async def get_timeline(request: Request, secret: Secret, case_id: str) -> Any:
    return await as_token(request, secret, _timeline, case_id)


def _timeline(request: Request, user: User, case_id: str) -> Any:
    view = read(request, user.id, case_id, timeline=True)
    return {"case_id": view["case_id"], "entries": view["timeline"]}

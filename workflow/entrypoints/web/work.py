"""Mijn werk: the start page. For the roles the reminders go to (the IB), the daily digest as a
live page, per school: deadlines due this week, overdue deadlines, cases that wait only for the
parents' consent, closed cases due for erasure (service_layer.worklist, from the indexed work
list; never a fold of every case). Another role that writes (the leerkracht) sees the two
deadline lists of its schools; a read-only role (directeur, auditor) a start page with its role,
its schools and the way to the caseload.

GET /           the start page (home.py hands it here)
GET /werk       the same lists for anyone signed in (a bookmark that does not depend on the role)
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from workflow.adapters.config import User
from workflow.entrypoints.web import filters  # noqa: F401  (the templates' Dutch dates)
from workflow.entrypoints.web.guard import as_signed_in, context, is_read_only
from workflow.entrypoints.web.pages import render
from workflow.service_layer import worklist

router = APIRouter()
LIMIT = 10  # lines per list; the rest is one click away in the caseload, filtered


def start(request: Request, user: User) -> Response:
    if is_read_only(request, user):
        return render(request, "home.html", nav="start")
    return work_page(request, user)


@router.get("/werk")
async def work(request: Request) -> Response:
    return await as_signed_in(request, work_page)


def work_page(request: Request, user: User) -> Response:
    engine = context(request).engine
    reminded = user.role in worklist.remind_roles(engine.config.raw)
    schools = worklist.my_work(engine, actor=user.id, limit=LIMIT)
    return render(request, "work.html", nav="start", schools=schools, full=reminded, today=engine.today())


"""The signed-in start page: Mijn werk for the roles that do the work (work.py), and for a
read-only role who they are, their role and schools. Also the favicon and the health check."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from workflow.entrypoints.web.guard import as_signed_in

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    from workflow.entrypoints.web.work import start

    return await as_signed_in(request, start)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon (yet): an empty answer instead of a 404 in every browser's console."""
    return Response(status_code=204)


@router.get("/gezond", include_in_schema=False)
def health() -> Response:
    """For a proxy's or monitor's health check: the process answers (no database read)."""
    return PlainTextResponse("ok")

"""The signed-in start page: who you are, your role and schools, and sign-out. The work pages
(Mijn werk, Leerlingen, Casus, ...) are built on this and replace its body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from workflow.adapters.config import User
from workflow.entrypoints.web.guard import signed_in
from workflow.entrypoints.web.pages import render

router = APIRouter()


@router.get("/")
def home(request: Request, user: Annotated[User, Depends(signed_in)]) -> Response:
    return render(request, "home.html")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon (yet): an empty answer instead of a 404 in every browser's console."""
    return Response(status_code=204)


@router.get("/gezond", include_in_schema=False)
def health() -> Response:
    """For a proxy's or monitor's health check: the process answers (no database read)."""
    return PlainTextResponse("ok")

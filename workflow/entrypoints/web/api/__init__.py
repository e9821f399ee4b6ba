"""The JSON API under /api/v1, for a school's own systems: the same commands and queries as the
pages, acting as a bearer token (workflow.service_layer.tokens), with errors as JSON
(`errors`) and its own OpenAPI schema at /api/v1/openapi.json, holding only these routes.

- `auth`: the token's acting user (401 without one), the read-only roles' 403;
- `reads`: the caseload, one case, its timeline (each read of a case logged);
- `writes`: open a case, record evidence, take a step (each at an expected version);
- `models`: the bodies, as pydantic models; `errors`: the statuses and the Problem body.

`install(app)` adds the routes and the schema to the web app; the app's error handlers hand
every request under /api/ to `errors` (app.py), so no HTML page answers a program.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import JSONResponse

from workflow.entrypoints.web.api import reads, writes

PREFIX = "/api/v1"
SCHEMA = PREFIX + "/openapi.json"
DESCRIPTION = (
    "The passend process engine's JSON API for a school's own systems. Every request carries a "
    "bearer token (`passend token add`), which acts as one role for some schools; what it does is "
    "recorded under the token's name. Reading a case is written to the access log (NEN 7513).")


def install(app: FastAPI) -> None:
    """Add the API's routes under /api/v1 and its schema to the app."""
    before = len(app.routes)
    for module in (reads, writes):
        app.include_router(module.router, prefix=PREFIX, tags=["api"])
    routes = app.routes[before:]  # these alone go into the schema
    cached: dict[str, Any] = {}

    @app.get(SCHEMA, include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        """The schema of the API's routes alone (the app's own schema is off: openapi_url=None)."""
        if "schema" not in cached:
            cached["schema"] = get_openapi(title="passend API", version="1", description=DESCRIPTION,
                                           routes=routes)
        return JSONResponse(cached["schema"])

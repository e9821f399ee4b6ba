"""`/healthz` and `/metrics` of the web app (workflow.entrypoints.health says what they hold).

`/healthz` is for a proxy or a monitor: 200 when the store answers, else 503; it reveals
nothing (`/gezond` only says the process answers). `/metrics` is not public: it answers a
client on this machine that came straight to passend (loopback, and no proxy's
`X-Forwarded-For` or `Forwarded` header), or any client that sends `Authorization: Bearer
TOKEN` with the token in the environment variable `[web] metrics_token_env` names; anyone else
gets 404, as if it were not there. Behind a proxy on the same machine, set the token (or do not
forward `/metrics`): the proxy's requests come from loopback.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workflow.messages import text

router = APIRouter()
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _registry(request: Request) -> Any:
    state = request.app.state
    if getattr(state, "metrics_registry", None) is None:
        from workflow.entrypoints.health import store_registry

        state.metrics_registry, state.metrics_store = store_registry(state.web.engine.store)
    return state.metrics_registry


def _may_see_metrics(request: Request) -> bool:
    token = request.app.state.web.settings.metrics_token
    sent = request.headers.get("authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode()):
        return True
    client = request.client.host if request.client is not None else ""
    proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    return client in LOOPBACK and not proxied


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> Response:
    store = request.app.state.web.engine.store
    try:
        await run_in_threadpool(store.events_appended)
    except Exception:
        return JSONResponse({"status": "fout", "problems": [text("web.health.no_database")]}, status_code=503)
    return JSONResponse({"status": "ok", "problems": []})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _may_see_metrics(request):
        return Response(text("web.error.404"), status_code=404, media_type="text/plain; charset=utf-8")
    from prometheus_client import generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    body = await run_in_threadpool(generate_latest, _registry(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""The web app's factory: `create_app(engine, settings)` wires the sign-in services, the routes,
the security headers and the error pages. uvicorn runs it (`passend web`); tests run it in
process or as a real server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from workflow.adapters.logs import get_logger
from workflow.adapters.web_settings import WebSettings
from workflow.domain.errors import Conflict, NotFound, PassendError, Refused
from workflow.entrypoints.web.guard import PARENT_COOKIE, PRE_COOKIE, SESSION_COOKIE, SignInRequired, protect
from workflow.entrypoints.web.security import SecurityHeaders, cookie_name
from workflow.entrypoints.web.webcontext import WebContext
from workflow.messages.render import language_held
from workflow.service_layer.parents import ParentSessions
from workflow.service_layer.signin.flows import Flows
from workflow.service_layer.signin.links import Links
from workflow.service_layer.signin.sessions import Sessions
from workflow.service_layer.signin.totp import Codes

if TYPE_CHECKING:
    from notifiers import Notifier
    from workflow.service_layer.engine import Engine

__all__ = ["PassendApp", "WebContext", "app_from_config", "create_app", "settle_heap"]

log = get_logger("passend.web")
STATIC = Path(__file__).resolve().parent / "static"


class HeldLanguage:
    """Pure ASGI middleware: the language in force read once a request and held for all of it
    (messages.render.language_held), the worker threads it hands work to included (they run in
    a copy of its context). A page asks for it at each of its words, dates and reasons, a
    hundred times or more, and reading the environment each time was a tenth of its rendering."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with language_held():
            await self.app(scope, receive, send)


class PassendApp(FastAPI):
    """FastAPI with the security headers outside everything, even the 500 page Starlette's
    outermost ServerErrorMiddleware writes (a middleware added the usual way sits inside it),
    and the request's language held around it all (HeldLanguage)."""

    hsts = False

    def build_middleware_stack(self) -> Any:
        return HeldLanguage(SecurityHeaders(super().build_middleware_stack(), hsts=self.hsts))


def create_app(engine: Engine, settings: WebSettings, notifier: Notifier) -> FastAPI:
    from workflow.bootstrap import long_running
    from workflow.entrypoints.web import (
        api,
        audit,
        caseload,
        casepage,
        directie,
        health,
        home,
        newcase,
        oidc,
        opppage,
        parentadmin,
        parentpages,
        signin,
        work,
    )

    long_running(engine)  # its request threads write concurrently: they share commits (SQLite)
    oidc_client = None
    if settings.oidc is not None:
        from workflow.adapters.oidc import OidcClient

        o = settings.oidc
        oidc_client = OidcClient(issuer=o.issuer, discovery_url=o.discovery_url, client_id=o.client_id,
                                 client_secret=o.client_secret, scopes=o.scopes,
                                 redirect_uri=settings.url(oidc.CALLBACK))
    app = PassendApp(title="passend", docs_url=None, redoc_url=None, openapi_url=None,
                     dependencies=[Depends(protect)])
    app.hsts = settings.base_url.startswith("https://")
    app.state.web = WebContext(
        engine=engine, settings=settings, notifier=notifier,
        sessions=Sessions(engine, idle=dt.timedelta(minutes=settings.idle_minutes),
                          lifetime=dt.timedelta(hours=settings.max_hours)),
        links=Links(engine, minutes=settings.link_minutes), codes=Codes(engine), flows=Flows(engine),
        oidc=oidc_client, session_cookie=cookie_name(SESSION_COOKIE, settings.secure),
        pre_cookie=cookie_name(PRE_COOKIE, settings.secure),
        parent_sessions=ParentSessions(engine), parent_cookie=cookie_name(PARENT_COOKIE, settings.secure),
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # The API first: a request's route is found by trying the routers in order, and a program
    # sends many requests a second where a person sends one (the pages pay two quick misses).
    api.install(app)  # /api/v1: bearer tokens, JSON, its own OpenAPI schema
    app.include_router(signin.router)
    app.include_router(oidc.router)
    app.include_router(home.router)
    app.include_router(health.router)  # /healthz, /metrics (loopback or token)
    app.include_router(work.router)
    app.include_router(caseload.router)
    app.include_router(newcase.router)
    app.include_router(casepage.router)
    app.include_router(opppage.router)
    app.include_router(directie.router)
    app.include_router(audit.router)
    app.include_router(parentadmin.router)  # the IB's parents on the case page
    app.include_router(parentpages.router)  # the parents' own pages, under /ouder
    _error_pages(app)
    return app


def _error_pages(app: FastAPI) -> None:
    """The error pages, and for a request under /api/ the API's JSON errors (web.api.errors)."""
    from workflow.entrypoints.web.api import errors as api_errors
    from workflow.entrypoints.web.api.auth import first_who
    from workflow.entrypoints.web.pages import render
    from workflow.messages import text

    known = (400, 403, 404, 405, 409, 429, 500)  # each has its web.error.<status> in the catalog

    def page(request: Request, status: int, detail: str | None = None, reasons: list[str] | None = None) -> Response:
        return render(request, "error.html", status, status_code=status,
                      message=detail or text(f"web.error.{status}" if status in known else "web.error.other"),
                      reasons=reasons or [])

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        from workflow.entrypoints.web.returnto import remember

        response = RedirectResponse("/inloggen", status_code=303)
        remember(request, response)  # back to this page after sign-in
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if api_errors.is_api(request):
            return api_errors.problem(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
        return page(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if api_errors.is_api(request):
            try:
                await first_who(request)  # 401 or 403 first, as the route would have answered
            except api_errors.ApiError as who:
                return await api_error(request, who)
            except PassendError as failed:
                return api_errors.from_service(failed)
            return api_errors.validation(exc.errors())
        return page(request, 400)

    @app.exception_handler(PassendError)
    async def refused(request: Request, exc: PassendError) -> Response:
        if api_errors.is_api(request):
            return api_errors.from_service(exc)
        status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Refused) else \
            409 if isinstance(exc, Conflict) else 400
        return page(request, status, exc.message, exc.reasons)

    @app.exception_handler(api_errors.ApiError)
    async def api_error(request: Request, exc: api_errors.ApiError) -> Response:
        return api_errors.problem(exc.status, exc.detail, fields=exc.fields, reasons=exc.reasons)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("web.internal_error", error_type=type(exc).__name__, path=request.url.path)
        return api_errors.problem(500) if api_errors.is_api(request) else page(request, 500)


def app_from_config(config: str | None = None) -> Any:
    """The app for a config file (uvicorn's factory: `passend web --workers N` starts each
    process with it), its heap settled before it serves."""
    from workflow.adapters.web_settings import parse_web
    from workflow.bootstrap import bootstrap, make_notifier

    engine = bootstrap(config, existing=True)  # a store that exists, at this version's schema
    settings = parse_web(engine.config.raw.get("web"), engine.config.path.name)
    app = create_app(engine, settings, make_notifier(engine))
    settle_heap()
    return app


def settle_heap() -> None:
    """Before a `passend web` process serves: what it made to start (its modules, the process
    definitions, the app) lives as long as the process does, so it is collected once and frozen
    (`gc.freeze`). The collector's full passes then look only at what came after; without it,
    each traced the whole start again (0.11 s at a time, measured with a 100 000-case store,
    every request in flight waiting). Not for tests, whose apps come and go: only the entry
    points that serve call it."""
    import gc

    gc.collect()
    gc.freeze()

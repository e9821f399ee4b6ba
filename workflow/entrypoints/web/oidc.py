"""Sign-in through the school's identity provider (OpenID Connect; adapters.oidc).

GET  /inloggen/oidc         start: a flow (state, nonce, PKCE verifier) kept on the server and
                            bound to this browser's pre-session cookie, then off to the provider
                            (limited per IP: service_layer.signin.flows.START_LIMIT per WINDOW). A link, not a form: the
                            CSP's form-action 'self' rightly stops a form's redirect to another
                            site, and starting a flow changes nothing but that flow's own row.
GET  /inloggen/oidc/terug   the provider's answer: state checked (once), code traded, ID token
                            checked; its e-mail address must belong to an active passend user;
                            then back to the page the browser asked for (returnto.py)

A person the provider knows but passend does not (or no longer) gets a Dutch page saying so;
the log says that and why, never the address.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.adapters.logs import get_logger
from workflow.entrypoints.web import returnto
from workflow.entrypoints.web.guard import current_session, new_pre_cookie
from workflow.entrypoints.web.pages import render
from workflow.entrypoints.web.security import client_ip, set_cookie
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text

router = APIRouter()
log = get_logger("passend.web")
CALLBACK = "/inloggen/oidc/terug"


@router.get("/inloggen/oidc")
def start(request: Request) -> Response:
    from workflow.adapters.oidc import OidcError

    web = context(request)
    if web.oidc is None:
        raise HTTPException(404)
    cookie = request.cookies.get(web.pre_cookie)
    fresh = None
    if not cookie or len(cookie) > 100:
        cookie = fresh = new_pre_cookie()
    flow = web.flows.start(_browser(request, cookie), ip=client_ip(request))
    if flow is None:
        return render(request, "refused.html", 429, message=text("web.oidc.throttled"))
    state, nonce, verifier = flow
    try:
        url = web.oidc.authorization_url(state=state, nonce=nonce, verifier=verifier)
    except OidcError as exc:
        log.error("signin.oidc_unavailable", problem=str(exc))
        return render(request, "refused.html", 502, message=text("web.oidc.unavailable"))
    response = RedirectResponse(url, status_code=303)
    if fresh is not None:
        set_cookie(response, web.pre_cookie, fresh, secure=web.settings.secure)
    return response


def _browser(request: Request, cookie: str | None) -> str:
    return context(request).engine.keyring.token_hash("oidc-browser", cookie or "")


@router.get(CALLBACK)
def callback(request: Request, state: str = "", code: str = "", error: str = "") -> Response:
    from workflow.adapters.oidc import OidcError

    web = context(request)
    if web.oidc is None or web.settings.oidc is None:
        raise HTTPException(404)
    cookie = request.cookies.get(web.pre_cookie)
    flow = web.flows.take(state, _browser(request, cookie)) if cookie and len(cookie) <= 100 else None
    if flow is None:
        log.warning("signin.oidc_refused", reason="state")
        return _refused(request, text("web.oidc.state"))
    if error or not code:
        log.warning("signin.oidc_refused", reason="provider", error=error[:64])
        return _refused(request, text("web.oidc.provider"))
    nonce, verifier = flow
    try:
        identity = web.oidc.finish(code=code, nonce=nonce, verifier=verifier)
    except OidcError as exc:
        log.warning("signin.oidc_refused", reason="token", problem=str(exc))
        return _refused(request, text("web.oidc.token"))
    claim = identity.claims.get(web.settings.oidc.email_claim)
    if not isinstance(claim, str) or identity.email_verified is False:
        log.warning("signin.oidc_refused", reason="no_verified_email")
        return _refused(request, text("web.oidc.no_verified_email"))
    user, why = web.flows.user_for(claim)
    if user is None:
        log.warning("signin.oidc_refused", reason=why)
        return _refused(request, text("web.oidc.unknown_user"))
    if current_session(request) is not None:
        web.sessions.end(request.cookies.get(web.session_cookie))
    cookie = web.sessions.start(user.id, stage="full", method="oidc")
    response = RedirectResponse(returnto.destination(request), status_code=303)
    returnto.forget(request, response)
    set_cookie(response, web.session_cookie, cookie, secure=web.settings.secure)
    log.info("signin.done", user=user.id, method="oidc")
    return response


def _refused(request: Request, message: str) -> Response:
    return render(request, "refused.html", 403, message=message)

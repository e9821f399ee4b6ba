"""Sign-in by e-mail link and TOTP code, and sign-out.

GET  /inloggen                 the sign-in page (e-mail field; the school's provider's button)
POST /inloggen/link            ask for a link: always the same answer; the mail goes after it
GET  /inloggen/link/{token}    a button to go on (a mail scanner that opens links uses nothing)
POST /inloggen/link/{token}    use the link: a session that still needs its code
GET  /inloggen/code            the code (the first time: set up the app: secret, QR)
POST /inloggen/code            check it: the session becomes full, under a new cookie, and the
                               browser goes back to the page it asked for (returnto.py)
POST /uitloggen                the session ends for good
"""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, BackgroundTasks, Form, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.adapters.logs import get_logger
from workflow.entrypoints.web import returnto
from workflow.entrypoints.web.guard import current_session
from workflow.entrypoints.web.pages import render
from workflow.entrypoints.web.security import clear_cookie, client_ip, set_cookie
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text
from workflow.service_layer.signin.links import Issued, LinkRefused, link_message

router = APIRouter()
log = get_logger("passend.web")


@router.get("/inloggen")
def signin_page(request: Request, uit: int = 0) -> Response:
    session = current_session(request)
    if session is not None and session.full:
        return RedirectResponse("/", status_code=303)
    return render(request, "signin.html", signed_out=bool(uit))


@router.post("/inloggen/link")
def ask_link(request: Request, tasks: BackgroundTasks, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    web = context(request)
    if not web.settings.email_link:
        raise HTTPException(404)
    if not email.strip():
        return render(request, "signin.html", 400, email_error=text("web.signin.no_email"))
    issued = web.links.request(email, ip=client_ip(request))
    if issued is not None:
        tasks.add_task(_send_link, request, issued)
    return render(request, "link_sent.html")


def _send_link(request: Request, issued: Issued) -> None:
    """After the answer has gone, so its timing tells nothing about the address."""
    from urllib.parse import urlsplit

    web = context(request)
    url = web.settings.url(f"/inloggen/link/{issued.token}")
    host = urlsplit(web.settings.base_url).hostname or "passend"
    try:
        web.notifier.send(link_message(issued, url, sent_at=web.engine.clock(), host=host))
        log.info("signin.link_sent", user=issued.user_id)
    except Exception as exc:  # the person asks again; the log says why (without the address)
        log.error("signin.link_not_sent", user=issued.user_id, error_type=type(exc).__name__)


@router.get("/inloggen/link/{token}")
def link_page(request: Request, token: str) -> Response:
    return render(request, "link_confirm.html", token=token)


@router.post("/inloggen/link/{token}")
def use_link(request: Request, token: str) -> Response:
    web = context(request)
    try:
        user_id = web.links.consume(token)
    except LinkRefused as exc:
        log.warning("signin.link_refused", reason=exc.reason)
        return render(request, "link_refused.html", 400, reason=exc.reason)
    old = current_session(request)
    if old is not None:  # whoever was signed in on this browser is no longer
        web.sessions.end(request.cookies.get(web.session_cookie))
    cookie = web.sessions.start(user_id, stage="code", method="link")
    response = RedirectResponse("/inloggen/code", status_code=303)
    set_cookie(response, web.session_cookie, cookie, secure=web.settings.secure)
    log.info("signin.link_used", user=user_id)
    return response


@router.get("/inloggen/code")
def code_page(request: Request) -> Response:
    return _code_form(request)


def _code_form(request: Request, status: int = 200, error: str | None = None) -> Response:
    web = context(request)
    session = current_session(request)
    if session is None:
        return RedirectResponse("/inloggen", status_code=303)
    if session.full:
        return RedirectResponse("/", status_code=303)
    if web.codes.enrolled(session.user.id):
        return render(request, "code.html", status, enrol=None, error=error)
    enrolment = web.codes.enrolment(session.user.id, session.user.email or session.user.id)
    qr = segno.make(enrolment.uri, error="m").svg_inline(
        scale=4, border=4, dark="#000", light="#fff", title=text("web.code.qr_title"), svgclass="qr")
    secret = " ".join(enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4))
    return render(request, "code.html", status, enrol=enrolment, secret=secret, qr=qr, error=error)


@router.post("/inloggen/code")
def check_code(request: Request, code: Annotated[str, Form(max_length=20)] = "") -> Response:
    web = context(request)
    session = current_session(request)
    if session is None or session.full:
        return RedirectResponse("/inloggen", status_code=303)
    result = web.codes.check(session.user.id, code)
    if result == "throttled":
        log.warning("signin.code_throttled", user=session.user.id)
        return _code_form(request, 429, text("web.code.throttled"))
    if result == "wrong":
        log.info("signin.code_wrong", user=session.user.id)
        return _code_form(request, 400, text("web.code.wrong"))
    try:
        cookie = web.sessions.promote(session)
    except LookupError:
        return RedirectResponse("/inloggen", status_code=303)
    response = RedirectResponse(returnto.destination(request), status_code=303)
    returnto.forget(request, response)
    set_cookie(response, web.session_cookie, cookie, secure=web.settings.secure)
    log.info("signin.done", user=session.user.id, method="link")
    return response


@router.post("/uitloggen")
def sign_out(request: Request) -> Response:
    web = context(request)
    session = current_session(request)
    web.sessions.end(request.cookies.get(web.session_cookie))
    if session is not None:
        log.info("signout", user=session.user.id)
    response = RedirectResponse("/inloggen?uit=1", status_code=303)
    clear_cookie(response, web.session_cookie, secure=web.settings.secure)
    return response

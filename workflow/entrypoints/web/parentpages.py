"""The parents' own pages, under /ouder: plain Dutch, their own layout, their own session.

GET  /ouder/link/{token}               a button to go on (a mail scanner that opens links uses nothing)
POST /ouder/link/{token}               use the invitation's link: a parent session (its own cookie)
GET  /ouder                            to the parent's case, or how to sign in
GET  /ouder/casus/{id}                 the child's case: the consent asked (with the version and
                                       its SHA-256), the OPP in force and the draft, the forms for
                                       their view and the pupil's, what happened
GET  /ouder/casus/{id}/opp/{version}   one OPP version, printable (opp_print's page)
POST /ouder/casus/{id}/besluit         the decision on the handelingsdeel (carries the hash shown)
POST /ouder/casus/{id}/verzoek         the answer to a consent the school asked online (carries the
                                       request and the hash of its text shown)
POST /ouder/casus/{id}/mening          the parents' view, or the pupil's as the parents tell it
POST /ouder/uitloggen                  the session ends

The session names the one case the parent is on: any other case id is 404, whatever case it is.
Every page view writes an access record (workflow.service_layer.parent_portal). A decision or a
view sends the IB who invited the parent a mail without pupil data, after the answer.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from workflow.adapters.logs import get_logger
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.entrypoints.web import filters  # noqa: F401  (the templates' Dutch dates)
from workflow.entrypoints.web.guard import PARENT_PREFIX, parent_session
from workflow.entrypoints.web.pages import render_parent
from workflow.entrypoints.web.security import clear_cookie, printable_csp, set_cookie
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text as catalog_text
from workflow.service_layer import opp_print, parent_portal
from workflow.service_layer.parents import LinkRefused, ParentSession

router = APIRouter(prefix=PARENT_PREFIX)
log = get_logger("passend.web")
DONE = {"besluit": "web.parent.done.decision", "mening": "web.parent.done.view",
        "verzoek": "web.parent.done.decision"}  # the catalog's keys


def _session(request: Request) -> ParentSession:
    session = parent_session(request)
    if session is None:
        raise HTTPException(403, catalog_text("web.parent.signed_out"))
    return session


@router.get("/link/{token}")
def link_page(request: Request, token: str) -> Response:
    return render_parent(request, "parent_link.html", token=token)


@router.post("/link/{token}")
def use_link(request: Request, token: str) -> Response:
    web = context(request)
    try:
        cookie = web.parent_sessions.consume(token)
    except LinkRefused as exc:
        log.warning("parent.link_refused")
        return render_parent(request, "parent_link_refused.html", 400, reason=exc.reason)
    web.parent_sessions.end(request.cookies.get(web.parent_cookie))  # an older parent session here ends
    response = RedirectResponse(PARENT_PREFIX, status_code=303)
    set_cookie(response, web.parent_cookie, cookie, secure=web.settings.secure)
    return response


@router.get("")
def start(request: Request, uit: int = 0) -> Response:
    session = parent_session(request)
    if session is not None:
        return RedirectResponse(f"{PARENT_PREFIX}/casus/{session.case_id}", status_code=303)
    return render_parent(request, "parent_signed_out.html", signed_out=bool(uit))


def _page(request: Request, case_id: str, status: int = 200, *, notice: str | None = None,
          alert: str | None = None, form: dict[str, Any] | None = None) -> Response:
    session = parent_session(request)
    if session is None:
        return RedirectResponse(PARENT_PREFIX, status_code=303)
    try:
        view = parent_portal.overview(context(request).engine, session, case_id)
    except NotFound:
        raise HTTPException(404) from None
    return render_parent(request, "parent_case.html", status, v=view, notice=notice, alert=alert, form=form or {})


@router.get("/casus/{case_id}")
def case_page(request: Request, case_id: str, gedaan: str | None = None) -> Response:
    return _page(request, case_id, notice=catalog_text(DONE[gedaan]) if gedaan in DONE else None)


@router.get("/casus/{case_id}/opp/{version}")
def opp_page(request: Request, case_id: str, version: int) -> Response:
    session = parent_session(request)
    if session is None:
        return RedirectResponse(PARENT_PREFIX, status_code=303)
    try:
        view = parent_portal.opp_page(context(request).engine, session, case_id, version)
    except NotFound:
        raise HTTPException(404) from None
    html = opp_print.render_html(view)
    csp = printable_csp(html)  # its own stylesheet, allowed by its hash; nothing else
    return HTMLResponse(html, headers={"content-security-policy": csp})


def _notify(request: Request, tasks: BackgroundTasks, result: dict[str, Any], what: str) -> None:
    if result.get("added_by"):
        tasks.add_task(_send, request, str(result["added_by"]), str(result["case_id"]), what)


def _send(request: Request, user_id: str, case_id: str, what: str) -> None:
    """After the answer has gone; a failure is logged (without the address), never shown."""
    web = context(request)
    host = urlsplit(web.settings.base_url).hostname or "passend"
    message = parent_portal.decision_message(web.engine, user_id, web.settings.url(f"/casus/{case_id}"), what=what,
                                             sent_at=web.engine.clock(), host=host)
    if message is None:
        return
    try:
        web.notifier.send(message)
        log.info("parent.news_sent", user=user_id)
    except Exception as exc:
        log.error("parent.news_not_sent", user=user_id, error_type=type(exc).__name__)


def _not_stored(request: Request, case_id: str, exc: BadInput | Refused, **values: Any) -> Response:
    """The case page again with why nothing was stored: 400 for bad input, 403 for a refusal."""
    return _page(request, case_id, 400 if isinstance(exc, BadInput) else 403,
                 alert=catalog_text("web.parent.not_stored", why=exc.message[:1].upper() + exc.message[1:]), **values)


@router.post("/casus/{case_id}/besluit")
def decide(request: Request, case_id: str, tasks: BackgroundTasks,
           status: Annotated[str, Form(max_length=20)] = "",
           versie: Annotated[str, Form(max_length=128)] = "") -> Response:
    session = _session(request)
    try:
        result = parent_portal.decide(context(request).engine, session, case_id, status=status, shown_hash=versie)
    except NotFound:
        raise HTTPException(404) from None
    except (BadInput, Refused) as exc:
        return _not_stored(request, case_id, exc)
    _notify(request, tasks, result, catalog_text("web.parent.news.decision"))
    return RedirectResponse(f"{PARENT_PREFIX}/casus/{case_id}?gedaan=besluit#toestemming", status_code=303)


@router.post("/casus/{case_id}/verzoek")
def answer(request: Request, case_id: str, tasks: BackgroundTasks,
           status: Annotated[str, Form(max_length=20)] = "",
           verzoek: Annotated[str, Form(max_length=20)] = "",
           tekst: Annotated[str, Form(max_length=128)] = "") -> Response:
    session = _session(request)
    try:
        result = parent_portal.answer(context(request).engine, session, case_id, request=verzoek, status=status,
                                      shown_hash=tekst)
    except NotFound:
        raise HTTPException(404) from None
    except (BadInput, Refused) as exc:
        return _not_stored(request, case_id, exc)
    _notify(request, tasks, result, catalog_text("web.parent.news.decision"))
    return RedirectResponse(f"{PARENT_PREFIX}/casus/{case_id}?gedaan=verzoek#verzoeken", status_code=303)


@router.post("/casus/{case_id}/mening")
def give_view(request: Request, case_id: str, tasks: BackgroundTasks,
              party: Annotated[str, Form(max_length=20)] = "",
              text: Annotated[str, Form(max_length=20000)] = "") -> Response:
    session = _session(request)
    try:
        result = parent_portal.give_view(context(request).engine, session, case_id, party=party, text=text)
    except NotFound:
        raise HTTPException(404) from None
    except (BadInput, Refused) as exc:
        return _not_stored(request, case_id, exc, form={"party": party, "text": text})
    _notify(request, tasks, result, catalog_text("web.parent.news.view"))
    return RedirectResponse(f"{PARENT_PREFIX}/casus/{case_id}?gedaan=mening#mening", status_code=303)


@router.post("/uitloggen")
def sign_out(request: Request) -> Response:
    web = context(request)
    web.parent_sessions.end(request.cookies.get(web.parent_cookie))
    response = RedirectResponse(f"{PARENT_PREFIX}?uit=1", status_code=303)
    clear_cookie(response, web.parent_cookie, secure=web.settings.secure)
    return response

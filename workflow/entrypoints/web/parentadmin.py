"""The IB's part of the parents' portal, on the case page (section "Ouders").

POST /casus/{id}/ouders                    put a parent or guardian on the case (name, e-mail)
POST /casus/{id}/ouders/{pid}/uitnodigen   send them a sign-in link (a new one replaces the old)
POST /casus/{id}/ouders/{pid}/verwijderen  take them off the case: their link and session stop
POST /casus/{id}/ouders/toestemming        ask the parents online for their consent on a scope
                                           (workflow.service_layer.consent_requests)

Only a user who may record the parents' consent on the case (the IB) sees the section's forms;
the service refuses anyone else (403, or 404 for another school's case), and a read-only role's
POST is refused before it gets here (guard.protect). The invitation goes after the answer.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Form, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.adapters.config import User
from workflow.adapters.logs import get_logger
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.entrypoints.web.casepage import not_theirs, show
from workflow.entrypoints.web.guard import PARENT_PREFIX, context, writer
from workflow.messages import text
from workflow.service_layer import consent_requests, parents
from workflow.service_layer.parents import Invitation

router = APIRouter()
log = get_logger("passend.web")


def _refused(request: Request, user: User, case_id: str, exc: Refused | BadInput,
             form: dict[str, str] | None = None, ask: bool = False) -> Response:
    if isinstance(exc, Refused):
        if not_theirs(exc):
            raise HTTPException(404) from None
        return show(request, user, case_id, 403, alert=exc.message, reasons=exc.reasons)
    alert = exc.message[:1].upper() + exc.message[1:] + ("" if exc.message.endswith(".") else ".")
    if ask:
        return show(request, user, case_id, 400, alert=alert, ask_form={"values": form or {}, "errors": exc.fields})
    return show(request, user, case_id, 400, alert=alert, parent_form={"values": form or {}, "errors": exc.fields})


@router.post("/casus/{case_id}/ouders/toestemming")
def ask(request: Request, case_id: str, user: Annotated[User, Depends(writer)],
        scope: Annotated[str, Form(max_length=200)] = "",
        text: Annotated[str, Form(max_length=40000)] = "") -> Response:
    try:
        consent_requests.ask(context(request).engine, case_id, actor=user.id, scope=scope, text=text)
    except NotFound:
        raise HTTPException(404) from None
    except (Refused, BadInput) as exc:
        return _refused(request, user, case_id, exc, {"scope": scope, "text": text}, ask=True)
    return RedirectResponse(f"/casus/{case_id}?gedaan=gevraagd#toestemming-vragen", status_code=303)


@router.post("/casus/{case_id}/ouders")
def add(request: Request, case_id: str, user: Annotated[User, Depends(writer)],
        name: Annotated[str, Form(max_length=400)] = "", email: Annotated[str, Form(max_length=400)] = "") -> Response:
    try:
        parents.add(context(request).engine, case_id, actor=user.id, name=name, email=email)
    except NotFound:
        raise HTTPException(404) from None
    except (Refused, BadInput) as exc:
        return _refused(request, user, case_id, exc, {"name": name, "email": email})
    return RedirectResponse(f"/casus/{case_id}?gedaan=ouder#ouders", status_code=303)


@router.post("/casus/{case_id}/ouders/{parent_id}/uitnodigen")
def invite(request: Request, case_id: str, parent_id: str, tasks: BackgroundTasks,
           user: Annotated[User, Depends(writer)]) -> Response:
    web = context(request)
    try:
        invitation = parents.invite(web.engine, case_id, parent_id, actor=user.id)
    except NotFound:
        raise HTTPException(404) from None
    except (Refused, BadInput) as exc:
        return _refused(request, user, case_id, exc)
    tasks.add_task(_send, request, invitation)
    return RedirectResponse(f"/casus/{case_id}?gedaan=uitgenodigd#ouders", status_code=303)


def _send(request: Request, invitation: Invitation) -> None:
    web = context(request)
    host = urlsplit(web.settings.base_url).hostname or "passend"
    school = web.engine.config.schools.get(invitation.parent.school)
    message = parents.invitation_message(
        invitation, web.settings.url(f"{PARENT_PREFIX}/link/{invitation.token}"),
        school=school.name if school is not None else text("web.parent.the_school"), sent_at=web.engine.clock(),
        host=host)
    try:
        web.notifier.send(message)
        log.info("parent.invitation_sent", parent=invitation.parent.id)
    except Exception as exc:  # the IB invites again; the log says why (without the address)
        log.error("parent.invitation_not_sent", parent=invitation.parent.id, error_type=type(exc).__name__)


@router.post("/casus/{case_id}/ouders/{parent_id}/verwijderen")
def remove(request: Request, case_id: str, parent_id: str, user: Annotated[User, Depends(writer)]) -> Response:
    try:
        parents.remove(context(request).engine, case_id, parent_id, actor=user.id)
    except NotFound:
        raise HTTPException(404) from None
    except (Refused, BadInput) as exc:
        return _refused(request, user, case_id, exc)
    return RedirectResponse(f"/casus/{case_id}?gedaan=verwijderd#ouders", status_code=303)

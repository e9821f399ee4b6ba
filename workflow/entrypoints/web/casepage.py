"""Casus: one case's page, its forms, and the preview and confirmation of a step.

GET  /casus/{id}                 where the case is (the process diagram, SVG), its running deadlines,
                                 every possible step with what it still needs, a form per kind of
                                 evidence the user may record, what was recorded, the timeline.
                                 Every view writes an access record (NEN 7513, source "web").
POST /casus/{id}/vastleggen/{kind}  record evidence; what is wrong comes back next to each field
GET  /casus/{id}/stap/{trigger}  "dit gebeurt er": the step previewed (nothing is stored)
POST /casus/{id}/stap/{trigger}  the step confirmed
GET  /proces.svg?proces=ID@V&staat=S  the diagram of a process version, one state marked

Every form carries the version of the case it was opened on (`versie`); the service refuses a
command on any other version (Conflict), and the answer is the fresh page with status 409 and a
message saying nothing was stored. The preview carries the version it showed, so a confirmation
does exactly what was previewed or nothing. A leerkracht asking for another school's case gets
404 and nothing of it; a read-only role sees no form and no step button, and its POSTs are
refused (guard.protect, and `writer` here).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.adapters.config import User
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, Conflict, NotFound, PassendError, Refused
from workflow.domain.evidence import EvidenceKind
from workflow.entrypoints.web import (
    filters,  # noqa: F401  (the templates' Dutch dates)
    forms,
)
from workflow.entrypoints.web.diagram import svg
from workflow.entrypoints.web.guard import as_signed_in, context, is_read_only, writer
from workflow.entrypoints.web.pages import ROLE_NAMES, fields_html, fragment, render
from workflow.messages import text
from workflow.service_layer import cases, consent_requests, queries

router = APIRouter()
CONFLICT = "web.case.conflict"  # the catalog's keys: text(CONFLICT) when a page shows it
DONE = {"vastgelegd": "web.case.done.recorded", "stap": "web.case.done.step", "geopend": "web.case.done.opened",
        "ouder": "web.case.done.parent_added", "uitgenodigd": "web.case.done.invited",
        "verwijderd": "web.case.done.parent_removed", "gevraagd": "web.case.done.consent_asked"}


def _version(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInput(text("web.case.no_version")) from None


def not_theirs(exc: Refused) -> bool:
    """A refusal because the case belongs to a school the user does not serve: answered as 404,
    as for a case that does not exist, so a page says nothing about another school's case."""
    return any(d.get("code") == "no_school_access" for d in exc.details)


def _definition(request: Request, view: dict[str, Any]) -> Any:
    pid, _, version = view["process"].rpartition("@")
    return context(request).engine.registry.get(pid, int(version))


def show(request: Request, user: User, case_id: str, status: int = 200, *, notice: str | None = None,
         alert: str | None = None, reasons: list[str] | None = None, form: dict[str, Any] | None = None,
         parent_form: dict[str, Any] | None = None, ask_form: dict[str, Any] | None = None) -> Response:
    """The case page (every render is a read of the case, and logged as one)."""
    engine = context(request).engine
    read_only = is_read_only(request, user)
    try:
        view = queries.case(engine, case_id, actor=user.id, source="web", timeline=True, parents=not read_only)
    except Refused as exc:
        if not_theirs(exc):
            raise HTTPException(404) from None
        raise
    d = _definition(request, view)
    kinds = [] if read_only or view["closed_at"] else [
        k for k in d.evidence_kinds.values() if user.role in d.evidence_roles.get(k.name, frozenset())]
    recordable = [_record_form(request, view["process"], d, k, form or {}) for k in kinds]
    steps = []
    for o in ([] if read_only else view["options"]):
        tdef = d.triggers[o["trigger"]]
        steps.append({**o, "choose": forms.param_controls(tdef, o["params"]),
                      "fixed": {forms.PARAM + k: v for k, v in o["params"].items()}})
    by_seq = {e["seq"]: e for e in view["evidence"]}
    moves = {h["seq"]: h for h in view["history"]}
    # The parents on the case, for whoever may record their consent (the IB): the "Ouders" section.
    manages = not read_only and not view["closed_at"] and user.role in d.evidence_roles.get("consent", frozenset())
    roster = view.pop("parents", []) if manages else []
    asked = view.pop("consent_requests", []) if manages else []
    # The consent the parents may be asked online, one form per scope, each with its own words.
    sent = (ask_form or {}).get("values", {})
    asking = [{"scope": s, "label": d.scope_label(s),
               "text": sent.get("text", "") if sent.get("scope") == s else consent_requests.default_text(d, s),
               "errors": (ask_form or {}).get("errors", {}) if sent.get("scope") == s else {}}
              for s in consent_requests.askable(d)] if manages else []
    gedaan = request.query_params.get("gedaan")
    if notice is None and gedaan in DONE:
        notice = text(DONE[gedaan], what=request.query_params.get("wat", "")[:80])
    return render(request, "case.html", status, nav="leerlingen", c=view, d=d, steps=steps,
                  recordable=recordable, by_seq=by_seq, moves=moves, notice=notice, alert=alert,
                  reasons=reasons or [], role_names=ROLE_NAMES, manages_parents=manages, parents=roster,
                  asking=asking, asked=asked,
                  parent_form=parent_form or {"values": {}, "errors": {}},
                  school_name=engine.config.schools[view["school"]].name
                  if view["school"] in engine.config.schools else view["school"])


def _record_form(request: Request, process: str, d: ProcessDefinition, kind: EvidenceKind,
                 form: dict[str, Any]) -> dict[str, Any]:
    """One evidence kind's form on the case page: its controls drawn once per process version
    when blank (pages.fragment), or with what was sent and the errors next to their fields."""
    if form.get("kind") != kind.name:
        blank = fragment(request, ("record", process, kind.name),
                         lambda: fields_html(forms.controls(kind, d)))
        return {"kind": kind, "open": False, "fields": blank, "bad": [], "message": None}
    controls = forms.controls(kind, d, form.get("values"), form.get("errors"))
    return {"kind": kind, "open": True, "fields": fields_html(controls),
            "bad": [c for c in controls if c.error], "message": form.get("message")}


@router.get("/casus/{case_id}")
async def case_page(request: Request, case_id: str) -> Response:
    return await as_signed_in(request, show, case_id)


@router.post("/casus/{case_id}/vastleggen/{kind}")
async def record(request: Request, case_id: str, kind: str, user: Annotated[User, Depends(writer)]) -> Response:
    form = await request.form()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_record, request, user, case_id, kind, dict(form))


def _record(request: Request, user: User, case_id: str, kind: str, form: dict[str, Any]) -> Response:
    engine = context(request).engine
    spec = engine.definition.evidence_kinds.get(kind)
    if spec is None:
        raise HTTPException(404)
    fields, shown = forms.submitted(spec, form)
    try:
        cases.record(engine, kind, case_id, actor=user.id, expected_version=_version(form.get("versie")), **fields)
    except Conflict:
        return show(request, user, case_id, 409, alert=text(CONFLICT),
                    form={"kind": kind, "values": shown, "errors": {}})
    except NotFound:
        raise
    except BadInput as exc:
        message = None if exc.fields else exc.message
        return show(request, user, case_id, 400, form={"kind": kind, "values": shown, "errors": exc.fields,
                                                       "message": message})
    except Refused as exc:
        if not_theirs(exc):
            raise HTTPException(404) from None
        return show(request, user, case_id, 403, alert=exc.message, reasons=exc.reasons)
    return RedirectResponse(f"/casus/{case_id}?gedaan=vastgelegd&wat={spec.label}#vastgelegd", status_code=303)


def _trigger(request: Request, trigger: str) -> Any:
    tdef = context(request).engine.definition.triggers.get(trigger)
    if tdef is None:
        raise HTTPException(404)
    return tdef


@router.get("/casus/{case_id}/stap/{trigger}")
def preview(request: Request, case_id: str, trigger: str, user: Annotated[User, Depends(writer)]) -> Response:
    engine = context(request).engine
    tdef = _trigger(request, trigger)
    params = forms.params_of(tdef, request.query_params)
    try:
        result = cases.preview(engine, case_id, trigger, actor=user.id, params=params,
                               expected_version=_version(request.query_params.get("versie")))
    except Conflict:
        return show(request, user, case_id, 409, alert=text(CONFLICT))
    except Refused as exc:
        if not_theirs(exc):
            raise HTTPException(404) from None
        return show(request, user, case_id, 422, alert=text("web.case.refused_step", step=tdef.label),
                    reasons=exc.reasons)
    except NotFound:
        raise
    except BadInput as exc:
        return show(request, user, case_id, 400, alert=exc.message)
    d = _definition(request, result)
    labels = {dd.name: dd.label for dd in d.deadlines}
    clocks = {k: [labels.get(n, d.states[n].label if n in d.states else n) for n in v]
              for k, v in result["deadlines"].items()}
    return render(request, "preview.html", nav="leerlingen", p=result, d=d, clocks=clocks, trigger=tdef,
                  fields={forms.PARAM + k: v for k, v in params.items()}, today=engine.today(),
                  actor_role=ROLE_NAMES.get(user.role, user.role))


@router.post("/casus/{case_id}/stap/{trigger}")
async def confirm(request: Request, case_id: str, trigger: str, user: Annotated[User, Depends(writer)]) -> Response:
    form = await request.form()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_confirm, request, user, case_id, trigger, dict(form))


def _confirm(request: Request, user: User, case_id: str, trigger: str, form: dict[str, Any]) -> Response:
    engine = context(request).engine
    tdef = _trigger(request, trigger)
    try:
        cases.fire(engine, case_id, trigger, actor=user.id, params=forms.params_of(tdef, form),
                   expected_version=_version(form.get("versie")))
    except Conflict:
        return show(request, user, case_id, 409, alert=text(CONFLICT))
    except Refused as exc:
        if not_theirs(exc):
            raise HTTPException(404) from None
        return show(request, user, case_id, 422, alert=text("web.case.refused_step", step=tdef.label),
                    reasons=exc.reasons)
    except NotFound:
        raise
    except PassendError as exc:
        return show(request, user, case_id, 400, alert=exc.message)
    return RedirectResponse(f"/casus/{case_id}?gedaan=stap&wat={tdef.label}", status_code=303)


@router.get("/proces.svg")
async def diagram(request: Request, proces: str | None = None, staat: str | None = None) -> Response:
    return await as_signed_in(request, _diagram, proces, staat)


def _diagram(request: Request, user: User, proces: str | None, staat: str | None) -> Response:
    engine = context(request).engine
    d = engine.definition
    if proces:
        pid, _, version = proces.rpartition("@")
        try:
            d = engine.registry.get(pid, int(version))
        except (PassendError, ValueError):
            raise HTTPException(404) from None
    return Response(svg(d, staat if staat in d.states else None), media_type="image/svg+xml")

"""Het OPP: the OPP document of one case, read and drafted in the browser.

GET  /casus/{id}/opp                one version in full (the newest, or `?opp=N`): every part of
                                    WPO art. 40a lid 1, what is still missing before it can be
                                    adopted, its hashes, adoption and the parents' consent on it;
                                    for whoever may draft now, a form for the next version,
                                    filled in with the current one (the service keeps unchanged
                                    parts, so the IB edits only what changes)
POST /casus/{id}/opp                record that next version (`opp.draft`)
GET  /casus/{id}/opp/afdruk         the printable OPP as HTML, or `?formaat=pdf` as a PDF

Reading a version's text is an access record (`opp.show`, `opp.print`), as in the CLI. The form
carries the case's version like every form on the case page: one opened on an older version is
refused (409) with the fresh page. A read-only role sees no form, and its POST is refused by
guard.protect and `writer`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.adapters.config import User
from workflow.domain import opp as doc
from workflow.domain.errors import BadInput, Conflict, PassendError, Refused
from workflow.entrypoints.web.casepage import CONFLICT, not_theirs
from workflow.entrypoints.web.guard import as_signed_in, context, is_read_only, writer
from workflow.entrypoints.web.pages import render
from workflow.entrypoints.web.security import printable_csp
from workflow.messages import text as catalog_text
from workflow.service_layer import opp, opp_print

router = APIRouter()
GOAL_ROWS = 3  # empty goal rows under the current goals, for new ones
MOMENT_ROWS = 2  # likewise for evaluation moments


def _status(request: Request, user: User, case_id: str) -> dict[str, Any]:
    try:
        return opp.status(context(request).engine, case_id, actor=user.id)
    except Refused as exc:
        if not_theirs(exc):
            raise HTTPException(404) from None
        raise


def _number(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise HTTPException(404) from None


def _form_values(view: dict[str, Any] | None) -> dict[str, Any]:
    """The current version as the form's starting values."""
    values: dict[str, Any] = {"texts": {}, "uitstroombestemming": "", "goals": [], "moments": []}
    if view is None:
        return values
    values["uitstroombestemming"] = view["uitstroombestemming"] or ""
    for p in view["parts"]:
        if p["value"] is None or p["name"] == "uitstroombestemming":
            continue
        if p["name"] == "goals":
            values["goals"] = [(g["area"], g["text"]) for g in p["value"]]
        elif p["name"] == "evaluation_moments":
            values["moments"] = list(p["value"])
        else:
            values["texts"][p["name"]] = p["value"]
    return values


def page(request: Request, user: User, case_id: str, number: int | None = None, status: int = 200, *,
         alert: str | None = None, notice: str | None = None, values: dict[str, Any] | None = None) -> Response:
    st = _status(request, user, case_id)
    if not st["has_document"]:
        raise HTTPException(404)
    view = None
    if st["versions"]:
        if number is not None and number not in st["versions"]:
            raise HTTPException(404)
        view = opp.show(context(request).engine, case_id, actor=user.id, version=number)
    may_draft = st["may_draft"] and not is_read_only(request, user)
    start = values if values is not None else _form_values(view)
    goals = list(start["goals"]) + [("", "")] * GOAL_ROWS
    moments = list(start["moments"]) + [""] * MOMENT_ROWS
    return render(request, "opp.html", status, nav="leerlingen", st=st, o=view, may_draft=may_draft,
                  start=start, goals=goals, moments=moments, areas=list(doc.GOAL_AREAS.items()),
                  parts=doc.PARTS, alert=alert, notice=notice)


@router.get("/casus/{case_id}/opp")
async def opp_page(request: Request, case_id: str) -> Response:
    return await as_signed_in(request, _opp_page, case_id)


def _opp_page(request: Request, user: User, case_id: str) -> Response:
    notice = catalog_text("web.opp.done") if request.query_params.get("gedaan") == "opp" else None
    return page(request, user, case_id, _number(request.query_params.get("opp")), notice=notice)


def submitted(form: dict[str, Any]) -> dict[str, Any]:
    """The parts as typed: texts by name, the uitstroombestemming, goals and moments (rows
    with nothing in them left out)."""
    texts = {name: str(form.get(f"deel-{name}", "")).strip()
             for name in doc.TEXT_PARTS + doc.HANDELINGSDEEL}
    goals = []
    for i in range(doc.MAX_GOALS):
        area, text = str(form.get(f"doel-{i}-gebied", "")).strip(), str(form.get(f"doel-{i}-tekst", "")).strip()
        if area or text:
            goals.append((area, text))
    moments = [str(form.get(f"moment-{i}", "")).strip() for i in range(doc.MAX_MOMENTS)]
    return {"texts": texts, "uitstroombestemming": str(form.get("deel-uitstroombestemming", "")).strip(),
            "goals": goals, "moments": [m for m in moments if m]}


@router.post("/casus/{case_id}/opp")
async def draft(request: Request, case_id: str, user: Annotated[User, Depends(writer)]) -> Response:
    form = await request.form()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_draft, request, user, case_id, dict(form))


def _draft(request: Request, user: User, case_id: str, form: dict[str, Any]) -> Response:
    engine = context(request).engine
    values = submitted(form)
    for area, text in values["goals"]:
        if not area or not text:
            return page(request, user, case_id, status=400, values=values,
                        alert=catalog_text("web.opp.goal_incomplete"))
    clear = [name for name, text in values["texts"].items() if not text]
    if not values["uitstroombestemming"]:
        clear.append("uitstroombestemming")
    if not values["goals"]:
        clear.append("goals")
    if not values["moments"]:
        clear.append("evaluation_moments")
    try:
        version = int(form.get("versie", ""))
    except ValueError:
        return page(request, user, case_id, status=400, values=values,
                    alert=catalog_text("web.opp.no_version"))
    try:
        opp.draft(engine, case_id, actor=user.id, uitstroombestemming=values["uitstroombestemming"] or None,
                  texts={k: v for k, v in values["texts"].items() if v},
                  goals=values["goals"] or None, evaluation_moments=values["moments"] or None,
                  clear=clear, expected_version=version)
    except Conflict:
        return page(request, user, case_id, status=409, alert=catalog_text(CONFLICT))
    except Refused as exc:
        if not_theirs(exc):
            raise HTTPException(404) from None
        return page(request, user, case_id, status=403, values=values, alert=exc.message)
    except PassendError as exc:
        return page(request, user, case_id, status=400, values=values, alert=exc.message)
    return RedirectResponse(f"/casus/{case_id}/opp?gedaan=opp", status_code=303)


@router.get("/casus/{case_id}/opp/afdruk")
async def printable(request: Request, case_id: str) -> Response:
    return await as_signed_in(request, _printable, case_id)


def _printable(request: Request, user: User, case_id: str) -> Response:
    st = _status(request, user, case_id)
    number = _number(request.query_params.get("opp"))
    if not st["versions"] or (number is not None and number not in st["versions"]):
        raise HTTPException(404)
    fmt = "pdf" if request.query_params.get("formaat") == "pdf" else "html"
    try:
        result = opp_print.print_opp(context(request).engine, case_id, actor=user.id, fmt=fmt, version=number)
    except BadInput as exc:  # WeasyPrint or Pango missing: the HTML still works
        return page(request, user, case_id, number, status=503, alert=exc.message)
    if fmt == "pdf":
        name = f"OPP-{case_id}-versie-{result['opp_version']}.pdf"
        return Response(result["document"], media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
    csp = printable_csp(result["document"].decode("utf-8"))
    return Response(result["document"], media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": csp})


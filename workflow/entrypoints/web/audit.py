"""Audit: for the roles of service_layer.dashboard.AUDIT_ROLES (auditor, directeur, IB).

GET /audit              the chains' heads to note outside the system (the newest daily witness
                        root; the access log's last record and hash), and the ways below
GET /audit/controle     verify every chain now (`passend audit verify`: reads only, so a GET,
                        and open to the read-only auditor, for whom no POST works)
GET /audit/naleving     the compliance report: per school and rule, and the failing findings
GET /audit/export       the export bundle of the user's schools (or `school`) as a .zip: the
                        export service's files; its access records (audit.export, source web)
GET /audit/inzage       `casus`: the NEN 7513 access records of that case

Everything here reads; the only writes are the access records the export makes, which the
system writes even for a read-only role (service_layer.access). No page here has a form that
POSTs, so a read-only role sees no write control; guard.protect refuses any POST it sends.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from workflow.adapters.config import User
from workflow.adapters.logs import get_logger
from workflow.domain.errors import NotFound
from workflow.entrypoints.web import filters  # noqa: F401  (the templates' Dutch dates)
from workflow.entrypoints.web.guard import context, signed_in
from workflow.entrypoints.web.pages import ROLE_NAMES, render
from workflow.messages import text
from workflow.service_layer import dashboard

router = APIRouter()
log = get_logger("passend.web")
CASE_REF_MAX = 64
ACTIONS = ("case.show", "audit.export", "audit.timeline", "audit.replay", "case.erase", "opp.print")


def auditing(user: Annotated[User, Depends(signed_in)]) -> User:
    """The signed-in user, if their role may see the Audit pages; else 403."""
    if not dashboard.may_see_audit(user):
        raise HTTPException(403, text("web.audit.not_for_role"))
    return user


Auditing = Annotated[User, Depends(auditing)]


def _schools(request: Request, user: User) -> list[tuple[str, str]]:
    engine = context(request).engine
    return [(s, c.name) for s, c in engine.config.schools.items() if user.serves(s)]


@router.get("/audit")
def overview(request: Request, user: Auditing) -> Response:
    state = dashboard.chain_state(context(request).engine, actor=user.id)
    return render(request, "audit.html", nav="audit", state=state, schools=_schools(request, user))


@router.get("/audit/controle")
def check(request: Request, user: Auditing) -> Response:
    engine = context(request).engine
    result = dashboard.check_chains(engine, actor=user.id)
    log.info("web.audit.verified", actor=user.id, ok=result.ok, cases=result.cases)
    return render(request, "audit_check.html", nav="audit", result=result,
                  state=dashboard.chain_state(engine, actor=user.id))


@router.get("/audit/naleving")
def compliance(request: Request, user: Auditing) -> Response:
    report = dashboard.compliance_report(context(request).engine, actor=user.id)
    per_school = [{"school": s, "rules": r} for s, r in report.schools.items()]
    return render(request, "audit_compliance.html", nav="audit", report=report, per_school=per_school)


@router.get("/audit/export")
def export(request: Request, user: Auditing) -> Response:
    from workflow.service_layer.audit.export import export as export_bundle

    engine = context(request).engine
    school = request.query_params.get("school") or None
    if school is not None and school not in engine.config.schools:
        raise HTTPException(400, text("web.audit.export_bad_school"))
    folder = Path(tempfile.mkdtemp(prefix="passend-export-"))
    try:
        out = folder / "export"
        export_bundle(engine, out, actor=user.id, school=school, source="web")
        day = engine.today().isoformat()
        name = f"passend-export-{school or 'scholen'}-{day}.zip"
        bundle = folder / name
        with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for f in sorted(out.iterdir()):
                z.write(f, f"passend-export-{day}/{f.name}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("web.audit.exported", actor=user.id, school=school)
    return FileResponse(bundle, media_type="application/zip", filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.get("/audit/inzage")
def access(request: Request, user: Auditing) -> Response:
    engine = context(request).engine
    ref = (request.query_params.get("casus") or "").strip()
    records = None
    error = None
    if ref:
        if len(ref) > CASE_REF_MAX:
            error = text("web.audit.access_not_found")
        else:
            try:
                records = dashboard.case_access(engine, ref, actor=user.id)
            except NotFound:
                error = text("web.audit.access_not_found")
    return render(request, "audit_access.html", 404 if error else 200, nav="audit",
                  ref=ref if records is not None else "", records=records, error=error,
                  actions={a: text(f"web.access.action.{a}") for a in ACTIONS}, roles=ROLE_NAMES)

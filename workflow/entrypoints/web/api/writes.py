"""The API's commands: open a case, record evidence, take a step.

POST /api/v1/cases                   open a case (201): pupil reference, school, group, name
POST /api/v1/cases/{id}/evidence     record evidence (201), at the version the client read
POST /api/v1/cases/{id}/steps        take a step, at the version the client read

The same commands as the pages (service_layer.cases), acting as the token (`api:<name>` in the
event), only for a role that may write (`as_token(..., write=True)`). A command carries the case's version the
client last read (`expected_version`): on any other version nothing is stored and the answer is
409, so a client never changes a case it has not seen. A step a guard refuses is 422 with every
reason (what the step still needs), as the case page shows them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from workflow.adapters.config import User
from workflow.entrypoints.web.api.auth import Secret, as_token
from workflow.entrypoints.web.api.errors import DOCUMENTED, ApiError
from workflow.entrypoints.web.api.models import EvidenceIn, NewCase, Opened, Recorded, StepIn, Stepped
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text
from workflow.service_layer import cases

router = APIRouter(responses=DOCUMENTED)


@router.post("/cases", status_code=201, response_model=Opened, summary="Open a case")
async def open_case(request: Request, secret: Secret, body: NewCase) -> Any:
    return await as_token(request, secret, _open_case, body, write=True)


def _open_case(request: Request, user: User, body: NewCase) -> Any:
    engine = context(request).engine
    if body.school not in engine.config.schools:
        raise ApiError(400, text("api.unknown_school"), fields={"school": text("api.unknown_school.field")})
    if not user.serves(body.school):
        raise ApiError(403, text("api.token_other_school"))
    return cases.open_case(engine, pupil=body.pupil, school=body.school, actor=user.id, name=body.name,
                           group=body.group)


@router.post("/cases/{case_id}/evidence", status_code=201, response_model=Recorded, summary="Record evidence")
async def record(request: Request, secret: Secret, case_id: str, body: EvidenceIn) -> Any:
    return await as_token(request, secret, _record, case_id, body, write=True)


def _record(request: Request, user: User, case_id: str, body: EvidenceIn) -> Any:
    engine = context(request).engine
    spec = engine.definition.evidence_kinds.get(body.kind)
    if spec is None:
        raise ApiError(400, text("api.unknown_kind"), fields={"kind": text("api.unknown_kind.field")})
    declared = {f.name for f in spec.fields}
    unknown = {f"fields.{k}"[:100]: text("api.unknown_field.field") for k in body.fields
               if k not in declared}
    if unknown:
        raise ApiError(400, text("api.unknown_fields"), fields=unknown)
    fields = {k: v for k, v in body.fields.items() if v is not None}
    return cases.record(engine, body.kind, case_id, actor=user.id, expected_version=body.expected_version, **fields)


@router.post("/cases/{case_id}/steps", response_model=Stepped, summary="Take a step")
async def step(request: Request, secret: Secret, case_id: str, body: StepIn) -> Any:
    return await as_token(request, secret, _step, case_id, body, write=True)


def _step(request: Request, user: User, case_id: str, body: StepIn) -> Any:
    engine = context(request).engine
    if body.trigger not in engine.definition.triggers:
        raise ApiError(400, text("api.unknown_step"), fields={"trigger": text("api.unknown_step.field")})
    done = cases.fire(engine, case_id, body.trigger, actor=user.id, params=body.params,
                      expected_version=body.expected_version)
    return {**done, "trigger": body.trigger}

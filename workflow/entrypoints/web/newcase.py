"""Nieuwe casus: open a case for a pupil (reference, school among the user's, group, optional
name), then go to its page.

GET  /nieuwe-casus   the form (only for a role that may open a case; read-only roles get 403)
POST /nieuwe-casus   open it: the case page, or the form again with what is wrong next to each
                     field; a pupil with an open case already gets a link to that case
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.adapters.config import User
from workflow.domain.errors import BadInput, Refused
from workflow.entrypoints.web import filters  # noqa: F401  (the templates' Dutch dates)
from workflow.entrypoints.web.guard import context, writer
from workflow.entrypoints.web.pages import render
from workflow.messages import text
from workflow.service_layer import cases

router = APIRouter()
PATH = "/nieuwe-casus"


def _form(request: Request, user: User, status: int = 200, **values: Any) -> Response:
    engine = context(request).engine
    if user.role not in engine.definition.open_roles:
        raise HTTPException(403, text("web.newcase.may_not_open"))
    schools = [(s, c.name) for s, c in engine.config.schools.items() if user.serves(s)]
    return render(request, "newcase.html", status, nav="nieuw", schools=schools, values=values.pop("values", {}),
                  errors=values.pop("errors", {}), **values)


@router.get(PATH)
def new_case(request: Request, user: Annotated[User, Depends(writer)]) -> Response:
    return _form(request, user)


@router.post(PATH)
def open_case(request: Request, user: Annotated[User, Depends(writer)],
              leerling: Annotated[str, Form(max_length=200)] = "", school: Annotated[str, Form(max_length=64)] = "",
              groep: Annotated[str, Form(max_length=4)] = "",
              naam: Annotated[str, Form(max_length=400)] = "") -> Response:
    engine = context(request).engine
    values = {"leerling": leerling.strip(), "school": school, "groep": groep, "naam": naam.strip()}
    errors: dict[str, str] = {}
    if not values["leerling"]:
        errors["pupil"] = text("web.newcase.pupil_missing")
    if not school:
        errors["school"] = text("web.newcase.school_missing")
    group = None
    if groep:
        try:
            group = int(groep)
        except ValueError:
            errors["group"] = text("web.newcase.group_wrong")
    if errors:
        return _form(request, user, 400, values=values, errors=errors)
    try:
        opened = cases.open_case(engine, pupil=values["leerling"], school=school, actor=user.id,
                                 name=values["naam"] or None, group=group)
    except BadInput as exc:
        return _form(request, user, 400, values=values, errors=exc.fields or {"school": exc.message})
    except Refused as exc:
        existing = next((r["params"].get("case_id") for r in exc.details if r["code"] == "case_already_open"), None)
        return _form(request, user, 409 if existing else 403, values=values, refused=exc.reasons, existing=existing)
    return RedirectResponse(f"/casus/{opened['case_id']}?gedaan=geopend", status_code=303)

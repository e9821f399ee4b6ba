"""Directie: per school of the signed-in user, the open cases per level and per state, the
overdue deadlines (case, deadline, due date, days over) and the compliance rules, each as a
table and as a bar chart drawn on the server (charts.py). For the roles of
service_layer.dashboard.DIRECTIE_ROLES (directeur, IB, auditor); anyone else gets 403.

GET /directie   the page (read only: no form but the menu's sign-out)

The figures come from service_layer.dashboard: counts and overdue deadlines from indexed read
paths; the compliance rules by judging the schools' cases from their events, as `passend audit
compliance` does. No pupil reference or name is shown (a count is no access to a pupil's file;
a case id links to the case page, which logs its own read).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.requests import Request
from starlette.responses import Response

from workflow.adapters.config import User
from workflow.entrypoints.web import filters  # noqa: F401  (the templates' Dutch dates)
from workflow.entrypoints.web.charts import bar_chart
from workflow.entrypoints.web.guard import as_signed_in, context
from workflow.entrypoints.web.pages import render
from workflow.messages import text
from workflow.service_layer import dashboard

router = APIRouter()
LIMIT = 20  # overdue deadlines listed per school; the rest is the caseload's "Te laat" filter


def level_label(count: dashboard.Count) -> str:
    return text("web.dash.level", level=count.label) if count.label else text("web.dash.no_level")


@router.get("/directie")
async def directie(request: Request) -> Response:
    return await as_signed_in(request, _directie)


def _directie(request: Request, user: User) -> Response:
    if not dashboard.may_see_directie(user):
        raise HTTPException(403, text("web.dash.not_for_role"))
    engine = context(request).engine
    schools = dashboard.directie(engine, actor=user.id, limit=LIMIT)
    charts = {}
    for f in schools:
        levels = [(level_label(c), c.n) for c in f.by_level]
        charts[f.school] = {
            "levels": bar_chart(f"niveaus-{f.school}", text("web.dash.chart_levels", school=f.school_name), levels,
                                desc=text("web.dash.chart_same_as_table")),
            "states": bar_chart(f"stappen-{f.school}", text("web.dash.chart_states", school=f.school_name),
                                [(c.label, c.n) for c in f.by_state], desc=text("web.dash.chart_same_as_table")),
            "rules": bar_chart(f"regels-{f.school}", text("web.dash.chart_rules", school=f.school_name),
                               [(text(f"web.rule.{r.rule}"), r.failed) for r in f.rules],
                               desc=text("web.dash.chart_same_as_table"), fill="#a4001f"),
        }
    return render(request, "directie.html", nav="directie", schools=schools, charts=charts,
                  level_label=level_label, today=engine.today(), limit=LIMIT)

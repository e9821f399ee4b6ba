"""The Directie and Audit pages' figures: per school of the asking user, how many open cases
sit at each level and in each state, the overdue deadlines, and the compliance rules; for the
Audit page also the chains' heads to note outside the system, a verification run on request,
and a case's access log.

Counted from the store's indexed read paths, never by folding every case per request: the
state counts are one GROUP BY on the (school, state) index (`CaseReadModel.state_counts`;
levels follow from the states through the definition, as the caseload's level filter does),
the overdue deadlines one range of the work list (`deadline_lines`, as Mijn werk reads them).
Only the compliance rules judge every case from its events (audit.compliance.ComplianceRun,
the report `passend audit compliance` prints): that is what makes them an independent check.

Nothing here returns personal data (case ids, states, dates and counts), so nothing is written
to the access log. Who may ask: the roles in `DIRECTIE_ROLES` and `AUDIT_ROLES`; anyone else
is refused (403 on the pages).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workflow.adapters.config import User
from workflow.domain.errors import NotFound, Refused
from workflow.messages import text
from workflow.service_layer.access import access_records
from workflow.service_layer.audit.compliance import RULES, ComplianceRun
from workflow.service_layer.audit.verify import Problem, verify
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.worklist import deadline_item

if TYPE_CHECKING:
    from workflow.adapters.readmodels import AccessRecord

DIRECTIE_ROLES = ("directeur", "ib", "auditor")
AUDIT_ROLES = ("auditor", "directeur", "ib")
FAILING_LIMIT = 200  # failing findings listed on a page; the rest are counted


@dataclass(frozen=True)
class Count:
    key: str  # a state id, or "niveau-N" / "geen-niveau": for ids in the page, never shown
    label: str
    n: int


@dataclass(frozen=True)
class Overdue:
    case_id: str
    label: str  # the deadline's label
    due_on: dt.date
    days_over: int


@dataclass(frozen=True)
class RuleCount:
    rule: str
    passed: int = 0
    failed: int = 0
    not_due: int = 0
    na: int = 0


@dataclass
class SchoolFigures:
    school: str
    school_name: str
    open_total: int
    by_level: list[Count]
    by_state: list[Count]
    overdue: list[Overdue]
    overdue_total: int
    rules: list[RuleCount] = field(default_factory=list)


@dataclass
class Finding:
    case_id: str
    school: str
    rule: str
    detail: str


@dataclass
class ComplianceReport:
    today: dt.date
    schools: dict[str, list[RuleCount]]
    failing: list[Finding]
    failing_total: int
    unreadable: list[dict[str, Any]]
    cases: int


def may_see_directie(user: User) -> bool:
    return user.role in DIRECTIE_ROLES


def may_see_audit(user: User) -> bool:
    return user.role in AUDIT_ROLES


def _allowed(user: User, roles: tuple[str, ...]) -> None:
    if user.role not in roles:
        raise Refused(text("svc.dashboard.role_may_not_see", role=user.role))


def _rule_counts(summary: dict[str, dict[str, int]] | None) -> list[RuleCount]:
    per = summary or {}
    return [RuleCount(rule=r, passed=per.get(r, {}).get("pass", 0), failed=per.get(r, {}).get("fail", 0),
                      not_due=per.get(r, {}).get("not_due", 0), na=per.get(r, {}).get("n/a", 0)) for r in RULES]


def directie(ctx: ServiceContext, *, actor: str, limit: int = 20, rules: bool = True) -> list[SchoolFigures]:
    """The Directie page's figures for each school of `actor` (see the module's docstring);
    `rules`: judge the compliance rules too (every case of the schools, from its events)."""
    user = ctx.user(actor)
    _allowed(user, DIRECTIE_ROLES)
    bind_log(actor=actor, command="directie")
    schools = ctx.schools_for(user, None)
    schools = list(ctx.config.schools) if schools is None else schools
    d = ctx.definition
    labels = {dd.name: dd.label for dd in d.deadlines}
    today = ctx.today()
    out = []
    with ctx.uow(write=False) as uow:
        for s in schools:
            counts = {st: n for st, n in uow.cases.state_counts(s).items()
                      if n and not (st in d.states and d.states[st].final)}
            by_state = [Count(st, sd.label, counts[st]) for st, sd in d.states.items() if st in counts]
            by_state += [Count(st, st.replace("_", " "), n) for st, n in sorted(counts.items())
                         if st not in d.states]  # a state of an older definition version
            levels: dict[int | None, int] = {}
            for st, n in counts.items():
                sd = d.states.get(st)
                lv = sd.level if sd is not None else None
                levels[lv] = levels.get(lv, 0) + n
            by_level = [Count(f"niveau-{lv}", str(lv), n) for lv, n in sorted(
                (lv, n) for lv, n in levels.items() if lv is not None)]
            if None in levels:
                by_level.append(Count("geen-niveau", "", levels[None]))
            late, late_total = uow.cases.deadline_lines(s, today=today, since=None,
                                                        through=today - dt.timedelta(days=1), limit=limit)
            overdue = []
            for x in late:
                item = deadline_item(x, x.case_id, s, today, labels)
                overdue.append(Overdue(x.case_id, item.label, item.due_on, -item.days_left))
            out.append(SchoolFigures(school=s, school_name=ctx.config.schools[s].name,
                                     open_total=sum(counts.values()), by_level=by_level, by_state=by_state,
                                     overdue=overdue, overdue_total=late_total))
    if rules:
        report = compliance_report(ctx, actor=actor, limit=0, roles=DIRECTIE_ROLES)
        for f in out:
            f.rules = report.schools.get(f.school) or _rule_counts(None)
    return out


def compliance_report(ctx: ServiceContext, *, actor: str, limit: int = FAILING_LIMIT,
                      roles: tuple[str, ...] = AUDIT_ROLES) -> ComplianceReport:
    """The compliance report of `actor`'s schools: per school and rule how many cases pass,
    fail, are not due yet or n/a, and the failing findings (case, rule, the dated detail: no
    person), at most `limit` of them."""
    user = ctx.user(actor)
    _allowed(user, roles)
    run = ComplianceRun(ctx, actor=actor)
    failing: list[Finding] = []
    total = cases = 0
    for case in run:
        cases += 1
        for r in case["rules"]:
            for det in r["details"]:
                if det["status"] == "fail":
                    total += 1
                    if len(failing) < limit:
                        failing.append(Finding(case["case_id"], case["school"], r["rule"], det["detail"]))
    schools = run.schools if run.schools is not None else list(ctx.config.schools)
    return ComplianceReport(today=run.today, schools={s: _rule_counts(run.summary.get(s)) for s in schools},
                            failing=failing, failing_total=total, unreadable=run.unreadable, cases=cases)


# ---- the Audit page ----------------------------------------------------------------------------
@dataclass
class ChainState:
    """What to note outside the system: the newest daily witness root (None: no root stored
    yet) and the access log's head as it is now."""

    witness: dict[str, Any] | None
    access_records: int
    access_head: str


@dataclass
class ChainCheck:
    """A chain verification just run (audit.verify), as the asking user may see it: the broken
    cases of their own schools by id; those of other schools only counted."""

    ok: bool
    cases: int
    events: int
    seconds: float
    problems: list[Problem]
    other_problems: int
    access_ok: bool
    access_records: int
    access_head: str
    access_problems: int


def chain_state(ctx: ServiceContext, *, actor: str) -> ChainState:
    _allowed(ctx.user(actor), AUDIT_ROLES)
    from workflow.service_layer.witness import record

    with ctx.uow(write=False) as uow:
        root = uow.witness.latest()
        head = uow.access_log.head()
    return ChainState(witness=record.as_record(root) if root is not None else None,
                      access_records=int(head["records"]), access_head=str(head["head_hash"]))


def check_chains(ctx: ServiceContext, *, actor: str) -> ChainCheck:
    """Verify every case's chain and the access log's now (`passend audit verify`: one
    snapshot, reads only, stores nothing)."""
    user = ctx.user(actor)
    _allowed(user, AUDIT_ROLES)
    bind_log(actor=actor, command="verify")
    with ctx.uow(write=False) as uow:
        report = verify(uow)
        schools = {cid: h.school for cid, h in uow.cases.heads_of([p.case_id for p in report.problems]).items()}
    mine = [p for p in report.problems if "*" in user.schools
            or (p.case_id in schools and user.serves(schools[p.case_id]))]
    a = report.access
    return ChainCheck(ok=report.ok, cases=report.cases, events=report.events, seconds=round(report.seconds, 2),
                      problems=mine, other_problems=len(report.problems) - len(mine), access_ok=a.ok,
                      access_records=a.records, access_head=a.head_hash or "",
                      access_problems=sum(1 for p in a.problems if p.record_id) + a.more_problems)


def case_access(ctx: ServiceContext, case_id: str, *, actor: str) -> list[AccessRecord]:
    """Who read or exported `case_id` (the NEN 7513 records, oldest first). A case of a school
    the user does not serve is NotFound, as one that does not exist."""
    user = ctx.user(actor)
    _allowed(user, AUDIT_ROLES)
    with ctx.uow(write=False) as uow:
        row = uow.cases.get(case_id)
    if row is None or not user.serves(row.school):
        raise NotFound(text("svc.context.unknown_case", case=case_id))
    return access_records(ctx, case_id, actor=actor)

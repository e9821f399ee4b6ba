"""The work list: Mijn werk (the daily digest as a live page) and the caseload, answered from the
rows the event store keeps beside the events (workflow.domain.worklist), never by folding every
case of a school per request.

- `my_work`: per school of the user, the deadlines due this week and the overdue ones, the cases
  that wait only for the parents' consent, and the closed cases due for erasure: the digest's
  four lists (reminders.planner's rules: the same clocks, the same "due this week" = 0-6 days
  left, the same acting role for "waiting", erasure.cases_due_for_erasure), each an index range.
- `caseload`: every case of the user's schools, filtered by state, level, group, deadline
  status, "waits for the parents" and an exact pupil reference (through the keyed pupil index:
  the reference itself is stored encrypted), newest first, a keyset page at a time.
- `ensure_built` / `rebuild`: fill the rows of a store that has none yet (after migration 0011)
  or was built for another version or acting role; `passend init` calls it.

Nothing here returns personal data (no pupil reference, name or note), so listing is not
written to the access log; opening a case is (queries.case).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workflow.adapters.logs import get_logger
from workflow.adapters.ports import CaseloadQuery, CaseloadRow, DeadlineLine
from workflow.domain.errors import BadInput
from workflow.domain.worklist import STATUSES, DeadlineRow, worst
from workflow.messages import text
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.erasure import cases_due_for_erasure

if TYPE_CHECKING:
    from workflow.adapters.readmodels import CaseloadItem, CaseloadPage, DeadlineItem, SchoolWork
    from workflow.domain.definition import ProcessDefinition

log = get_logger("passend.worklist")
PAGE = 25
PAGE_MAX = 200
DEADLINE_FILTERS = (*STATUSES, "none", "week")
# The deadline filter as the pages offer it, in this order: (filter, the key of its words).
DEADLINE_CHOICES = ("overdue", "week", "soon", "ok", "none")  # in the filter's order; words: svc.worklist.choice.<id>
_CURSOR = re.compile(r"^(\d{8}T\d{12})_([A-Za-z0-9][A-Za-z0-9._-]{0,39})$")
REBUILD_PAGE = 500


def remind_roles(raw: Any) -> tuple[str, ...]:
    """`[reminders] remind_roles` of a config's raw table, read leniently (the reminder service
    checks `[reminders]` in full when it starts): the roles the digest goes to, and whose next
    steps the work list judges (the IB by default)."""
    section = raw.get("reminders") if isinstance(raw, dict) else None
    roles = section.get("remind_roles", ["ib"]) if isinstance(section, dict) else ["ib"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return ("ib",)
    return tuple(roles)


# ---- building the rows -------------------------------------------------------------------------
def fingerprint(ctx: ServiceContext) -> str | None:
    """What the store's rows are computed for (None: the store keeps no work list)."""
    derive = getattr(ctx.store, "derive", None)
    if derive is None:
        return None
    return str(getattr(derive, "fingerprint", "v1"))


def ensure_built(ctx: ServiceContext, progress: Callable[[int], None] | None = None) -> int | None:
    """Rebuild the rows if they were never built, or built for something else; returns how many
    cases were rebuilt (None: nothing to do)."""
    wanted = fingerprint(ctx)
    if wanted is None:
        return None
    with ctx.uow(write=False) as uow:
        if uow.cases.worklist_built() == wanted:
            return None
    return rebuild(ctx, progress)


def rebuild(ctx: ServiceContext, progress: Callable[[int], None] | None = None) -> int:
    """Drop every row and compute them afresh from the events, a page of open cases per
    transaction (closed cases have none). A command that runs meanwhile keeps its own case's
    rows right: its append writes them after this page's snapshot or waits for its lock."""
    wanted = fingerprint(ctx)
    if wanted is None:
        return 0
    with ctx.uow() as uow:
        uow.cases.rebuild_worklist_begin()
        uow.commit()
    done, last = 0, ""
    while True:
        with ctx.uow() as uow:
            ids = uow.cases.open_ids(after=last, size=REBUILD_PAGE)
            for cid in ids:
                case = uow.store.load(cid)
                if case is not None:
                    uow.store.refresh_worklist(case)
            uow.commit()
        if not ids:
            break
        done += len(ids)
        last = ids[-1]
        if progress is not None:
            progress(done)
    with ctx.uow() as uow:
        uow.cases.mark_worklist_built(wanted, ctx.clock())
        uow.commit()
    (log.info if done else log.debug)("worklist.rebuilt", cases=done)
    return done


# ---- Mijn werk ---------------------------------------------------------------------------------
def _labels(d: ProcessDefinition) -> dict[str, str]:
    return {dd.name: dd.label for dd in d.deadlines}


def deadline_item(line: DeadlineLine | DeadlineRow, case_id: str, school: str, today: dt.date,
                  labels: dict[str, str]) -> DeadlineItem:
    from workflow.adapters.readmodels import DeadlineItem

    row = line if isinstance(line, DeadlineRow) else DeadlineRow(
        line.deadline, line.anchor, line.started_on, line.due_on, line.lead_days, line.paused_left)
    return DeadlineItem(case_id=case_id, school=school, deadline=row.deadline,
                        label=labels.get(row.deadline, row.deadline.replace("_", " ")), due_on=row.due_at(today),
                        days_left=row.days_left(today), status=row.status_on(today),
                        paused=row.paused_left is not None)


def my_work(ctx: ServiceContext, *, actor: str, limit: int = 10, school: str | None = None) -> list[SchoolWork]:
    """The digest's four lists, live, for each school of the actor (or `school` alone)."""
    from workflow.adapters.readmodels import ErasureItem, SchoolWork, WaitingItem

    user = ctx.user(actor)
    bind_log(actor=actor, command="work")
    schools = ctx.schools_for(user, school)
    schools = list(ctx.config.schools) if schools is None else schools
    today = ctx.today()
    d = ctx.definition
    labels = _labels(d)
    out = []
    with ctx.uow(write=False) as uow:
        for s in schools:
            week, week_total = uow.cases.deadline_lines(s, today=today, since=today,
                                                        through=today + dt.timedelta(days=6), limit=limit)
            late, late_total = uow.cases.deadline_lines(s, today=today, since=None,
                                                        through=today - dt.timedelta(days=1), limit=limit)
            waiting, waiting_total = uow.cases.waiting_lines(s, limit=limit)
            out.append(SchoolWork(
                school=s, school_name=ctx.config.schools[s].name,
                due_week=[deadline_item(x, x.case_id, s, today, labels) for x in week], due_week_total=week_total,
                overdue=[deadline_item(x, x.case_id, s, today, labels) for x in late], overdue_total=late_total,
                waiting=[WaitingItem(case_id=x.case_id, school=s, scopes=list(x.scopes),
                                     scope_labels=[d.scope_label(sc) for sc in x.scopes]) for x in waiting],
                waiting_total=waiting_total, erasure=[],
            ))
    for work in out:
        due = cases_due_for_erasure(ctx, today=today, school=work.school)
        work.erasure_total = len(due)
        work.erasure = [ErasureItem(case_id=e["case_id"], school=e["school"],
                                    closed_at=dt.datetime.fromisoformat(e["closed_at"]),
                                    close_reason=e["close_reason"], due=dt.date.fromisoformat(e["due"]),
                                    years=e["years"])
                        for e in due[:limit]]
    return out


# ---- the caseload ------------------------------------------------------------------------------
def cursor_of(row: CaseloadRow | CaseloadItem) -> str:
    at = row.opened_at.astimezone(dt.UTC)
    return f"{at.strftime('%Y%m%dT%H%M%S%f')}_{row.case_id}"


def parse_cursor(cursor: str) -> tuple[dt.datetime, str]:
    wrong = BadInput(text("svc.worklist.bad_cursor"))
    m = _CURSOR.match(cursor or "")
    if m is None:
        raise wrong
    try:  # the shape alone lets through a month 13 or a day 0
        at = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)
    except ValueError:
        raise wrong from None
    return at, m.group(2)


def caseload(
    ctx: ServiceContext, *, actor: str, school: str | None = None, state: str | None = None,
    level: int | None = None, group: int | None = None, deadline: str | None = None, waiting: bool = False,
    closed: bool = False, pupil: str | None = None, after: str | None = None, before: str | None = None,
    size: int = PAGE,
) -> CaseloadPage:
    """One page of the caseload (see the module's docstring). Filters name ids (a state, a
    level number, a group, a deadline status); an unknown one is bad input. `closed`: closed
    cases too. `after`/`before`: the keys of the pages around (CaseloadPage.next/previous)."""
    from workflow.adapters.readmodels import CaseloadItem, CaseloadPage

    user = ctx.user(actor)
    bind_log(actor=actor, command="caseload")
    schools = ctx.schools_for(user, school)
    schools = list(ctx.config.schools) if schools is None else schools
    d = ctx.definition
    states: tuple[str, ...] | None = None
    if state is not None:
        if state not in d.states:
            raise BadInput(text("svc.worklist.unknown_state", state=state))
        states = (state,)
    if level is not None:
        at_level = tuple(s for s, sd in d.states.items() if sd.level == level)
        if not at_level:
            raise BadInput(text("svc.worklist.unknown_level", level=level))
        states = at_level if states is None else tuple(s for s in states if s in at_level)
    if group is not None and not 1 <= group <= 8:
        raise BadInput(text("svc.worklist.group"))
    if deadline is not None and deadline not in DEADLINE_FILTERS:
        raise BadInput(text("svc.worklist.deadline", choices=", ".join(DEADLINE_FILTERS)))
    if after is not None and before is not None:
        raise BadInput(text("svc.worklist.after_and_before"))
    if states is not None and any(d.states[s].final for s in states):
        closed = True  # asking for the closed state means asking for closed cases
    size = max(1, min(size, PAGE_MAX))
    pupil = (pupil or "").strip() or None
    today = ctx.today()
    key_after = parse_cursor(after) if after is not None else None
    key_before = parse_cursor(before) if before is not None else None
    rows: list[CaseloadRow] = []
    with ctx.uow(write=False) as uow:
        for s in schools:
            q = CaseloadQuery(school=s, today=today, states=states, group=group, deadline=deadline,
                              waiting=waiting, open_only=not closed,
                              pupil_index=ctx.keyring.pupil_index(s, pupil) if pupil is not None else None)
            rows.extend(uow.cases.caseload(q, after=key_after, before=key_before, size=size + 1))
        rows.sort(key=lambda r: (r.opened_at, r.case_id), reverse=True)
        more = len(rows) > size
        rows = rows[-size:] if key_before is not None else rows[:size]
        stored = uow.cases.worklists([r.case_id for r in rows])
    labels = _labels(d)
    items = []
    for r in rows:
        w = stored.get(r.case_id)
        lines = [deadline_item(x, r.case_id, r.school, today, labels) for x in (w.deadlines if w else ())]
        lines.sort(key=lambda x: x.due_on)
        sd = d.states.get(r.state)
        items.append(CaseloadItem(
            case_id=r.case_id, school=r.school, group=r.group, state=r.state,
            state_label=sd.label if sd is not None else r.state.replace("_", " "), level=r.level,
            version=r.version, opened_at=r.opened_at, closed_at=r.closed_at,
            deadline_status=worst(x.status for x in lines), deadlines=lines,
            waiting=list(w.waiting) if w else []))
    if key_before is not None:
        nxt = cursor_of(items[-1]) if items else None
        prev = cursor_of(items[0]) if items and more else None
    else:
        nxt = cursor_of(items[-1]) if items and more else None
        prev = cursor_of(items[0]) if items and key_after is not None else None
    return CaseloadPage(items=items, next=nxt, previous=prev)


def describe(ctx: ServiceContext) -> dict[str, Any]:
    """The caseload's filter choices as a person reads them (labels, never ids): for the pages."""
    d = ctx.definition
    levels = sorted({sd.level for sd in d.states.values() if sd.level is not None})
    return {
        "states": [(s, sd.label) for s, sd in d.states.items()],
        "levels": [(lv, text("svc.worklist.choice.level", level=lv)) for lv in levels],
        "groups": [(g, text("svc.worklist.choice.group", group=g)) for g in range(1, 9)],
        "deadlines": [(f, text(f"svc.worklist.choice.{f}")) for f in DEADLINE_CHOICES],
    }

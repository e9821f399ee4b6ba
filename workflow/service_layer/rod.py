"""ROD registration: the OPP dates the school's administration must enter in the Register
Onderwijsdeelnemers (through BRON), and the record that it did.

`rod_list` reads every case's events (the dates are in them: workflow.domain.rod) and lists each
OPP start and end date with its registration, or what is still due and by when (the definition's
`rod_registratie` deadline: four weeks by default). `mark` records one registration as an event
(`rod_registered`), also for a closed case: the end date of an OPP often falls on the closing.
Only dates are listed, never the content of the OPP (that is not registered in ROD either).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from workflow.adapters.logs import get_logger
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, PassendError
from workflow.domain.evidence import parse_date
from workflow.domain.instants import local_date
from workflow.domain.reasons import Reason
from workflow.domain.rod import DEFAULT_TERM_DAYS, WHICH, WHICH_NL, RodDate, next_to_register, rod_dates
from workflow.messages import text
from workflow.service_layer.audit.replay import grouped_events
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.refusals import refused

log = get_logger("passend.rod")
UNREADABLE = (KeyError, ValueError, TypeError, AttributeError, PassendError)


def term_days(d: ProcessDefinition | None) -> int:
    """The registration term: the definition's deadline that starts on ROD dates, else 4 weeks."""
    for dd in d.deadlines if d is not None else ():
        if dd.start == "rod" and dd.due is not None:
            return int(dd.due.days)
    return DEFAULT_TERM_DAYS


def row(case: Case, r: RodDate, term: int, today: dt.date) -> dict[str, Any]:
    due = r.due_from + dt.timedelta(days=term)
    status = "registered" if r.registered_on else ("overdue" if today > due else "open")
    return {"case_id": case.case_id, "school": case.school, "which": r.which, "which_label": WHICH_NL[r.which],
            "opp_date": r.date.isoformat(), "due": due.isoformat(), "status": status,
            "registered_on": r.registered_on.isoformat() if r.registered_on else None,
            "closed": case.closed}


def rod_list(ctx: ServiceContext, *, actor: str, school: str | None = None, unregistered: bool = False,
             today: dt.date | None = None) -> Iterator[dict[str, Any]]:
    """Every OPP date of the cases the actor may see (or one school's), case by case, streamed.
    Access is checked before anything is read."""
    schools = ctx.schools_for(ctx.user(actor), school)
    day = today or ctx.today()

    def rows() -> Iterator[dict[str, Any]]:
        with ctx.uow(write=False) as uow:
            for _cid, evs in grouped_events(uow, schools):
                try:
                    case = Case.from_events(evs)
                    dates = rod_dates(case)
                except UNREADABLE:
                    continue  # `audit verify` names it; a list of dates cannot
                if not dates:
                    continue
                try:
                    d: ProcessDefinition | None = ctx.definition_of(case)
                except PassendError:
                    d = None
                term = term_days(d)
                for r in dates:
                    if unregistered and r.registered_on is not None:
                        continue
                    yield row(case, r, term, day)

    return rows()


def mark(ctx: ServiceContext, case_id: str, *, actor: str, which: str, registered_on: Any,
         opp_date: Any = None, expected_version: int | None = None) -> dict[str, Any]:
    """Record that the OPP's start or end date was registered in ROD on `registered_on` (the
    earliest such date still open, or the one given)."""
    if which not in WHICH:
        raise BadInput(text("svc.rod.start_or_end"))
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="rod.mark")
    now = ctx.clock()
    on = parse_date(registered_on, "--registered-on")
    wanted = parse_date(opp_date, "--opp-date") if opp_date is not None else None
    with ctx.uow() as uow:
        case = ctx.load(uow, case_id, user)
        d = ctx.definition_of(case)
        writers = {r for t in d.transitions if t.adopts_opp for r in t.roles} or set(d.open_roles)
        if user.role not in writers:  # who adopts the OPP keeps its registration (the IB)
            raise refused(text("svc.refused"), [Reason("role_may_not_record", {"role": user.role, "kind": "rod"})], d)
        if case.erased:
            raise refused(text("svc.refused"), [Reason("case_closed")], d)
        ctx.expect(case, expected_version)
        r = next_to_register(case, which, wanted)
        if r is None:
            label = text(f"svc.rod.which.{which}")
            raise BadInput(text("svc.rod.nothing_to_register.on", case=case_id, which=label, date=wanted.isoformat())
                           if wanted else text("svc.rod.nothing_to_register", case=case_id, which=label))
        if on > local_date(now):
            raise BadInput(text("svc.rod.in_future", date=on.isoformat()))
        if on < r.date:
            raise BadInput(text("svc.rod.before_date", date=on.isoformat(), which=text(f"svc.rod.which.{which}"),
                                opp_date=r.date.isoformat()))
        payload = {"which": which, "opp_date": r.date.isoformat(), "registered_on": on.isoformat()}
        ev = case.next_event(type="rod_registered", payload=payload, actor=actor, role=user.role,
                             recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    log.info("rod.registered", seq=ev.seq, which=which)
    return {"case_id": case_id, "seq": ev.seq, "which": which, "opp_date": r.date.isoformat(),
            "registered_on": on.isoformat(), "version": case.version}

"""Case queries: one case in full (its view), and the cases an actor may see.

Reading a case's personal data is logged in the access log (NEN 7513: who, when, which case,
why); listing cases shows none and is not. The list streams from one read transaction, a page
at a time from the index on (school, opened_at, case_id), so a listing of a whole region is never
held whole: as `CaseSummary` read models (workflow.adapters.readmodels), or, for `case list`, as
plain rows (`iter_case_rows`), which spares a pydantic model per case and importing sqlmodel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from workflow.adapters.crypto import CaseCipher
from workflow.domain import case as domain
from workflow.domain import deadlines
from workflow.domain.case import Case, Decision
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput
from workflow.messages import text
from workflow.service_layer.access import access_ready, record_access
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.refusals import decision_dict

if TYPE_CHECKING:
    from workflow.adapters.ports import CaseListRow
    from workflow.adapters.readmodels import CaseSummary, UserSummary


def case(
    ctx: ServiceContext, case_id: str, *, actor: str, purpose: str | None = None,
    on_behalf_of: str | None = None, source: str = "passend", timeline: bool = False,
    parents: bool = False,
) -> dict[str, Any]:
    """Everything about one case: state, evidence (decrypted), and every possible trigger;
    with `timeline`, also the case's chronology (audit.timeline's entries, from the same read);
    with `parents`, the parents on the case (`parents.Parent`, opened), read in the same unit
    of work (the case page shows them to whoever may manage them).

    The read is kept in the access log (NEN 7513: who, when, which case, why; `source`: "web"
    for the web app's case page).
    """
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="case.show")
    access_ready(ctx)  # a read-only copy without --access-log: refused before anything is read
    with ctx.uow(write=False) as uow:
        found = ctx.load(uow, case_id, user)
        cipher = ctx.cipher(uow, case_id)
        roster = None
        if parents:  # imported here: `case show` (a new process each time) never needs it
            from workflow.service_layer.parents import opened

            roster = [opened(cipher, r) for r in uow.parents.of_case(case_id)]
    record_access(ctx, actor=actor, action="case.show", cases=[(case_id, found.school)],
                  purpose=purpose, on_behalf_of=on_behalf_of, source=source, user=user)
    d = ctx.definition_of(found)
    view = case_view(found, d, cipher, domain.options(found, d, user.role))
    today = ctx.today()
    view["deadlines"] = [r.as_dict(today) for r in deadlines.running(found, d, today, ctx.calendar(found.school))]
    if roster is not None:
        from workflow.service_layer import consent_requests

        view["parents"] = roster
        view["consent_requests"] = consent_requests.listed(found, d)
    if timeline:
        from workflow.service_layer.audit.timeline import build

        view["timeline"] = build(ctx, list(found.events), cipher)["entries"]
    return view


def iter_cases(
    ctx: ServiceContext, *, actor: str, school: str | None = None, state: str | None = None,
) -> Iterator[CaseSummary]:
    """The cases the actor may see, one at a time, without personal data.

    Who may see which school, and whether the state exists, is checked here, before the
    first case is read; the cases then stream from one read transaction.
    """
    user = ctx.user(actor)
    bind_log(actor=actor, command="case.list")
    schools = ctx.schools_for(user, school)
    if state is not None and state not in ctx.definition.states:
        raise BadInput(text("svc.queries.unknown_state", state=state, states=", ".join(ctx.definition.states)))
    return _listed(ctx, schools, state)


def iter_case_rows(
    ctx: ServiceContext, *, actor: str, school: str | None = None, state: str | None = None,
) -> Iterator[CaseListRow]:
    """`iter_cases` as plain rows (ports.CaseListRow; `as_dict()` is CaseSummary's), read a
    page at a time from the list's index in one read transaction: what `case list` prints.
    Checked as `iter_cases` is, before the first case is read."""
    user = ctx.user(actor)
    bind_log(actor=actor, command="case.list")
    schools = ctx.schools_for(user, school)
    if state is not None and state not in ctx.definition.states:
        raise BadInput(text("svc.queries.unknown_state", state=state, states=", ".join(ctx.definition.states)))
    return _rows(ctx, schools, state)


LIST_PAGE = 1000


def _rows(ctx: ServiceContext, schools: list[str] | None, state: str | None) -> Iterator[CaseListRow]:
    with ctx.uow(write=False) as uow:
        after: Any = None
        while True:
            rows, after = uow.cases.case_page(schools=schools, state=state, after=after, size=LIST_PAGE)
            yield from rows
            if after is None:
                return


def _listed(ctx: ServiceContext, schools: list[str] | None, state: str | None) -> Iterator[CaseSummary]:
    with ctx.uow(write=False) as uow:
        yield from uow.cases.summaries(schools=schools, state=state)


def users(ctx: ServiceContext, *, actor: str) -> list[UserSummary]:
    """The active users who serve a school the actor serves (everyone, for an actor of every
    school), by id: who a case can be handed to, whom a reminder goes to (the store's users, as
    the planner reads them)."""
    from workflow.adapters.readmodels import UserSummary

    me = ctx.user(actor)
    return [UserSummary.of(r.as_user()) for r in ctx.users.all()
            if r.active and ("*" in me.schools or "*" in r.schools or set(r.schools) & set(me.schools))]


def case_view(case: Case, d: ProcessDefinition, cipher: CaseCipher,
              options: list[Decision]) -> dict[str, Any]:
    opened = case.events[0].payload
    items = []
    for ev in case.events:
        if ev.type != "evidence_recorded":
            continue
        p = ev.payload
        fields = {**p["fields"], **cipher.open_all(p["secret"])}
        items.append({
            "seq": ev.seq, "kind": p["kind"], "date": p["date"], "level": p["level"],
            "state": p["state"], "actor": ev.actor, "role": ev.role, "recorded_at": ev.recorded_at.isoformat(),
            "fields": fields, "kind_label": _kind_label(d, p["kind"]),
            "shown": shown_fields(d, p["kind"], fields),
        })
    history = [
        {"seq": ev.seq, "trigger": ev.payload["trigger"], "source": ev.payload["source"],
         "dest": ev.payload["dest"], "actor": ev.actor, "at": ev.recorded_at.isoformat(),
         "params": ev.payload.get("params", {}),
         "trigger_label": d.triggers[ev.payload["trigger"]].label if ev.payload["trigger"] in d.triggers
         else ev.payload["trigger"]}
        for ev in case.events if ev.type == "transitioned"
    ]
    return {
        "case_id": case.case_id,
        "school": case.school,
        "pupil": cipher.open("pupil", opened["pupil"]),
        "name": cipher.open("name", opened["name"]) if "name" in opened else None,
        "group": case.group,
        "state": case.state,
        "state_label": d.states[case.state].label,
        "close_reason_label": _close_label(d, case.close_reason),
        "level": case.level,
        "version": case.version,
        "process": f"{case.process_id}@{case.process_version}",
        "opened_at": case.opened_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "close_reason": case.close_reason,
        "opp_active": case.opp_active,
        "erased": cipher.erased,
        "head_hash": case.head_hash,
        "evidence": items,
        "history": history,
        "options": [decision_dict(o, d) for o in options],
    }


def _kind_label(d: ProcessDefinition, kind: str) -> str:
    spec = d.evidence_kinds.get(kind)
    return spec.label if spec is not None else kind.replace("_", " ")


def _close_label(d: ProcessDefinition, reason: str | None) -> str | None:
    """A close reason as a person reads it: the label of the trigger parameter's choice."""
    if reason is None:
        return None
    for t in d.triggers.values():
        for p in t.params.values():
            if p.choices and reason in p.choices:
                return p.choice_label(reason)
    return d.triggers[reason].label if reason in d.triggers else reason.replace("_", " ")


def shown_fields(d: ProcessDefinition, kind: str, fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """A record's fields as a person reads them: each field's label and its value's label."""
    spec = d.evidence_kinds.get(kind)
    order = [f.name for f in (*spec.fields, *spec.derived)] if spec is not None else []
    out: list[dict[str, str]] = []
    for name, value in sorted(fields.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
        f = spec.field(name) if spec is not None else None
        if f is None:
            out.append({"label": name.replace("_", " "), "value": str(value)})
            continue
        if isinstance(value, bool):
            shown = text("svc.queries.yes" if value else "svc.queries.no")
        elif f.choices_from == "consent_scopes":
            shown = d.scope_label(str(value))
        elif f.type == "choice":
            shown = f.choice_label(value)
        else:
            shown = str(value)
        out.append({"label": f.title, "value": shown})
    return out

"""Case commands: open a case, record evidence, check a step, fire a step.

Each is one unit of work. It checks the actor's role and school first, then the evidence, then
writes the events and the projection in a single transaction; a failure anywhere leaves the store
as it was. `check` writes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import Any

from workflow.adapters.config import User
from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.domain import case as domain
from workflow.domain import deadlines, evidence
from workflow.domain.case import Case, Decision
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, NotFound
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.domain.guards import latest_consent
from workflow.domain.instants import local_date
from workflow.domain.machine import perform
from workflow.domain.reasons import Reason
from workflow.messages import text
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.refusals import decision_dict, refused

log = get_logger("passend.engine")
PUPIL_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def new_case_id() -> str:
    return "C-" + base64.b32encode(os.urandom(5)).decode("ascii")[:8]


def open_case(
    ctx: ServiceContext, *, pupil: str, school: str, actor: str, name: str | None = None,
    group: int | None = None,
) -> dict[str, Any]:
    user = ctx.user(actor)
    bind_log(actor=actor, command="case.open")
    if school not in ctx.config.schools:
        raise NotFound(text("svc.cases.unknown_school", school=school, config=ctx.config.path.name))
    pupil = (pupil or "").strip()
    if not PUPIL_REF.match(pupil):
        raise BadInput(text("svc.cases.pupil"), fields={"pupil": text("svc.cases.pupil.field")})
    # A bool or a float passes `1 <= group <= 8` but would enter the chain as true or 5.0,
    # which the export's specification (docs/event-chain.md) does not allow.
    if group is not None and (type(group) is not int or not 1 <= group <= 8):
        raise BadInput(text("svc.cases.group"), fields={"group": text("svc.cases.group.field")})
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise BadInput(text("svc.cases.name"), fields={"name": text("svc.cases.name.field")})
    ctx.school_access(user, school)
    d = ctx.definition
    if user.role not in d.open_roles:
        raise refused(text("svc.refused"), [Reason("role_may_not_open", {
            "role": user.role, "roles": sorted(d.open_roles)})], d)
    index = ctx.keyring.pupil_index(school, pupil)
    now = ctx.clock()
    with ctx.uow() as uow:
        existing = uow.cases.find_open(index)
        if existing is not None:
            raise refused(text("svc.refused"), [Reason("case_already_open", {"case_id": existing})], d)
        case_id = new_case_id()
        key, wrapped = ctx.keyring.new_case_key(case_id)
        uow.store.put_key(case_id, wrapped, now)
        cipher = CaseCipher(case_id, key)
        payload: dict[str, Any] = {
            "school": school,
            "pupil": cipher.seal("pupil", pupil),
            "state": d.initial,
            "level": d.level_of(d.initial),
        }
        if name:
            payload["name"] = cipher.seal("name", name)
        if group is not None:
            payload["group"] = group
        ev = make_event(
            case_id=case_id, seq=1, type="case_opened", process_id=d.id,
            process_version=d.version, actor=actor, role=user.role, recorded_at=now,
            payload=payload, prev_hash=GENESIS_HASH,
        )
        case = Case.from_events([ev])
        uow.store.append(case, [ev], expected_version=0, pupil_index=index, now=now)
        uow.commit()
    log.info("case.opened", case_id=case_id, school=school, state=case.state)
    return {"case_id": case_id, "state": case.state, "level": case.level, "version": case.version}


def record(
    ctx: ServiceContext, kind: str, case_id: str, /, *, actor: str, expected_version: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Record one piece of evidence; returns its event number and the case's new version."""
    bind_log(actor=actor, case_id=case_id, command="record")
    known = ctx.definition.evidence_kinds

    def known_kind(_user: User) -> None:  # judged after the user, before the case is read
        if kind not in known:
            raise BadInput(text("svc.cases.unknown_kind", kind=kind, choices=", ".join(known)))

    now = ctx.clock()
    with ctx.uow() as uow:
        user, case = ctx.acting_and_case(uow, actor, case_id, known_kind)
        d = ctx.definition_of(case)
        if kind not in d.evidence_kinds:  # a kind newer than the case's process version
            raise BadInput(text("svc.cases.kind_not_in_version", kind=kind, choices=", ".join(d.evidence_kinds)))
        if user.role not in d.evidence_roles.get(kind, frozenset()):
            raise refused(text("svc.refused"), [Reason("role_may_not_record", {"role": user.role, "kind": kind})], d)
        if case.closed:
            raise refused(text("svc.refused"), [Reason("case_closed")], d)
        ctx.expect(case, expected_version)
        if kind == "evaluation" and fields.get("subject") == "opp" and d.opp is not None \
                and case.facts.opp_versions:
            raise BadInput(text("svc.cases.evaluate_per_goal"))
        valid = evidence.validate(
            kind, {k: v for k, v in fields.items() if v is not None},
            today=local_date(now), consent_scopes=d.consent_scopes, plans=case.plans,
            opp_active=case.opp_active, sharing_scopes=d.sharing_scopes, kinds=d.evidence_kinds,
            level_plans=case.level_plans, opp_scope=d.opp.consent_scope if d.opp else None,
            opp_versions=case.opp_refs,
        )
        if kind == "consent":
            check_consent_order(case, valid, d)
        cipher = ctx.cipher(uow, case_id)
        payload = {
            "kind": kind,
            "date": valid.date.isoformat(),
            "level": case.level,
            "state": case.state,
            "fields": {k: v.isoformat() if isinstance(v, dt.date) else v
                       for k, v in valid.plain.items()},
            "secret": cipher.seal_all(valid.secret),
        }
        ev = case.next_event(type="evidence_recorded", payload=payload, actor=actor,
                             role=user.role, recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    log.info("evidence.recorded", kind=kind, seq=ev.seq)
    return {"case_id": case_id, "seq": ev.seq, "kind": kind, "version": case.version}


def check(
    ctx: ServiceContext, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
) -> Decision:
    """Decide `trigger` without storing anything (a dry run)."""
    with ctx.uow(write=False) as uow:
        user, case = ctx.acting_and_case(uow, actor, case_id)
        return domain.decide(case, ctx.definition_of(case), trigger, dict(params or {}), user.role)


def fire(
    ctx: ServiceContext, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
    dry_run: bool = False, expected_version: int | None = None,
) -> dict[str, Any]:
    """Move the case along `trigger`, or raise Refused listing every reason it may not."""
    bind_log(actor=actor, case_id=case_id, command="fire")
    params = {k: v for k, v in (params or {}).items() if v is not None}
    now = ctx.clock()
    with ctx.uow(write=not dry_run) as uow:
        user, case = ctx.acting_and_case(uow, actor, case_id)
        ctx.expect(case, expected_version)
        d = ctx.definition_of(case)
        decision = domain.decide(case, d, trigger, params, user.role)
        if not decision.allowed:
            log.info("transition.refused", trigger=trigger, source=case.state,
                     reasons=len(decision.reasons), codes=sorted({r.code for r in decision.reasons}))
            raise refused(text("svc.cases.trigger_refused", trigger=d.triggers[trigger].label, case=case_id),
                          decision.reasons, d)
        result = {"case_id": case_id, "dry_run": dry_run, **decision_dict(decision, d)}
        if dry_run:
            return result
        move = perform(case, d, decision, user.role)  # the shared machine runs the step
        assert move.payload is not None
        result["deadlines"] = move.clocks
        ev = case.next_event(type="transitioned", payload=move.payload,
                             actor=actor, role=user.role, recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    log.info("transition.fired", trigger=trigger, source=decision.source, dest=decision.dest,
             seq=ev.seq)
    return {**result, "seq": ev.seq, "version": case.version, "state": case.state,
            "level": case.level}


def preview(
    ctx: ServiceContext, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """What firing `trigger` would do ("dit gebeurt er"), storing nothing: the decision (refused:
    Refused with every reason), where the case goes, the deadline clocks the move starts, stops,
    pauses or resumes (`deadlines`), and the payload of the event it would record (`payload`).

    Unlike a dry run of `fire`, the shared machine performs the move here, on the case as read
    (the model it moves is its own, nothing is written): the preview is exactly what confirming
    it does while the case stays at `version`, which the confirmation must then carry. The clocks
    are those running before the move and after it (its event folded into a copy of the case):
    names of deadlines started and stopped; states whose entry pauses them or whose exit resumes."""
    bind_log(actor=actor, case_id=case_id, command="preview")
    params = {k: v for k, v in (params or {}).items() if v is not None}
    with ctx.uow(write=False) as uow:
        user, case = ctx.acting_and_case(uow, actor, case_id)
        ctx.expect(case, expected_version)
        d = ctx.definition_of(case)
        decision = domain.decide(case, d, trigger, params, user.role)
        if not decision.allowed:
            raise refused(text("svc.cases.trigger_refused", trigger=d.triggers[trigger].label, case=case_id),
                          decision.reasons, d)
        move = perform(case, d, decision, user.role)
        assert move.payload is not None
        # Which clocks run before and after: the move's event folded into a copy of the case
        # (closing stops every clock, an adoption starts one, ...), never stored.
        today = local_date(ctx.clock())
        ev = case.next_event(type="transitioned", payload=move.payload, actor=actor, role=user.role,
                             recorded_at=ctx.clock(), process=d)
        after = Case.from_events([*case.events, ev])
        was = {(r.name, r.anchor) for r in deadlines.running(case, d, today)}
        will = {(r.name, r.anchor) for r in deadlines.running(after, d, today)}
        clocks = {"started": [n for n, a in sorted(will - was)], "stopped": [n for n, a in sorted(was - will)],
                  "paused": move.clocks["paused"], "resumed": move.clocks["resumed"]}
    return {"case_id": case_id, "version": case.version, "process": f"{d.id}@{d.version}",
            **decision_dict(decision, d), "deadlines": clocks, "payload": move.payload}


def check_consent_order(case: Case, valid: evidence.ValidEvidence, d: ProcessDefinition) -> None:
    """A revocation needs a grant in force, and no decision may predate the one in force."""
    scope = valid.plain["scope"]
    latest = latest_consent(case.facts, scope)
    if valid.plain["status"] == "revoked" and (latest is None or latest.fields["status"] != "granted"):
        raise BadInput(text("svc.cases.consent_nothing_to_revoke", scope=d.scope_label(scope)),
                       fields={"status": text("svc.cases.consent_nothing_to_revoke.field", scope=d.scope_label(scope))})
    if latest is not None and valid.date < latest.date:
        values = {"date": valid.date.isoformat(), "scope": d.scope_label(scope), "latest": latest.date.isoformat()}
        raise BadInput(text("svc.cases.consent_before_latest", **values),
                       fields={"date": text("svc.cases.consent_before_latest.field", **values)})

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

from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.domain import case as domain
from workflow.domain import evidence
from workflow.domain.case import Case, Decision
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.domain.guards import latest_consent
from workflow.domain.instants import local_date
from workflow.domain.machine import shared_machine
from workflow.service_layer.context import ServiceContext, bind_log

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
        raise NotFound(f"onbekende school '{school}' (zie schools in {ctx.config.path.name})")
    pupil = (pupil or "").strip()
    if not PUPIL_REF.match(pupil):
        raise BadInput("--pupil: een leerlingreferentie van 1-64 tekens (letters, cijfers, . _ / -)")
    if group is not None and not 1 <= group <= 8:
        raise BadInput("--group: een groep van 1 tot en met 8")
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise BadInput("--name: een naam van 1-200 tekens")
    ctx.school_access(user, school)
    d = ctx.definition
    if user.role not in d.open_roles:
        raise Refused("geweigerd", reasons=[
            f"rol '{user.role}' mag geen casus openen (wel: {', '.join(sorted(d.open_roles))})"])
    index = ctx.keyring.pupil_index(school, pupil)
    now = ctx.clock()
    with ctx.uow() as uow:
        existing = uow.cases.find_open(index)
        if existing is not None:
            raise Refused("geweigerd", reasons=[
                f"deze leerling heeft al een open casus: {existing}"])
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
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="record")
    if kind not in evidence.EVIDENCE_KINDS:
        raise BadInput(f"onbekende soort bewijs '{kind}' (kies uit: {', '.join(evidence.EVIDENCE_KINDS)})")
    now = ctx.clock()
    with ctx.uow() as uow:
        case = ctx.load(uow, case_id, user)
        d = ctx.definition_of(case)
        if user.role not in d.evidence_roles.get(kind, frozenset()):
            raise Refused("geweigerd", reasons=[
                f"rol '{user.role}' mag geen '{kind}' vastleggen"])
        if case.closed:
            raise Refused("geweigerd", reasons=["de casus is afgesloten"])
        ctx.expect(case, expected_version)
        valid = evidence.validate(
            kind, {k: v for k, v in fields.items() if v is not None},
            today=local_date(now), consent_scopes=d.consent_scopes, plans=case.plans,
            opp_active=case.opp_active, sharing_scopes=d.sharing_scopes,
        )
        if kind == "consent":
            _check_consent_order(case, valid)
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
    user = ctx.user(actor)
    with ctx.uow(write=False) as uow:
        case = ctx.load(uow, case_id, user)
        return domain.decide(case, ctx.definition_of(case), trigger, dict(params or {}), user.role)


def fire(
    ctx: ServiceContext, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
    dry_run: bool = False, expected_version: int | None = None,
) -> dict[str, Any]:
    """Move the case along `trigger`, or raise Refused listing every reason it may not."""
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="fire")
    params = {k: v for k, v in (params or {}).items() if v is not None}
    now = ctx.clock()
    with ctx.uow(write=not dry_run) as uow:
        case = ctx.load(uow, case_id, user)
        ctx.expect(case, expected_version)
        d = ctx.definition_of(case)
        decision = domain.decide(case, d, trigger, params, user.role)
        if not decision.allowed:
            log.info("transition.refused", trigger=trigger, source=case.state,
                     reasons=len(decision.reasons))
            raise Refused(f"'{trigger}' geweigerd voor casus {case_id}",
                          reasons=list(decision.reasons))
        result = {"case_id": case_id, "dry_run": dry_run, **decision.as_dict()}
        if dry_run:
            return result
        assert decision.transition is not None
        arrived = shared_machine(d).advance(case.state, decision.transition)
        if arrived != decision.dest:
            raise RuntimeError(f"state graph moved to {arrived}, expected {decision.dest}")
        ev = case.next_event(type="transitioned", payload=domain.transition_payload(decision, d),
                             actor=actor, role=user.role, recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    log.info("transition.fired", trigger=trigger, source=decision.source, dest=decision.dest,
             seq=ev.seq)
    return {**result, "seq": ev.seq, "version": case.version, "state": case.state,
            "level": case.level}


def _check_consent_order(case: Case, valid: evidence.ValidEvidence) -> None:
    """A revocation needs a grant in force, and no decision may predate the one in force."""
    scope = valid.plain["scope"]
    latest = latest_consent(case.facts, scope)
    if valid.plain["status"] == "revoked" and (latest is None or latest.fields["status"] != "granted"):
        raise BadInput(f"consent: er is geen verleende toestemming voor '{scope}' om in te trekken")
    if latest is not None and valid.date < latest.date:
        raise BadInput(f"consent: datum {valid.date.isoformat()} ligt voor het laatste besluit over "
                       f"'{scope}' ({latest.date.isoformat()})")

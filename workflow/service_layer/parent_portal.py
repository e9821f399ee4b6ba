"""What a signed-in parent sees of their child's case, and what they record there.

Every command takes the parent's session (workflow.service_layer.parents.ParentSessions), never
a case id from the request alone: the session names the one case the parent is on, and a case
id that is not that one is NotFound, whatever it is. Every page a parent views writes an access
record (actor `ouder:<parent id>`, role `ouder`, source "web").

A decision on the consent for the OPP's handelingsdeel is an `evidence_recorded` event of kind
`consent`, as the IB records it, so it counts in the guards exactly as one: scope, status, the
OPP version and both its hashes (the version's and the handelingsdeel's SHA-256), plus `channel`
"online", the parent as actor (`ouder:<parent id>`: their row holds name and address sealed)
and their name sealed in `by` with the case's key. The form carries the
hash of the version the parent was shown; the server takes the decision only when that is the
hash of the newest version now, so a stale page or a forged hash decides nothing.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import TYPE_CHECKING, Any

from workflow import messages
from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.domain import evidence
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, NotFound, PassendError
from workflow.domain.evidence import PARENT_ROLE
from workflow.domain.guards import latest_consent
from workflow.domain.instants import local_date
from workflow.domain.reasons import Reason
from workflow.service_layer import consent_requests, opp
from workflow.service_layer.access import write_access
from workflow.service_layer.cases import check_consent_order
from workflow.service_layer.context import CASE_ID, ServiceContext, bind_log
from workflow.service_layer.parents import Parent, ParentSession, parent_of
from workflow.service_layer.refusals import refused

if TYPE_CHECKING:
    from notifiers import Message

log = get_logger("passend.parents")
# A parent's decision (its words: svc.parent_portal.status.<status>) and whose view a parent
# gives (the parent page has its own words for them, web.parent.*).
STATUS = frozenset({"granted", "refused", "revoked"})
VIEW_PARTIES = frozenset({"ouders", "leerling"})


def status_label(status: str | None) -> str:
    """A consent decision as the parent reads it ("toestemming gegeven"), or "nog geen besluit"."""
    return messages.text(f"svc.parent_portal.status.{status if status in STATUS else 'none'}")


def _load(ctx: ServiceContext, uow: Any, session: ParentSession, case_id: str) -> tuple[Case, Parent]:
    """The session's case, only when `case_id` is it (else NotFound, like a case that is not there)."""
    if not isinstance(case_id, str) or not CASE_ID.match(case_id) or case_id != session.case_id:
        raise NotFound(messages.text("svc.parent_portal.no_page"))
    parent = parent_of(ctx, uow, session)
    case = uow.store.load(case_id)
    if case is None or case.school != session.school or parent.case_id != case_id:
        raise NotFound(messages.text("svc.parent_portal.no_page"))
    return case, parent


def _access(ctx: ServiceContext, parent: Parent, action: str) -> None:
    write_access(ctx, actor=parent.actor, role=PARENT_ROLE, action=action, cases=[(parent.case_id, parent.school)],
                 purpose="inzage door ouder", source="web")


def _newest(case: Case) -> int | None:
    versions = opp.version_events(case)
    return max(versions) if versions else None


def request_of(case: Case, d: ProcessDefinition) -> dict[str, Any] | None:
    """The consent asked of the parents on the newest OPP version's handelingsdeel: its version,
    hashes, the latest decision and whether that decision covers this very handelingsdeel."""
    if d.opp is None or d.opp.consent_scope is None:
        return None
    number = _newest(case)
    if number is None:
        return None
    p = opp.version_events(case)[number].payload
    latest = latest_consent(case.facts, d.opp.consent_scope)
    status = None if latest is None else str(latest.fields.get("status"))
    covers = status == "granted" and latest is not None \
        and latest.fields.get("handelingsdeel_hash") == p["handelingsdeel_hash"]
    return {"scope": d.opp.consent_scope, "scope_label": d.scope_label(d.opp.consent_scope), "opp_version": number,
            "hash": p["hash"], "handelingsdeel_hash": p["handelingsdeel_hash"], "status": status,
            "status_label": status_label(status), "covers": covers,
            "decided_on": None if latest is None else latest.date, "open": not covers}


def overview(ctx: ServiceContext, session: ParentSession, case_id: str) -> dict[str, Any]:
    """The parent's page: the child, the OPP in force and a draft waiting, the consent asked,
    the views recorded, the timeline. The read is logged."""
    with ctx.uow(write=False) as uow:
        case, parent = _load(ctx, uow, session, case_id)
        cipher = ctx.cipher(uow, case_id)
    d = ctx.definition_of(case)
    _access(ctx, parent, "parent.case")
    first = case.events[0].payload
    in_force = opp.adopted_version(case) if d.opp is not None else None
    newest = _newest(case) if d.opp is not None else None
    return {
        "case_id": case_id, "parent": parent,
        "child": cipher.open("name", first["name"]) if "name" in first else None,
        "school_name": ctx.config.schools[case.school].name if case.school in ctx.config.schools else case.school,
        "state_label": d.states[case.state].label if case.state in d.states else case.state,
        "closed": case.closed, "version": case.version,
        "in_force": opp.document(ctx, case, cipher, in_force) if in_force is not None else None,
        "draft": opp.document(ctx, case, cipher, newest) if newest is not None and newest != in_force else None,
        "request": request_of(case, d),
        "requests": [r for r in consent_requests.listed(case, d, cipher) if r["answerable"]],
        "timeline": timeline(case, d, cipher),
    }


def opp_page(ctx: ServiceContext, session: ParentSession, case_id: str, version: int) -> dict[str, Any]:
    """One OPP version for printing (opp_print's page); logged as the parent's read."""
    with ctx.uow(write=False) as uow:
        case, parent = _load(ctx, uow, session, case_id)
        cipher = ctx.cipher(uow, case_id)
    if ctx.definition_of(case).opp is None or version not in opp.version_events(case):
        raise NotFound(messages.text("svc.parent_portal.no_page"))
    _access(ctx, parent, "parent.opp")
    return opp.document(ctx, case, cipher, version)


def timeline(case: Case, d: ProcessDefinition, cipher: CaseCipher) -> list[dict[str, Any]]:
    """What happened in the case, newest first, in words: every step, every record with its
    fields (the texts opened), every OPP version. Parents may see the whole record (AVG art. 15).
    The sentences come from the catalog and hold labels and numbers only; the opened texts stay
    in `details`, beside them, as before."""
    text = messages.text
    out: list[dict[str, Any]] = []
    for ev in case.events:
        p = ev.payload
        details: list[tuple[str, str]] = []
        if ev.type == "case_opened":
            what = text("svc.parent_portal.timeline.opened")
        elif ev.type == "evidence_recorded":
            kind = d.evidence_kinds.get(str(p.get("kind")))
            label = (kind.label if kind else str(p.get("kind"))).capitalize()
            what = text("svc.parent_portal.timeline.recorded_by_parent" if ev.role == PARENT_ROLE
                        else "svc.parent_portal.timeline.recorded", what=label)
            if kind is not None:
                details = _fields(kind, p, cipher, d)
        elif ev.type == "transitioned":
            trig = d.triggers.get(str(p.get("trigger")))
            dest = d.states.get(str(p.get("dest")))
            step = trig.label if trig else str(p.get("trigger"))
            what = text("svc.parent_portal.timeline.step_to", step=step, state=dest.label) if dest \
                else text("svc.parent_portal.timeline.step", step=step)
        elif ev.type == "opp_drafted":
            what = text("svc.parent_portal.timeline.opp_drafted", version=p.get("version"))
        elif ev.type == "opp_evaluated":
            what = text("svc.parent_portal.timeline.opp_evaluated", version=p.get("version"), outcome=p.get("outcome"))
        elif ev.type == "migrated":
            what = text("svc.parent_portal.timeline.migrated")
        elif ev.type == "consent_requested":
            what = text("svc.parent_portal.timeline.consent_requested", scope=d.scope_label(str(p.get("scope"))))
        else:
            continue
        out.append({"date": local_date(ev.recorded_at), "what": what, "details": details})
    out.reverse()
    return out


def _fields(kind: evidence.EvidenceKind, p: dict[str, Any], cipher: CaseCipher,
            d: ProcessDefinition) -> list[tuple[str, str]]:
    plain, secret = p.get("fields") or {}, p.get("secret") or {}
    details = []
    for spec in kind.fields:
        if spec.name == "date":
            continue
        if spec.name in secret:
            value = cipher.open(spec.name, secret[spec.name])
        elif spec.name in plain:
            raw = plain[spec.name]
            if spec.choices_from == "consent_scopes":
                value = d.scope_label(str(raw))
            elif spec.type == "bool":
                value = spec.yes if raw else spec.no
            else:
                value = spec.choice_label(raw) if spec.choices else str(raw)
        else:
            continue
        details.append((spec.title, value))
    return details


def decide(ctx: ServiceContext, session: ParentSession, case_id: str, *, status: str,
           shown_hash: str) -> dict[str, Any]:
    """The parent's decision on the handelingsdeel of the newest OPP version, bound to the hash
    the page showed: stale or forged hashes are refused (BadInput) and nothing is stored."""
    bind_log(actor=f"{PARENT_ROLE}:{session.parent_id}", case_id=case_id, command="parent.decide")
    if status not in STATUS:
        raise BadInput(messages.text("svc.parent_portal.choose_decision"))
    now = ctx.clock()
    with ctx.uow() as uow:
        case, parent = _load(ctx, uow, session, case_id)
        d = ctx.definition_of(case)
        request = request_of(case, d)
        if case.closed:
            raise refused(messages.text("svc.refused"), [Reason("case_closed")], d)
        if request is None:
            raise BadInput(messages.text("svc.parent_portal.no_plan"))
        if not isinstance(shown_hash, str) or not hmac.compare_digest(shown_hash.encode(), request["hash"].encode()):
            raise BadInput(messages.text("svc.parent_portal.plan_changed"))
        valid = _consent(case, d, now, {"scope": request["scope"], "status": status, "by": parent.name,
                                         "opp_version": request["opp_version"]})
        ev = _append(ctx, uow, case, parent, valid, now)
    log.info("parent.decided", seq=ev, status=status)
    return {"case_id": case_id, "seq": ev, "status": status, "opp_version": request["opp_version"],
            "hash": request["hash"], "added_by": parent_added_by(ctx, session)}


def answer(ctx: ServiceContext, session: ParentSession, case_id: str, *, request: Any, status: str,
           shown_hash: str) -> dict[str, Any]:
    """The parent's answer to a consent the IB asked online (consent_requests), bound to the
    hash of the request's text the page showed. An open request may be granted or refused; a
    granted one revoked; an answered or replaced one nothing else. Refused: BadInput, nothing stored."""
    bind_log(actor=f"{PARENT_ROLE}:{session.parent_id}", case_id=case_id, command="parent.answer")
    if status not in STATUS:
        raise BadInput(messages.text("svc.parent_portal.choose_decision"))
    try:
        seq = int(request)
    except (TypeError, ValueError):
        seq = 0
    now = ctx.clock()
    with ctx.uow() as uow:
        case, parent = _load(ctx, uow, session, case_id)
        d = ctx.definition_of(case)
        if case.closed:
            raise refused(messages.text("svc.refused"), [Reason("case_closed")], d)
        asked = case.requests.get(seq)
        if asked is None:
            raise BadInput(messages.text("svc.parent_portal.no_such_request"))
        if not isinstance(shown_hash, str) or not hmac.compare_digest(shown_hash.encode(), asked.text_hash.encode()):
            raise BadInput(messages.text("svc.parent_portal.request_changed"))
        if not asked.accepts(status):
            raise BadInput(messages.text("svc.parent_portal.request_closed",
                                         status=consent_requests.status_label(asked.status)))
        valid = _consent(case, d, now, {"scope": asked.scope, "status": status, "by": parent.name})
        valid.plain.update(request=asked.seq, request_hash=asked.text_hash)
        ev = _append(ctx, uow, case, parent, valid, now)
    log.info("parent.answered", seq=ev, request=seq, status=status)
    return {"case_id": case_id, "seq": ev, "status": status, "request": seq,
            "added_by": parent_added_by(ctx, session)}


def _consent(case: Case, d: ProcessDefinition, now: dt.datetime, values: dict[str, Any]) -> evidence.ValidEvidence:
    """The parent's decision as the `consent` record the IB's would be: the kind's own checks
    (the OPP version bound for the handelingsdeel), then the order a consent may come in."""
    valid = evidence.validate(
        "consent", values, today=local_date(now), consent_scopes=d.consent_scopes, plans=case.plans,
        opp_active=case.opp_active, sharing_scopes=d.sharing_scopes, kinds=d.evidence_kinds,
        level_plans=case.level_plans, opp_scope=d.opp.consent_scope if d.opp else None, opp_versions=case.opp_refs)
    check_consent_order(case, valid, d)
    return valid


def give_view(ctx: ServiceContext, session: ParentSession, case_id: str, *, party: str, text: str) -> dict[str, Any]:
    """The parents' view (hoorrecht), or the pupil's as the parents record it, in their words."""
    bind_log(actor=f"{PARENT_ROLE}:{session.parent_id}", case_id=case_id, command="parent.view")
    if party not in VIEW_PARTIES:
        raise BadInput(messages.text("svc.parent_portal.choose_party"))
    if not isinstance(text, str) or not text.strip():
        raise BadInput(messages.text("svc.parent_portal.write_view"),
                       fields={"text": messages.text("svc.parent_portal.write_view.field")})
    now = ctx.clock()
    with ctx.uow() as uow:
        case, parent = _load(ctx, uow, session, case_id)
        d = ctx.definition_of(case)
        if case.closed:
            raise refused(messages.text("svc.refused"), [Reason("case_closed")], d)
        valid = evidence.validate("view", {"party": party, "text": text.strip()}, today=local_date(now),
                                  consent_scopes=d.consent_scopes, kinds=d.evidence_kinds)
        ev = _append(ctx, uow, case, parent, valid, now)
    log.info("parent.view_given", seq=ev)
    return {"case_id": case_id, "seq": ev, "added_by": parent_added_by(ctx, session)}


def _append(ctx: ServiceContext, uow: Any, case: Case, parent: Parent, valid: evidence.ValidEvidence,
            now: dt.datetime) -> int:
    """One `evidence_recorded` event by the parent, as the IB's record of the kind is written,
    with `channel` "online". The parent is its actor (`ouder:<parent id>`, their row on the case
    holds their name and address sealed); a consent's `by` holds their name, sealed."""
    d = ctx.definition_of(case)
    cipher = ctx.cipher(uow, case.case_id)
    payload = {
        "kind": valid.kind, "date": valid.date.isoformat(), "level": case.level, "state": case.state,
        "fields": {**{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in valid.plain.items()},
                   "channel": "online"},
        "secret": cipher.seal_all(valid.secret),
    }
    ev = case.next_event(type="evidence_recorded", payload=payload, actor=parent.actor, role=PARENT_ROLE,
                         recorded_at=now, process=d)
    expected = case.version
    case.apply(ev)
    uow.store.append(case, [ev], expected_version=expected, now=now)
    uow.commit()
    return ev.seq


def parent_added_by(ctx: ServiceContext, session: ParentSession) -> str | None:
    with ctx.uow(write=False) as uow:
        row = uow.parents.get(session.parent_id)
    return None if row is None else row.added_by


def decision_message(ctx: ServiceContext, user_id: str, case_url: str, *, what: str, sent_at: dt.datetime,
                     host: str) -> Message | None:
    """The IB's mail that a parent's decision or view came in: no pupil data, the case's link."""
    import secrets

    from notifiers import Message

    try:
        user = ctx.user(user_id)
    except PassendError:  # a user gone or disabled since they invited: no mail
        return None
    if not user.email:
        return None
    text = messages.text("mail.parent.news.body", what=what, url=case_url)
    return Message(to=(user.email,), subject=messages.text("mail.parent.news.subject"), text=text, html=None,
                   message_id=f"<parent-news.{secrets.token_hex(12)}@{host}>", date=sent_at)


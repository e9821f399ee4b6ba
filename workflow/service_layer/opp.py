"""The OPP document: draft a version, read it back, evaluate it per goal.

A version is one event (`opp_drafted`): the parts of WPO art. 40a lid 1, the free text sealed
with the case's key like every other personal field, and two hashes over the plain text (the
version's and its handelingsdeel's; workflow.domain.opp). A new version starts from the one
before it, so an IB changes a part without typing the rest again. Drafting is done in the step
an adopting step leaves (the OPP in concept): an adopted OPP is changed only after `revise_opp`,
which asks for an OOGO (WPO art. 40a lid 4). The yearly evaluation (`opp_evaluated`) records per
goal of the OPP in force how far it was reached; it counts as an evaluation of the OPP for every
guard, deadline and compliance rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.domain import opp as doc
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput
from workflow.domain.evidence import parse_date
from workflow.domain.instants import local_date
from workflow.domain.reasons import Reason
from workflow.messages import text
from workflow.service_layer.access import clean_behalf, clean_purpose, record_access
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.refusals import refused

log = get_logger("passend.opp")
SALT_PURPOSE = "opp-salt"


def spec_of(d: ProcessDefinition) -> doc.OppSpec:
    if d.opp is None:
        raise BadInput(text("svc.opp.no_opp_in_process", process=d.id, version=d.version))
    return d.opp


def content_of(cipher: CaseCipher, payload: Mapping[str, Any]) -> doc.OppContent:
    """The plain text of an `opp_drafted` payload (`[gewist]` once the case is erased)."""
    texts = {k: cipher.open(f"opp.{k}", v) for k, v in (payload.get("texts") or {}).items()}
    texts.update({k: cipher.open(f"opp.{k}", v) for k, v in (payload.get("handelingsdeel") or {}).items()})
    goals = [(str(g["area"]), cipher.open(f"opp.goals.{i}", g["text"]))
             for i, g in enumerate(payload.get("goals") or [], 1)]
    return doc.OppContent(payload.get("uitstroombestemming"), texts, goals,
                          [dt.date.fromisoformat(x) for x in payload.get("evaluation_moments") or []])


def version_events(case: Case) -> dict[int, Any]:
    return {int(ev.payload["version"]): ev for ev in case.events if ev.type == "opp_drafted"}


def adoptions(case: Case) -> dict[int, dt.date]:
    """Each OPP version's adoption date (a version adopted twice: the first time)."""
    out: dict[int, dt.date] = {}
    newest = 0
    for ev in case.events:
        if ev.type == "opp_drafted":
            newest = int(ev.payload["version"])
        elif ev.type == "transitioned" and ev.payload.get("adopts_opp") and newest:
            out.setdefault(int(ev.payload.get("opp_version", newest)), local_date(ev.recorded_at))
    return out


def adopted_version(case: Case) -> int | None:
    """The OPP version in force: the last one adopted, while an OPP is in force."""
    if not case.opp_active:
        return None
    found: int | None = None
    newest = 0
    for ev in case.events:
        if ev.type == "opp_drafted":
            newest = int(ev.payload["version"])
        elif ev.type == "transitioned":
            if ev.payload.get("adopts_opp") and newest:
                found = int(ev.payload.get("opp_version", newest))
            elif ev.payload.get("ends_opp"):
                found = None
    return found


def _roles(d: ProcessDefinition, state: str) -> frozenset[str]:
    """Who may write the OPP: whoever may take the adopting step from this state."""
    return frozenset(r for t in d.transitions if t.adopts_opp and t.source == state for r in t.roles)


def status(ctx: ServiceContext, case_id: str, *, actor: str) -> dict[str, Any]:
    """What a page needs before it shows an OPP: does this case's process have an OPP document,
    which versions exist, and may this user draft one now. Nothing personal, so no access record
    (the page that shows a version's text reads it through `show`, which writes one)."""
    user = ctx.user(actor)
    with ctx.uow(write=False) as uow:
        case = ctx.load(uow, case_id, user)
    d = ctx.definition_of(case)
    spec = d.opp
    drafting = sorted(d.draft_states)
    return {
        "case_id": case_id, "school": case.school, "state": case.state,
        "state_label": d.states[case.state].label if case.state in d.states else case.state,
        "has_document": spec is not None, "versions": sorted(version_events(case)),
        "adopted_version": adopted_version(case), "version": case.version, "closed": case.closed,
        "may_draft": spec is not None and not case.closed and case.state in d.draft_states
        and user.role in _roles(d, case.state),
        "draft_state_labels": [d.states[s].label for s in drafting if s in d.states],
        "profiles": list(spec.profiles) if spec is not None else [],
        "required": list(spec.required) if spec is not None else [],
        "labels": {name: spec.label(name) for name in doc.PART_NAMES} if spec is not None else {},
        "process": f"{d.id}@{d.version}",
    }


def draft(
    ctx: ServiceContext, case_id: str, *, actor: str, uitstroombestemming: str | None = None,
    texts: Mapping[str, str] | None = None, goals: Sequence[tuple[str, str]] | None = None,
    evaluation_moments: Sequence[Any] | None = None, clear: Sequence[str] = (), date: Any = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Record a new OPP version: the previous version with the given parts replaced (goals and
    evaluation moments as a whole), `clear` parts removed. Returns its number and hashes."""
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="opp.draft")
    now = ctx.clock()
    with ctx.uow() as uow:
        case = ctx.load(uow, case_id, user)
        d = ctx.definition_of(case)
        spec = spec_of(d)
        if case.closed:
            raise refused(text("svc.refused"), [Reason("case_closed")], d)
        if case.state not in d.draft_states:
            steps = ", ".join(d.states[s].label for s in sorted(d.draft_states))
            key = "svc.opp.draft_elsewhere.revise" if case.opp_active else "svc.opp.draft_elsewhere"
            raise BadInput(text(key, steps=steps, state=d.states[case.state].label))
        if user.role not in _roles(d, case.state):
            raise refused(text("svc.refused"), [Reason("role_may_not_record", {"role": user.role, "kind": "opp"})], d)
        ctx.expect(case, expected_version)
        for name in clear:
            if name not in doc.PART_NAMES:
                raise BadInput(text("svc.opp.clear_unknown_part", part=name, choices=", ".join(doc.PART_NAMES)))
        cipher = ctx.cipher(uow, case_id)
        events = version_events(case)
        content = content_of(cipher, events[max(events)].payload) if events else doc.OppContent()
        _overlay(content, uitstroombestemming, texts, goals, evaluation_moments, clear)
        if not content.present():
            raise BadInput(text("svc.opp.empty"))
        doc.check_content(spec, content)
        day = parse_date(date, "datum") if date is not None else local_date(now)
        if day > local_date(now):
            raise BadInput(text("svc.opp.date_in_future", date=day.isoformat()))
        number = max(events, default=0) + 1
        payload = version_payload(cipher, case, content, number, day)
        digest, hd_digest = payload["hash"], payload["handelingsdeel_hash"]
        ev = case.next_event(type="opp_drafted", payload=payload, actor=actor, role=user.role,
                             recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    missing = doc.missing(spec, content.present())
    log.info("opp.drafted", seq=ev.seq, opp_version=number, missing=len(missing))
    return {"case_id": case_id, "seq": ev.seq, "opp_version": number, "hash": digest,
            "handelingsdeel_hash": hd_digest, "missing": missing,
            "missing_labels": [spec.label(m) for m in missing], "version": case.version}


def version_payload(cipher: CaseCipher, case: Case, content: doc.OppContent, number: int,
                    day: dt.date) -> dict[str, Any]:
    """The `opp_drafted` payload of version `number`: the free text sealed, both hashes over the
    plain text (with the case's salt). Shared by `draft` and the demo generator, so a generated
    OPP is exactly what the service writes."""
    salt = cipher.derived(SALT_PURPOSE)
    assert salt is not None  # an erased case is closed, and nothing is drafted in a closed case
    digest, hd_digest = content.hashes(case.case_id, number, salt)
    payload: dict[str, Any] = {
        "version": number, "date": day.isoformat(), "level": case.level, "state": case.state,
        "texts": {k: cipher.seal(f"opp.{k}", v) for k, v in content.texts.items() if k in doc.TEXT_PARTS},
        "goals": [{"area": a, "text": cipher.seal(f"opp.goals.{i}", t)}
                  for i, (a, t) in enumerate(content.goals, 1)],
        "handelingsdeel": {k: cipher.seal(f"opp.{k}", v) for k, v in content.handelingsdeel().items()},
        "evaluation_moments": [m.isoformat() for m in content.evaluation_moments],
        "hash": digest, "handelingsdeel_hash": hd_digest,
    }
    if content.uitstroombestemming:
        payload["uitstroombestemming"] = content.uitstroombestemming
    return payload


def _overlay(content: doc.OppContent, uitstroom: str | None, texts: Mapping[str, str] | None,
             goals: Sequence[tuple[str, str]] | None, moments: Sequence[Any] | None, clear: Sequence[str]) -> None:
    if uitstroom is not None:
        content.uitstroombestemming = uitstroom
    for name, written in (texts or {}).items():
        if name not in doc.TEXT_PARTS and name not in doc.HANDELINGSDEEL:
            raise BadInput(text("svc.opp.unknown_part", part=name))
        content.texts[name] = written.strip()
    if goals is not None:
        content.goals = [(a, t.strip()) for a, t in goals]
    if moments is not None:
        content.evaluation_moments = sorted(parse_date(m, "evaluatiemoment") for m in moments)
    for name in clear:
        if name == "uitstroombestemming":
            content.uitstroombestemming = None
        elif name == "goals":
            content.goals = []
        elif name == "evaluation_moments":
            content.evaluation_moments = []
        else:
            content.texts.pop(name, None)


def show(ctx: ServiceContext, case_id: str, *, actor: str, version: int | None = None,
         purpose: str | None = None, on_behalf_of: str | None = None, action: str = "opp.show") -> dict[str, Any]:
    """One OPP version in full (decrypted; the read is logged), with its hashes checked again
    against its text, its adoption date and the consent given on it."""
    clean_purpose(purpose, action)
    clean_behalf(on_behalf_of)
    user = ctx.user(actor)
    with ctx.uow(write=False) as uow:
        case = ctx.load(uow, case_id, user)
        spec_of(ctx.definition_of(case))
        cipher = ctx.cipher(uow, case_id)
    events = version_events(case)
    if not events:
        raise BadInput(text("svc.opp.no_version_yet", case=case_id))
    number = version if version is not None else max(events)
    if number not in events:
        raise BadInput(text("svc.opp.no_such_version", case=case_id, number=number,
                            versions=", ".join(str(n) for n in sorted(events))))
    record_access(ctx, actor=actor, action=action, cases=[(case_id, case.school)], purpose=purpose,
                  on_behalf_of=on_behalf_of)
    return document(ctx, case, cipher, number)


def document(ctx: ServiceContext, case: Case, cipher: CaseCipher, number: int) -> dict[str, Any]:
    """OPP version `number` of `case` as the printed page and the portals show it (no access
    record: the caller writes it, as the acting user or parent)."""
    case_id = case.case_id
    d = ctx.definition_of(case)
    spec = spec_of(d)
    events = version_events(case)
    p = events[number].payload
    content = content_of(cipher, p)
    salt = cipher.derived(SALT_PURPOSE)
    checked = None if salt is None else content.hashes(case_id, number, salt) == (p["hash"], p["handelingsdeel_hash"])
    opened = case.events[0].payload
    parts = []
    for part in doc.PARTS:
        value: Any
        if part.name == "uitstroombestemming":
            value = spec.profile_label(content.uitstroombestemming) if content.uitstroombestemming else None
        elif part.name == "goals":
            value = [{"number": i, "area": a, "area_label": doc.GOAL_AREAS.get(a, a), "text": t}
                     for i, (a, t) in enumerate(content.goals, 1)] or None
        elif part.name == "evaluation_moments":
            value = [m.isoformat() for m in content.evaluation_moments] or None
        else:
            value = content.texts.get(part.name)
        parts.append({"name": part.name, "label": spec.label(part.name), "handelingsdeel": part.handelingsdeel,
                      "required": part.name in spec.required, "value": value})
    consents = [f for f in case.facts.facts if f.kind == "consent" and f.fields.get("scope") == spec.consent_scope]
    return {
        "case_id": case_id, "school": case.school,
        "school_name": ctx.config.schools[case.school].name if case.school in ctx.config.schools else case.school,
        "pupil": cipher.open("pupil", opened.get("pupil")),
        "name": cipher.open("name", opened["name"]) if "name" in opened else None,
        "group": case.group, "opp_version": number, "versions": sorted(events), "date": p["date"],
        "uitstroombestemming": content.uitstroombestemming,  # the profile's id (its label is in `parts`)
        "hash": p["hash"], "handelingsdeel_hash": p["handelingsdeel_hash"], "salt": salt,
        "hash_checked": checked, "adopted_on": (adoptions(case).get(number) or dt.date.min).isoformat()
        if number in adoptions(case) else None,
        "in_force": adopted_version(case) == number,
        "missing": doc.missing(spec, content.present()),
        "missing_labels": [spec.label(m) for m in doc.missing(spec, content.present())],
        "parts": parts,
        "consents": [{"date": f.date.isoformat(), "status": f.fields.get("status"),
                      "opp_version": f.fields.get("opp_version"), "channel": f.fields.get("channel"),
                      "counts_for_this_version": f.fields.get("status") == "granted"
                      and f.fields.get("handelingsdeel_hash") == p["handelingsdeel_hash"]
                      and int(f.fields.get("opp_version") or 0) <= number} for f in consents],
        "process": f"{d.id}@{d.version}",
    }


def evaluate(
    ctx: ServiceContext, case_id: str, *, actor: str, results: Mapping[int, str], outcome: str,
    with_parents: bool, date: Any = None, notes: str | None = None, expected_version: int | None = None,
) -> dict[str, Any]:
    """The evaluation of the OPP in force, per goal (WPO art. 40a lid 3: yearly, with the
    parents): every goal of the adopted version gets how far it was reached."""
    user = ctx.user(actor)
    bind_log(actor=actor, case_id=case_id, command="opp.evaluate")
    now = ctx.clock()
    with ctx.uow() as uow:
        case = ctx.load(uow, case_id, user)
        d = ctx.definition_of(case)
        spec_of(d)
        if case.closed:
            raise refused(text("svc.refused"), [Reason("case_closed")], d)
        if user.role not in d.evidence_roles.get("evaluation", frozenset()):
            raise refused(text("svc.refused"),
                          [Reason("role_may_not_record", {"role": user.role, "kind": "evaluation"})], d)
        ctx.expect(case, expected_version)
        number = adopted_version(case)
        if number is None:
            raise BadInput(text("svc.opp.nothing_to_evaluate"))
        version = case.facts.opp_version(number)
        assert version is not None
        if outcome not in ("voldoende", "onvoldoende"):
            raise BadInput(text("svc.opp.outcome"))
        wanted = set(range(1, version.goals + 1))
        unknown = sorted(set(results) - wanted)
        if unknown:
            raise BadInput(text("svc.opp.no_such_goal", number=number, goal=unknown[0], goals=version.goals))
        lacking = sorted(wanted - set(results))
        if lacking:
            raise BadInput(text("svc.opp.goals_lacking", goals=", ".join(str(n) for n in lacking)))
        for n, r in results.items():
            if r not in doc.GOAL_RESULTS:
                raise BadInput(text("svc.opp.goal_result", goal=n, result=r, choices=", ".join(doc.GOAL_RESULTS)))
        day = parse_date(date, "datum") if date is not None else local_date(now)
        if day > local_date(now):
            raise BadInput(text("svc.opp.evaluation_in_future", date=day.isoformat()))
        adopted = adoptions(case).get(number)
        if adopted is not None and day < adopted:
            raise BadInput(text("svc.opp.evaluation_before_adoption", date=day.isoformat(),
                                adopted=adopted.isoformat()))
        secret = {}
        if notes is not None and notes.strip():
            secret["notes"] = ctx.cipher(uow, case_id).seal("notes", notes.strip())
        payload = evaluation_payload(case, number, version.hash, day, outcome=outcome, with_parents=with_parents,
                                     results=results, secret=secret)
        ev = case.next_event(type="opp_evaluated", payload=payload, actor=actor, role=user.role,
                             recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    log.info("opp.evaluated", seq=ev.seq, opp_version=number)
    return {"case_id": case_id, "seq": ev.seq, "opp_version": number, "version": case.version}


def evaluation_payload(case: Case, number: int, opp_hash: str, day: dt.date, *, outcome: str, with_parents: bool,
                       results: Mapping[int, str], secret: Mapping[str, Any]) -> dict[str, Any]:
    """The `opp_evaluated` payload (shared with the demo generator, like `version_payload`)."""
    return {"version": number, "opp_hash": opp_hash, "date": day.isoformat(), "level": case.level,
            "state": case.state, "outcome": outcome, "with_parents": bool(with_parents),
            "goals": [{"goal": n, "reached": results[n]} for n in sorted(results)], "secret": dict(secret)}

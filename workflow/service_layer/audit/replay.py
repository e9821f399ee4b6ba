"""Replay: rebuild a case from its events alone and re-decide every step with the rules of the day.

Each event names the process definition version it was decided under; replay takes that exact
version from the registry (every installed version stays loadable) and asks `domain.decide`
again, with the role recorded on the event and the evidence folded so far (the evidence that
existed at that moment). A step that would not be allowed, or a projection that differs from
what the events prove, is reported. `as_of` stops the fold at the end of a date and shows what
was true then: state, level, evidence and the deadlines that were running.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflow.adapters.codec import UNREADABLE, read_instant, read_payload
from workflow.adapters.ports import Projection, UnitOfWork
from workflow.domain import case as domain
from workflow.domain import deadlines
from workflow.domain.calendar import SchoolCalendar
from workflow.domain.case import Case
from workflow.domain.definition import DefinitionRegistry
from workflow.domain.errors import NotFound, PassendError, Refused
from workflow.domain.events import Event, restore_event
from workflow.domain.evidence import by_parent_online
from workflow.domain.instants import SCHOOL_TZ, as_utc, iso_utc, local_date
from workflow.messages import render_all, text
from workflow.service_layer.consent_requests import askable
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.reminders.work import stale

# The projected columns the events must prove (the planner's days are checked with `stale`).
PROJECTION_FIELDS = ("school", "school_group", "state", "level", "process_id", "process_version",
                     "version", "head_hash", "opp_active", "closed_at", "close_reason")


@dataclass
class Replayed:
    """What a case's events prove, and everything that disagrees with them."""

    case_id: str
    case: Case | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Differences that do not make a step unlawful (e.g. a guard now worded otherwise).
    notes: list[str] = field(default_factory=list)
    as_of: dt.datetime | None = None
    running: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.refused or self.mismatches or self.errors)

    def as_dict(self) -> dict[str, Any]:
        c = self.case
        out: dict[str, Any] = {"case_id": self.case_id, "ok": self.ok}
        if self.as_of is not None:
            out["as_of"] = iso_utc(self.as_of)
        if c is not None:
            out.update({
                "school": c.school, "process": f"{c.process_id}@{c.process_version}",
                "state": c.state, "level": c.level, "version": c.version, "head_hash": c.head_hash,
                "opp_active": c.opp_active, "erased": c.erased,
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "close_reason": c.close_reason,
            })
            if self.as_of is not None:
                out["evidence"] = evidence_of(c)
                out["deadlines"] = self.running
        out.update(refused=self.refused, mismatches=self.mismatches, errors=self.errors, notes=self.notes)
        return out


def evidence_of(case: Case) -> list[dict[str, Any]]:
    """The evidence folded so far, plain fields only (secrets stay sealed: replay needs no key)."""
    return [
        {"seq": f.seq, "kind": f.kind, "date": f.date.isoformat(), "level": f.level, "state": f.state,
         "fields": dict(f.fields)}
        for f in case.facts.facts
    ]


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after `day` in school time, as UTC: events before it count."""
    nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=SCHOOL_TZ)
    return nxt.astimezone(dt.UTC)


def replay_events(
    case_id: str, evs: Iterable[Event], registry: DefinitionRegistry, *, as_of: dt.datetime | None = None,
    calendar_of: Callable[[str], deadlines.SchoolDays | None] | None = None,
) -> Replayed:
    """Fold `evs` (in seq order), re-deciding every transition; stop before `as_of` if given.
    `calendar_of(school)`: the school days the deadlines running at `as_of` are moved to."""
    out = Replayed(case_id, as_of=as_of)
    case: Case | None = None
    for ev in evs:
        if as_of is not None and as_utc(ev.recorded_at) >= as_of:
            break
        try:
            d = registry.get(ev.process_id, ev.process_version)
        except PassendError as exc:
            out.errors.append(text("svc.audit.replay.event_error", seq=ev.seq, error=exc.message))
            return out
        if case is None:
            if ev.type != "case_opened" or ev.seq != 1:
                out.errors.append(text("svc.audit.replay.first_event", seq=ev.seq))
                return out
            if ev.role not in d.open_roles:
                out.refused.append(_refusal(ev, "case_opened", [text("svc.audit.replay.may_not_open", role=ev.role)]))
            try:
                case = Case.from_events([ev])
            except (KeyError, ValueError, PassendError) as exc:
                out.errors.append(text("svc.audit.replay.first_unreadable", error=type(exc).__name__))
                return out
            continue
        p = ev.payload
        if ev.type == "transitioned":
            _recheck(out, case, d, ev)
        elif ev.type == "evidence_recorded":
            kind = p.get("kind")
            if ev.role not in d.evidence_roles.get(str(kind), frozenset()) \
                    and not by_parent_online(ev.role, str(kind), p.get("fields") or {}):
                out.refused.append(_refusal(ev, f"record {kind}",
                                            [text("svc.audit.replay.may_not_record", role=ev.role, kind=kind)]))
            if case.closed:
                out.refused.append(_refusal(ev, f"record {kind}", [text("svc.audit.replay.was_closed")]))
            _recheck_answer(out, case, ev)
        elif ev.type == "case_erased" and not case.closed:
            out.refused.append(_refusal(ev, "case_erased", [text("svc.audit.replay.was_open")]))
        elif ev.type in LATER_TYPES:
            _recheck_later(out, case, d, ev)
        try:
            case.apply(ev)
        except (KeyError, ValueError, TypeError) as exc:
            out.errors.append(text("svc.audit.replay.does_not_fit", seq=ev.seq, error=type(exc).__name__))
            break
    out.case = case
    if case is None and not out.errors:
        out.errors.append(text("svc.audit.replay.no_events" if as_of is None else "svc.audit.replay.not_yet"))
    if case is not None and as_of is not None:
        day = local_date(as_of - dt.timedelta(microseconds=1))
        try:
            d = registry.get(case.process_id, case.process_version)
            out.running = [r.as_dict(day) for r in deadlines.running(
                case, d, day, calendar_of(case.school) if calendar_of is not None else None)]
        except PassendError as exc:
            out.errors.append(exc.message)
    return out


LATER_TYPES = ("opp_drafted", "opp_evaluated", "rod_registered", "imported", "migrated", "consent_requested")


def _recheck_later(out: Replayed, case: Case, d: Any, ev: Event) -> None:
    """The rules of the event types beyond evidence and steps (docs/event-chain.md)."""
    p = ev.payload
    why: list[str] = []
    if ev.type == "imported":
        if ev.role not in d.open_roles:
            why.append(text("svc.audit.replay.may_not_import", role=ev.role))
        if p.get("state") not in d.importable:
            why.append(text("svc.audit.replay.not_importable", state=p.get("state")))
        out.notes.append(text("svc.audit.replay.imported", seq=ev.seq, state=p.get("state"),
                              since=p.get("level_since"), day=local_date(ev.recorded_at)))
    elif ev.type == "migrated":
        if d.migrate_from != case.process_version or p.get("from_version") != case.process_version:
            why.append(text("svc.audit.replay.migrate_from", version=d.version, other=case.process_version))
        elif d.migrate_states.get(case.state) != p.get("dest"):
            why.append(text("svc.audit.replay.migrate_state", version=d.version, state=case.state, dest=p.get("dest")))
        if ev.role not in d.migrate_roles:
            why.append(text("svc.audit.replay.may_not_migrate", role=ev.role))
        if case.closed:
            why.append(text("svc.audit.replay.was_closed"))
    elif ev.type == "opp_drafted":
        if d.opp is None:
            why.append(text("svc.audit.replay.no_opp"))
        if case.state not in d.draft_states or case.closed:
            why.append(text("svc.audit.replay.draft_state", state=case.state, states=", ".join(sorted(d.draft_states))))
    elif ev.type == "opp_evaluated":
        if not case.opp_active or case.closed:
            why.append(text("svc.audit.replay.no_adopted_opp"))
    elif ev.type == "consent_requested":
        if p.get("scope") not in askable(d):
            why.append(text("svc.audit.replay.not_askable", scope=p.get("scope")))
        if ev.role not in d.evidence_roles.get("consent", frozenset()):
            why.append(text("svc.audit.replay.may_not_record", role=ev.role, kind="consent"))
        if case.closed:
            why.append(text("svc.audit.replay.was_closed"))
    elif ev.type == "rod_registered" and case.erased:
        why.append(text("svc.audit.replay.was_erased"))
    if why:
        out.refused.append(_refusal(ev, ev.type, why))


def _recheck_answer(out: Replayed, case: Case, ev: Event) -> None:
    """A parent's answer to a request asked online: the request was open (or, for a revocation,
    granted) when it came; the fold itself checks that it names the request and its hash."""
    fields = ev.payload.get("fields") or {}
    if ev.payload.get("kind") != "consent" or "request" not in fields:
        return
    asked = case.requests.get(fields["request"])
    if asked is not None and not asked.accepts(str(fields.get("status"))):
        out.refused.append(_refusal(ev, "record consent", [
            text("svc.audit.replay.request_not_open", request=fields["request"], status=asked.status)]))


def _refusal(ev: Event, what: str, reasons: Sequence[str]) -> dict[str, Any]:
    return {"seq": ev.seq, "at": ev.recorded_at.isoformat(), "actor": ev.actor, "role": ev.role,
            "step": what, "reasons": list(reasons)}


def _recheck(out: Replayed, case: Case, d: Any, ev: Event) -> None:
    p = ev.payload
    trigger = str(p.get("trigger"))
    params = {str(k): str(v) for k, v in (p.get("params") or {}).items()}
    try:
        decision = domain.decide(case, d, trigger, params, ev.role)
    except PassendError as exc:
        out.refused.append(_refusal(ev, trigger, [exc.message]))
        return
    if not decision.allowed:
        out.refused.append(_refusal(ev, f"{trigger} {p.get('source')} -> {p.get('dest')}",
                                    render_all(decision.reasons, d)))
    elif decision.dest != p.get("dest"):
        out.refused.append(_refusal(ev, trigger, [
            text("svc.audit.replay.other_dest", dest=decision.dest, recorded=p.get("dest"))]))
    elif list(decision.checked) != list(p.get("guards", [])):
        # The step is still allowed; the wording or set of guards differs from what was recorded
        # (a reworded message, or a definition file edited without raising its version).
        out.notes.append(text("svc.audit.replay.guards_reworded", seq=ev.seq))


def compare_projection(out: Replayed, row: Projection | None, engine: ServiceContext | None = None) -> None:
    """Every projected column must equal what the events prove (and, given the engine, the
    planner's next action day must not lie after a reminder the events and calendar imply)."""
    c = out.case
    if c is None:
        return
    if row is None:
        out.mismatches.append(text("svc.audit.replay.not_in_cases"))
        return
    proven = {
        "school": c.school, "school_group": c.group, "state": c.state, "level": c.level,
        "process_id": c.process_id, "process_version": c.process_version, "version": c.version,
        "head_hash": c.head_hash, "opp_active": c.opp_active, "closed_at": c.closed_at,
        "close_reason": c.close_reason,
    }
    for name in PROJECTION_FIELDS:
        stored = getattr(row, name)
        want = proven[name]
        if isinstance(stored, dt.datetime) and isinstance(want, dt.datetime):
            same = as_utc(stored) == as_utc(want)
        else:
            same = stored == want or (name == "opp_active" and bool(stored) == bool(want))
        if not same:
            out.mismatches.append(text("svc.audit.replay.projection_differs", column=name, stored=repr(stored),
                                       proven=repr(want)))
    if engine is not None and c.school in engine.config.schools:
        try:
            problem = stale(c, engine.registry.get(c.process_id, c.process_version),
                            SchoolCalendar.for_school(engine.config.schools[c.school]),
                            row.next_action_on, row.planned_on)
        except PassendError:  # a definition no longer installed is reported by the replay itself
            problem = None
        if problem is not None:
            out.mismatches.append(text("svc.audit.replay.projection", problem=problem))


# ---- entry points ---------------------------------------------------------------------------
def replay_case(engine: ServiceContext, case_id: str, *, actor: str, as_of: dt.date | None = None) -> Replayed:
    user = engine.user(actor)
    with engine.uow(write=False) as uow:
        row = uow.cases.get(case_id)
        evs = next((e for _, e in grouped_events(uow, None, case_id=case_id)), [])
    if row is None and not evs:
        raise NotFound(text("svc.context.unknown_case", case=case_id))
    school = row.school if row is not None else (evs[0].payload.get("school") if evs else None)
    if school is not None and not user.serves(str(school)):
        raise Refused(text("svc.refused"), reasons=[text("no_school_access", user=actor, school=school)])
    out = replay_events(case_id, evs, engine.registry, as_of=end_of_day(as_of) if as_of else None,
                        calendar_of=engine.calendar)
    if as_of is None:
        compare_projection(out, row, engine)
    return out


def replay_all(
    engine: ServiceContext, *, actor: str, as_of: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Replayed]:
    """Every case the actor may see, streamed: one case's events in memory at a time."""
    schools = engine.schools_for(engine.user(actor))
    cutoff = end_of_day(as_of) if as_of else None
    with engine.uow(write=False) as uow:
        heads = uow.cases.projections(schools)
        head = next(heads, None)
        for case_id, evs in grouped_events(uow, schools):
            while head is not None and head.case_id < case_id:
                yield _no_events(head)
                head = next(heads, None)
            row = None
            if head is not None and head.case_id == case_id:
                row, head = head, next(heads, None)
            out = replay_events(case_id, evs, engine.registry, as_of=cutoff, calendar_of=engine.calendar)
            if cutoff is None:
                compare_projection(out, row, engine)
            if progress is not None:
                progress(len(evs))
            if cutoff is not None and out.case is None and not out.refused:
                continue  # not yet opened on that date
            yield out
        while head is not None:
            yield _no_events(head)
            head = next(heads, None)


def _no_events(row: Any) -> Replayed:
    return Replayed(row.case_id, errors=[text("svc.audit.verify.no_events")])


_MIN_UTC = dt.datetime.min.replace(tzinfo=dt.UTC)


def grouped_events(
    uow: UnitOfWork, schools: Sequence[str] | None, *, case_id: str | None = None,
) -> Iterator[tuple[str, list[Event]]]:
    """Each case's events in seq order, streamed from the stored rows (`EventStore.raw_batches`)."""
    instant, read = read_instant, read_payload
    current: str | None = None
    buf: list[Event] = []
    # Batch by batch, not row by row through generators of generators (a million rows add up).
    batches = uow.store.raw_batches(schools=schools, case_id=case_id)
    try:
        for chunk in batches:
            for cid, seq, typ, pid, pver, actor, role, at, payload, prev, h in chunk:
                if cid != current:
                    if current is not None:
                        yield current, buf
                    current, buf = cid, []
                when = instant(at)
                body = read(payload)
                if when is None or body is UNREADABLE:  # a tampered row: replay reports it, verify names it
                    when, body = _MIN_UTC, {"$unreadable": True}
                buf.append(restore_event(cid, seq, typ, pid, pver, actor, role, when, body, prev, h))
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if current is not None:
        yield current, buf

"""Compliance: the legal rules of passend onderwijs checked per case from the events alone.

The guards already refuse unlawful steps, but a school may run its own definition, and an
auditor wants the rules checked independently of it. Each rule (docs/domain.md) gives
`pass`, `fail`, `not_due` (its moment has not come yet) or `n/a` (the case never got there):

- `opp_binnen_6_weken`: an OPP adopted within 6 weeks of entering level 4 (WPO art. 40a lid 2;
  the period comes from the definition's deadline that runs until the OPP is adopted, when it
  has one). Days spent
  in a state with `pauses_deadlines` (`geschil`, a dispute with the parents) do not count: they
  are added to the due date exactly as the reminders add them (`deadlines.paused_days`), so the
  report never fails a case the IB was told was still within its term;
- `opp_jaarlijks_geevalueerd`: each school year (1 Aug - 31 Jul) that ends with an OPP in force
  has an OPP evaluation with the parents dated in it (lid 3; the same duty as the deadline);
- `instemming_handelingsdeel`: parents' consent on the handelingsdeel granted at adoption (34446);
- `leerling_gehoord`: the pupil's view, or the reason why not, recorded before adoption (hoorrecht);
- `oogo_voor_vaststelling_en_herziening`: an OOGO meeting before every adoption and revision (lid 1, 4);
- `rod_geregistreerd`: every OPP start and end date registered in ROD (through BRON) within the
  term of the definition's `rod_registratie` deadline (four weeks by default).

A case brought in with `passend case import` has no history before its import: a term that ran
out before the import day, and a school year that ended before it, are `n/a` with the note that
they are not judged; the case's result says so under `imported`.

No state of a process is named here: the definition's flags say which step adopts the OPP
(`adopts_opp`, with its `[[upcasts]]` for events older than the flag) and which revises it
(`revises_opp`); the OPP's level is the level of the state an adopting step leaves; the consent
checked at adoption is the one the adopting step's guards ask for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from workflow.domain import upcasts
from workflow.domain.case import Case
from workflow.domain.deadlines import paused_days
from workflow.domain.definition import DefinitionRegistry, ProcessDefinition, TransitionDef
from workflow.domain.errors import PassendError
from workflow.domain.events import Event
from workflow.domain.facts import Fact
from workflow.domain.guards import ConsentGuard, consent_status
from workflow.domain.instants import local_date
from workflow.domain.rod import DEFAULT_TERM_DAYS, rod_dates
from workflow.messages import text
from workflow.service_layer.audit.replay import grouped_events
from workflow.service_layer.context import ServiceContext

RULES = ("opp_binnen_6_weken", "opp_jaarlijks_geevalueerd", "instemming_handelingsdeel",
         "leerling_gehoord", "oogo_voor_vaststelling_en_herziening", "rod_geregistreerd")
STATUSES = ("pass", "fail", "not_due", "n/a")
# A consent's status in a finding, and the two ROD dates, each with the key of its words.
CONSENT_WORDS = {"granted": "svc.audit.compliance.consent.granted", "refused": "svc.audit.compliance.consent.refused",
                 "revoked": "svc.audit.compliance.consent.revoked"}
WHICH_WORDS = {"start": "svc.audit.compliance.rod.start", "end": "svc.audit.compliance.rod.end"}
UNREADABLE = (KeyError, ValueError, TypeError, AttributeError, PassendError)  # what a garbled row raises
OPP_WEEKS_DEFAULT = 42


@dataclass
class RuleResult:
    rule: str
    findings: list[tuple[str, str]] = field(default_factory=list)  # (status, detail)

    def add(self, status: str, detail: str) -> None:
        self.findings.append((status, detail))

    @property
    def status(self) -> str:
        got = {s for s, _ in self.findings}
        for s in ("fail", "not_due", "pass"):
            if s in got:
                return s
        return "n/a"

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status,
                "details": [{"status": s, "detail": d} for s, d in self.findings]}


def school_year(day: dt.date) -> tuple[dt.date, dt.date]:
    start = dt.date(day.year if day.month >= 8 else day.year - 1, 8, 1)
    return start, dt.date(start.year + 1, 7, 31)


def _definition(registry: DefinitionRegistry, process_id: str, version: int) -> ProcessDefinition | None:
    try:
        return registry.get(process_id, version)
    except PassendError:
        return None


def _adopting(d: ProcessDefinition | None) -> list[TransitionDef]:
    return [] if d is None else [t for t in d.transitions if t.adopts_opp]


def opp_level(d: ProcessDefinition | None) -> int | None:
    """The level at which an OPP is due: that of the state an adopting step leaves."""
    for t in _adopting(d):
        assert d is not None
        return d.level_of(t.source)
    return None


def adoption_scopes(d: ProcessDefinition | None, source: str, dest: str) -> list[str]:
    """The consent scopes the adopting step from `source` asks to be granted."""
    for t in _adopting(d):
        if t.source == source and t.dest == dest:
            return [g.scope for g in t.guards if isinstance(g, ConsentGuard) and g.expect == "granted"]
    return []


def _opp_days(registry: DefinitionRegistry, ev: Event) -> int:
    """The OPP term: the deadline that starts on entering a state and stops when an adopting
    step arrives (the definition's), else the legal 6 weeks."""
    d = _definition(registry, ev.process_id, ev.process_version)
    goals = {t.dest for t in _adopting(d)}
    for dd in d.deadlines if d is not None else ():
        if dd.start == "entered" and dd.due is not None and any(c.entered in goals for c in dd.stop):
            return int(dd.due.days)
    return OPP_WEEKS_DEFAULT


@dataclass
class _Level4:
    """The level-4 OPP clock: started by event `seq` on `start`, `days` long."""

    seq: int
    start: dt.date
    days: int
    adopted: bool = False
    imported: dt.date | None = None  # the level began before the case was imported on this day

    def due(self, case: Case, definition: ProcessDefinition | None, until: dt.date) -> tuple[dt.date, str]:
        """The due date with the days paused up to `until` added, and a note on the pause."""
        paused = 0 if definition is None else paused_days(case, definition, self.seq, self.start, until)
        note = text("svc.audit.compliance.paused", days=paused) if paused else ""
        return self.start + dt.timedelta(days=self.days + paused), note


def _since(case: Case, state: str) -> int:
    """Sequence number of the last entry into `state` (0 if never)."""
    e = case.facts.last_entry(state)
    return e.seq if e is not None else 0


def _facts_after(case: Case, seq: int, evidence: str, **where: Any) -> list[Fact]:
    return [f for f in case.facts.facts
            if f.seq > seq and f.kind == evidence and all(f.fields.get(k) == v for k, v in where.items())]


def check_case(evs: Iterable[Event], registry: DefinitionRegistry, today: dt.date) -> dict[str, Any]:
    """Fold the case's events and judge every rule; the result names no person.

    A case whose events do not fold (rows changed around the engine) is `unreadable` and has no
    rules judged: a verdict on part of its history could pass what the rest would fail."""
    evs = list(evs)
    try:
        return _judge(evs, registry, today)
    except UNREADABLE as exc:
        first = evs[0]
        school = first.payload.get("school") if isinstance(first.payload, dict) else None
        return {"case_id": first.case_id, "school": school, "rules": [],
                "unreadable": text("svc.audit.compliance.unreadable", error=type(exc).__name__)}


def _judge(evs: list[Event], registry: DefinitionRegistry, today: dt.date) -> dict[str, Any]:
    r = {name: RuleResult(name) for name in RULES}
    case: Case | None = None
    definition: ProcessDefinition | None = None  # the case's own version: its states pause clocks
    level4: _Level4 | None = None
    imported: dt.date | None = None  # the day the case was brought in (its history before is not here)
    opp_since: dt.date | None = None  # the OPP in force since this date
    opp_periods: list[tuple[dt.date, dt.date | None]] = []
    for ev in evs:
        if case is None:
            case = Case.from_events([ev])
            definition = _definition(registry, case.process_id, case.process_version)
            level = opp_level(definition)
            if level is not None and case.level == level:
                level4 = _Level4(ev.seq, local_date(ev.recorded_at), _opp_days(registry, ev))
            continue
        day = local_date(ev.recorded_at)
        p = ev.payload
        if ev.type == "imported":
            imported = day
            level = opp_level(definition)
            if p.get("opp_adopted_on"):
                opp_since = dt.date.fromisoformat(p["opp_adopted_on"])
            elif level is not None and p.get("level") == level:
                level4 = _Level4(ev.seq, dt.date.fromisoformat(p["level_since"]), _opp_days(registry, ev),
                                 imported=day)
        if ev.type == "transitioned":
            source, dest = str(p.get("source")), str(p.get("dest"))
            adopts = bool(upcasts.payload(ev).get("adopts_opp"))
            edge = definition.edge(str(p.get("trigger")), source, dest) if definition is not None else None
            revises = edge is not None and edge.revises_opp
            if adopts:
                concept = _since(case, source)
                scopes = adoption_scopes(definition, source, dest)
                if not scopes:
                    r["instemming_handelingsdeel"].add("n/a", text("svc.audit.compliance.no_consent_asked", day=day))
                for scope in scopes:
                    status = consent_status(case.facts, scope)
                    r["instemming_handelingsdeel"].add(
                        "pass" if status == "granted" else "fail",
                        text("svc.audit.compliance.consent", day=day,
                             scope=definition.scope_label(scope) if definition else scope,
                             status=text(CONSENT_WORDS.get(status or "", "svc.audit.compliance.consent.none"))))
                heard = _facts_after(case, concept, "view", party="leerling")
                r["leerling_gehoord"].add(
                    "pass" if heard else "fail",
                    text("svc.audit.compliance.heard" if heard else "svc.audit.compliance.not_heard", day=day))
                oogo = _facts_after(case, concept, "meeting", kind="oogo")
                r["oogo_voor_vaststelling_en_herziening"].add(
                    "pass" if oogo else "fail",
                    text("svc.audit.compliance.oogo" if oogo else "svc.audit.compliance.no_oogo", day=day))
                if level4 is not None and not level4.adopted:
                    due, note = level4.due(case, definition, day)
                    if level4.imported is not None and due < level4.imported:
                        r["opp_binnen_6_weken"].add("n/a", _not_judged(level4, due))
                    else:
                        r["opp_binnen_6_weken"].add(
                            "pass" if day <= due else "fail",
                            text("svc.audit.compliance.opp_adopted", since=level4.start, day=day, due=due, note=note))
                    level4.adopted = True
                if opp_since is None:
                    opp_since = day
            if revises:
                oogo = _facts_after(case, _since(case, source), "meeting", kind="oogo")
                r["oogo_voor_vaststelling_en_herziening"].add(
                    "pass" if oogo else "fail",
                    text("svc.audit.compliance.revision_oogo" if oogo else "svc.audit.compliance.revision_no_oogo",
                         day=day))
        case.apply(ev)
        if ev.type == "transitioned":
            if opp_since is not None and not case.opp_active:
                opp_periods.append((opp_since, day))
                opp_since = None
            level = opp_level(definition)
            if level is not None and case.level == level and level4 is None:
                level4 = _Level4(ev.seq, day, _opp_days(registry, ev))
            elif case.level != level and level4 is not None:
                _close_level4(r["opp_binnen_6_weken"], case, definition, level4, day)
                level4 = None
    if case is None:
        return {"case_id": None, "rules": []}
    if level4 is not None and not level4.adopted:
        if case.closed:
            _close_level4(r["opp_binnen_6_weken"], case, definition, level4,
                          local_date(case.closed_at) if case.closed_at else today)
        else:
            due, note = level4.due(case, definition, today)
            res = r["opp_binnen_6_weken"]
            if level4.imported is not None and due < level4.imported:
                res.add("n/a", _not_judged(level4, due))
            elif today > due:
                res.add("fail", text("svc.audit.compliance.opp_late", since=level4.start, due=due, note=note))
            else:
                res.add("not_due", text("svc.audit.compliance.opp_due", since=level4.start, due=due, note=note))
    if opp_since is not None:
        opp_periods.append((opp_since, None))
    if case.state in {t.source for t in _adopting(definition)} and not r["instemming_handelingsdeel"].findings:
        for name in ("instemming_handelingsdeel", "leerling_gehoord", "oogo_voor_vaststelling_en_herziening"):
            r[name].add("not_due", text("svc.audit.compliance.opp_draft"))
    _yearly(r["opp_jaarlijks_geevalueerd"], case, opp_periods, today, imported)
    _rod(r["rod_geregistreerd"], case, definition, today)
    out: dict[str, Any] = {"case_id": case.case_id, "school": case.school, "state": case.state,
                           "process": f"{case.process_id}@{case.process_version}",
           "rules": [r[name].as_dict() for name in RULES]}
    if imported is not None and case.imported is not None:
        out["imported"] = {"on": imported.isoformat(), "state": case.imported.get("state"),
                           "level_since": case.imported.get("level_since"),
                           "note": text("svc.audit.compliance.imported", day=imported)}
    return out


def _not_judged(level4: _Level4, due: dt.date) -> str:
    return text("svc.audit.compliance.before_import", since=level4.start, due=due, day=level4.imported)


def _rod(res: RuleResult, case: Case, definition: ProcessDefinition | None, today: dt.date) -> None:
    """Each OPP date registered in ROD within the term (from the date, or from the import)."""
    term = DEFAULT_TERM_DAYS
    for dd in definition.deadlines if definition is not None else ():
        if dd.start == "rod" and dd.due is not None:
            term = dd.due.days
    for d in rod_dates(case):
        due = d.due_from + dt.timedelta(days=term)
        what = text(WHICH_WORDS[d.which], date=d.date)
        if d.registered_on is not None:
            res.add("pass", text("svc.audit.compliance.rod_registered", what=what, day=d.registered_on))
        elif today > due:
            res.add("fail", text("svc.audit.compliance.rod_late", what=what, due=due))
        else:
            res.add("not_due", text("svc.audit.compliance.rod_due", what=what, due=due))


def _close_level4(res: RuleResult, case: Case, definition: ProcessDefinition | None, level4: _Level4,
                  left: dt.date) -> None:
    if level4.adopted:
        return
    due, note = level4.due(case, definition, left)
    if left > due:
        res.add("fail", text("svc.audit.compliance.left_without_opp", since=level4.start, left=left, due=due,
                             note=note))
    else:
        res.add("n/a", text("svc.audit.compliance.left_in_time", left=left, due=due, note=note))


def _yearly(res: RuleResult, case: Case, periods: list[tuple[dt.date, dt.date | None]], today: dt.date,
            imported: dt.date | None = None) -> None:
    evals = [f.date for f in case.facts.facts
             if f.kind == "evaluation" and f.fields.get("subject") == "opp" and f.fields.get("with_parents")]
    for since, until in periods:
        start, end = school_year(since)
        while start <= (until or today):
            in_force_at_end = until is None or until > end
            done = [d for d in evals if start <= d <= end]
            year = f"{start.year}-{end.year}"
            if imported is not None and end < imported and not done:
                res.add("n/a", text("svc.audit.compliance.year_before_import", year=year, day=imported))
            elif done:
                res.add("pass", text("svc.audit.compliance.year_evaluated", year=year, day=done[0]))
            elif end < today and in_force_at_end:
                res.add("fail", text("svc.audit.compliance.year_not_evaluated", year=year))
            elif end >= today and until is None:
                res.add("not_due", text("svc.audit.compliance.year_due", year=year, due=end))
            start, end = dt.date(start.year + 1, 8, 1), dt.date(end.year + 1, 7, 31)


# ---- entry point ----------------------------------------------------------------------------
class ComplianceRun:
    """One pass over every case the actor may see (or one school's), streamed.

    Iterating yields each judged case in turn and keeps only what the report needs at the end:
    the per-school summary and the cases whose events cannot be read (`unreadable`, no rules
    judged). So a region or the whole country is judged in the memory of one case, where a list
    of every result grew with the store. Who may see what is checked when the run is made,
    before anything is read or written out.
    """

    def __init__(self, engine: ServiceContext, *, actor: str, school: str | None = None,
                 today: dt.date | None = None) -> None:
        self._engine = engine
        self.schools = engine.schools_for(engine.user(actor), school)
        self.today = today or engine.today()
        self.summary: dict[str, dict[str, dict[str, int]]] = {}
        self.unreadable: list[dict[str, Any]] = []

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self._engine.uow(write=False) as uow:
            for _cid, evs in grouped_events(uow, self.schools):
                res = check_case(evs, self._engine.registry, self.today)
                if res["case_id"] is None:
                    continue
                if "unreadable" in res:
                    self.unreadable.append({"case_id": res["case_id"], "school": res["school"],
                                            "error": res["unreadable"]})
                    continue
                per = self.summary.setdefault(
                    res["school"], {name: dict.fromkeys(STATUSES, 0) for name in RULES})
                for rule in res["rules"]:
                    per[rule["rule"]][rule["status"]] += 1
                yield res


def compliance(engine: ServiceContext, *, actor: str, school: str | None = None,
               today: dt.date | None = None) -> dict[str, Any]:
    """The whole report in memory, every case judged (see ComplianceRun); the CLI streams it."""
    run = ComplianceRun(engine, actor=actor, school=school, today=today)
    results = list(run)
    return {"today": run.today.isoformat(), "rules": list(RULES), "summary": run.summary,
            "cases": results, "unreadable": run.unreadable}

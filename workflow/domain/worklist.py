"""A case's work list: its running deadlines and the consents it waits for, as data a store
can index.

The web app's lists (Mijn werk, the caseload with its deadline filter) and the digest ask the
same questions of every case of a school: which deadlines are due this week or overdue, which
cases wait only for the parents' consent. Folding every case per request to answer them does
not scale, so the event store keeps the answers beside the events (`case_deadlines` and
`case_waiting`), written in the same transaction: this module computes them from a folded case.

The answers depend only on the case's events, never on the day they are read, with one
exception made explicit: a clock in a pausing state (a dispute) moves its due date on by a day
every day, so for a paused clock the row keeps how many days were left when it was written
(`paused_left`), which stays the same for as long as the pause lasts. Everything is computed
"as of" the day of the case's last event, so an audit can recompute it from the events alone.

Statuses follow `deadlines.Running.status`: overdue after the due day, soon from `lead` days
before it (the first reminder's offset), else ok. `status_on` reads a row on any day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from workflow.domain import case as domain
from workflow.domain import deadlines as dl
from workflow.domain import rod
from workflow.domain.case import Case, Decision
from workflow.domain.definition import ProcessDefinition
from workflow.domain.instants import local_date
from workflow.domain.reasons import Reason

OK, SOON, OVERDUE = "ok", "soon", "overdue"
STATUSES = (OK, SOON, OVERDUE)
# Bumped whenever what `derive` computes changes: a store built by an older version is rebuilt
# by `passend init` (service_layer.worklist.ensure_built).
VERSION = 5  # 2: due days moved off non-school days by the school's calendar; 3: a closed case's ROD clocks;
# 4: a case imported past its level's first state runs that state's clock (deadlines._imported_past);
# 5: a consent asked online and not yet answered puts its scope on the case's waiting list


@dataclass(frozen=True)
class DeadlineRow:
    """One running clock as the store keeps it (`case_deadlines`)."""

    deadline: str  # the definition's deadline name
    anchor: str  # which start of the clock (deadlines.Running.anchor)
    started_on: dt.date
    due_on: dt.date  # the due date as of the case's last event (a paused clock's moves on daily)
    lead_days: int  # "soon" from this many days before the due date
    paused_left: int | None  # paused: the days that were left when the pause was written

    @property
    def soon_on(self) -> dt.date:
        return self.due_on - dt.timedelta(days=self.lead_days)

    def due_at(self, today: dt.date) -> dt.date:
        """The due date as it reads on `today` (a paused clock's moves on with the day)."""
        return self.due_on if self.paused_left is None else today + dt.timedelta(days=self.paused_left)

    def days_left(self, today: dt.date) -> int:
        return (self.due_at(today) - today).days

    def status_on(self, today: dt.date) -> str:
        left = self.days_left(today)
        return OVERDUE if left < 0 else SOON if left <= self.lead_days else OK


@dataclass(frozen=True)
class Worklist:
    """What the store keeps of one case for the lists: its clocks, and the consent scopes it
    waits for when the parents' consent is all its next step lacks."""

    deadlines: tuple[DeadlineRow, ...] = ()
    waiting: tuple[str, ...] = ()


EMPTY = Worklist()


def lead_days(dd: dl.DeadlineDef) -> int:
    return max((r.days for r in dd.remind), default=dl.DEFAULT_SOON_DAYS)


def worst(statuses: Iterable[str]) -> str | None:
    """The case's deadline status: its most urgent clock's (None: no clock runs)."""
    found = set(statuses)
    for status in (OVERDUE, SOON, OK):
        if status in found:
            return status
    return None


def acting_role(d: ProcessDefinition, remind_roles: Iterable[str]) -> str:
    """The role whose next steps a reminder and the work list judge: the first reminded role
    the definition knows (the IB by default), else its first writing role."""
    for role in remind_roles:
        if role in d.roles:
            return role
    return next(iter(d.open_roles), next(iter(d.roles)))


def waiting_for_consent(options: Iterable[Decision]) -> list[str]:
    """The consent scopes a case waits for: steps whose only reasons are consents the parents
    have not decided on yet (a code and a status, never wording), or have not decided on for the
    document version now on the table (an OPP whose handelingsdeel changed since they consented)."""
    scopes: list[str] = []
    for o in options:
        if not o.reasons or not all(_awaits_parents(r) for r in o.reasons):
            continue
        for r in o.reasons:
            if r.params["scope"] not in scopes:
                scopes.append(str(r.params["scope"]))
    return scopes


def _awaits_parents(r: Reason) -> bool:
    if r.code == "consent_missing":
        return r.params.get("status") is None
    return r.code in ("consent_unbound", "consent_other_version")


def derive(case: Case, d: ProcessDefinition, role: str, calendar: dl.SchoolDays | None = None) -> Worklist:
    """The case's work list as of its last event; with the school's `calendar`, due days outside
    school days are moved to the school day before, as the reminders and the case page have them."""
    if not case.events:
        return EMPTY
    today = local_date(case.events[-1].recorded_at)
    rows = []
    for r in dl.running(case, d, today, calendar):
        rows.append(DeadlineRow(
            deadline=r.name, anchor=r.anchor, started_on=r.started, due_on=r.due, lead_days=lead_days(r.definition),
            # a paused clock counts the rule's calendar days left; only a running one has a school day
            paused_left=(r.key_due - today).days if r.paused else None))
    waiting = waits_for(case, d, role)
    if not rows and not waiting:
        return EMPTY
    return Worklist(tuple(rows), tuple(waiting))


def waits_for(case: Case, d: ProcessDefinition, role: str) -> list[str]:
    """The consent scopes the school waits on the parents for: what the next step lacks of them
    only (waiting_for_consent), then what they were asked online and have not answered. A closed
    case waits for nobody. The work list and the IB's digest both list these."""
    if case.closed:
        return []
    scopes = waiting_for_consent(domain.options(case, d, role)) if _may_wait(d, case.state) else []
    return scopes + asked_online(case, scopes)


def asked_online(case: Case, known: Iterable[str] = ()) -> list[str]:
    """The scopes the parents were asked online and have not answered yet (beyond `known`): the
    school waits for them too, whether or not the next step needs that consent yet (an expert's
    consent is asked before the meeting with the expert)."""
    seen = set(known)
    scopes: list[str] = []
    for r in sorted(case.requests.values(), key=lambda r: r.seq):
        if r.status == "open" and r.scope not in seen:
            seen.add(r.scope)
            scopes.append(r.scope)
    return scopes


def _may_wait(d: ProcessDefinition, state: str) -> bool:
    """Whether any step from `state` has a guard that can ask for consent: only then can a case
    wait for it. Deciding every step costs more than the rest of a command's bookkeeping, and
    most states have no such step."""
    cache = _MAY_WAIT.get(id(d))
    if cache is None or cache[0] is not d:
        states = {t.source for t in d.transitions if any(_asks_consent(g) for g in t.guards)}
        cache = _MAY_WAIT[id(d)] = (d, frozenset(states))
    return state in cache[1]


def _asks_consent(guard: object) -> bool:
    # A guard kind says which refusal codes it can give (`codes`); one that does not say is
    # assumed to be able to give any, so no waiting case is ever missed.
    codes = getattr(guard, "codes", None)
    return codes is None or "consent_missing" in codes


_MAY_WAIT: dict[int, tuple[ProcessDefinition, frozenset[str]]] = {}
_OUTLIVES: dict[int, tuple[ProcessDefinition, bool]] = {}


def _outlives(d: ProcessDefinition) -> bool:
    """Whether any clock of `d` outlives a case (cached: asked on every append of a closing)."""
    cache = _OUTLIVES.get(id(d))
    if cache is None or cache[0] is not d:
        cache = _OUTLIVES[id(d)] = (d, any(dd.outlives_case for dd in d.deadlines))
    return cache[1]


class Deriver:
    """`derive` with each case's own definition version and the acting role of the reminders'
    `remind_roles`: what the bootstrap hands the store, so every append keeps the rows."""

    def __init__(self, registry: object, remind_roles: Iterable[str] = ("ib",), *,
                 calendars: Callable[[str], dl.SchoolDays | None] | None = None, calendar_key: str = "") -> None:
        self._registry = registry
        self._roles = tuple(remind_roles)
        self._role_of: dict[tuple[str, int], str] = {}
        # The school's calendar (None: due days as the rule has them); `calendar_key` names what
        # the calendars were made from (regions, days off), so a change rebuilds the rows.
        self._calendars = calendars
        self._calendar_key = calendar_key

    @property
    def fingerprint(self) -> str:
        """What a built store was built for: a different one means rebuild."""
        return f"v{VERSION};roles={','.join(self._roles)};calendars={self._calendar_key}"

    def __call__(self, case: Case) -> Worklist:
        d: ProcessDefinition = self._registry.get(case.process_id, case.process_version)  # type: ignore[attr-defined]
        if case.closed and not (_outlives(d) and rod.unregistered(case)):  # the only clocks a closed case runs
            return EMPTY
        role = self._role_of.get(d.key)
        if role is None:
            role = self._role_of[d.key] = acting_role(d, self._roles)
        cal = self._calendars(case.school) if self._calendars is not None else None
        return derive(case, d, role, cal)


def as_rows(worklist: Worklist) -> Mapping[tuple[str, str], DeadlineRow]:
    return {(r.deadline, r.anchor): r for r in worklist.deadlines}

"""Planning: at a given moment, which reminders, escalations and digests are due.

Computes each case's running deadlines (workflow.domain.deadlines), places reminders on school days
(workflow.domain.calendar, through workflow.service_layer.reminders.work) and renders each message once, at planning
time, into an outbox row; the row's key makes planning idempotent, however often or by how many
services it runs. A reminder is due from `send_time` on its (school) day until its deadline's
day: after that the escalation and the digest take over. A digest is only planned on its own day.

`due` folds every open case (everything due, planned or not: what `passend reminders due` shows,
which `listed_chunks` gives without folding every case); `work`, what a tick runs, folds only
the cases whose next action day has come (workflow.service_layer.reminders.work) and returns
the day each of them needs looking at again. The digest still needs every open case, so the one
tick a day that gathers it folds them all.

Messages go to the store's users (the `Users` port, through service_layer.users.Recipients): the
active users of the reminded (or escalated-to) roles who serve the case's school and have an
e-mail address. A planner reads them once, when it first needs them, so a tick reads the users
table once however many cases it plans; a user disabled or added since gets the next tick's
messages. One planner per tick (ReminderService.planner).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workflow.adapters.codec import UNREADABLE, read_instant, read_payload
from workflow.adapters.config import User
from workflow.adapters.logs import get_logger
from workflow.domain import case as domain
from workflow.domain import deadlines as dl
from workflow.domain.calendar import SchoolCalendar
from workflow.domain.case import Case
from workflow.domain.deadline_defs import parse_duration
from workflow.domain.errors import PassendError
from workflow.domain.events import Event, restore_event
from workflow.domain.instants import SCHOOL_TZ, local_date
from workflow.domain.reasons import Reason
from workflow.domain.worklist import acting_role, waits_for
from workflow.messages import render_all, text
from workflow.messages.render import language_held
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.erasure import cases_due_for_erasure
from workflow.service_layer.reminders import ics, messages
from workflow.service_layer.reminders import work as _work
from workflow.service_layer.reminders.digest import SECTIONS, DigestLines
from workflow.service_layer.reminders.settings import ReminderSettings
from workflow.service_layer.reminders.work import Action, Mark, actions, chunks, due_among, due_case_pages, first_day
from workflow.service_layer.users import Recipients

if TYPE_CHECKING:
    from workflow.adapters.ports import CaseProcess, PlannedRow, RawEvent
    from workflow.domain.worklist import DeadlineRow, Worklist

log = get_logger("passend.reminders")


@dataclass
class Work:
    """What a tick plans, and what it learned about the next action day of each case it folded."""

    items: list[Due]
    marks: list[Mark]
    folded: int
    lines: DigestLines | None = None  # what the digests among `items` read when rendered


@dataclass
class Due:
    """One message that is due now (not yet rendered)."""

    key: str
    kind: str  # reminder | escalation | digest
    recipient: str  # user id
    to: tuple[str, ...]
    send_on: dt.date
    case_id: str | None = None
    deadline: str | None = None
    school: str | None = None
    due_on: dt.date | None = None
    meeting: bool = False
    context: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key, "kind": self.kind, "case_id": self.case_id, "deadline": self.deadline,
            "school": self.school, "recipient": self.recipient, "send_on": self.send_on.isoformat(),
            "due": self.due_on.isoformat() if self.due_on else None,
        }


DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # `[web] base_url`'s own default


class Planner:
    """`engine`: the service context (an Engine is one). `mail_domain`: the right-hand side of
    every Message-ID, the sender's domain (workflow.bootstrap reads it from `[notifier] from`).
    `base_url`: the web app's address (`[web] base_url`): each message links to the case's page
    (or, a digest, to Mijn werk); the link holds the case id and nothing else of the case.
    `default_sender`: that `from` itself; a school with its own `from` (`[[schools]]`) sends from
    it, with its domain in the Message-ID."""

    def __init__(self, engine: ServiceContext, settings: ReminderSettings, mail_domain: str = "localhost",
                 base_url: str = DEFAULT_BASE_URL, default_sender: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self._calendars: dict[str, SchoolCalendar] = {}
        self._dates: dict[dt.date, str] = {}  # one string per due date
        self._orders: dict[tuple[str, int], dict[str, tuple[int, dl.DeadlineDef]]] = {}
        self._recipients: Recipients | None = None
        self.domain = mail_domain
        self.default_sender = default_sender

    def calendar(self, school: str) -> SchoolCalendar:
        cal = self._calendars.get(school)
        if cal is None:
            cal = school_calendar(self.engine, school)
            self._calendars[school] = cal
        return cal

    @property
    def recipients(self) -> Recipients:
        """The active users with an address, read from the store once per planner."""
        if self._recipients is None:
            self._recipients = self.engine.users.recipients()
        return self._recipients

    def users(self, roles: tuple[str, ...], school: str) -> list[User]:
        """Who a message of `school` for these roles goes to."""
        return self.recipients.of(roles, school)

    # ---- reading cases -----------------------------------------------------------------------
    def open_cases(self, ids: list[str] | None = None) -> Iterator[Case]:
        """Every open case (or those of `ids`), folded from its events, streamed in case order."""
        for page in (self.open_id_pages() if ids is None else [ids]):
            yield from self._fold_ids(page)

    def open_id_pages(self, size: int | None = None) -> Iterator[list[str]]:
        """The ids of the open cases, a page at a time (keyset on case_id), so no cursor stays
        open while a tick writes between pages and no page holds more than `size` ids."""
        size = size or _work.SCAN_CHUNK
        last = ""
        while True:
            with self.engine.uow(write=False) as uow:
                page = uow.cases.open_ids(after=last, size=size)
            if not page:
                return
            yield page
            last = page[-1]

    def _fold_ids(self, ids: list[str]) -> Iterator[Case]:
        # Open when scanned; one closed since folds to no running deadline, so no join.
        with self.engine.uow(write=False) as uow:
            for part in chunks(ids):
                batch: list[RawEvent] = []
                for rows in uow.store.raw_batches(case_ids=part):
                    for row in rows:
                        if batch and row[0] != batch[0][0]:
                            yield from _fold(batch)
                            batch = []
                        batch.append(row)
                if batch:
                    yield from _fold(batch)

    # ---- what is due ------------------------------------------------------------------------
    def due(self, now: dt.datetime, *, skip_planned_digests: bool = False) -> list[Due]:
        """Everything due at `now`, from every open case. With skip_planned_digests, today's
        digests already in the outbox are not gathered again."""
        return [i for chunk in self.due_chunks(now, skip_planned_digests=skip_planned_digests)
                for i in chunk]

    def due_chunks(self, now: dt.datetime, *, skip_planned_digests: bool = False) -> Iterator[list[Due]]:
        """`due`, a page of open cases at a time (the digests last). Each Due holds its folded
        case until it is rendered, so a caller that only lists them (`reminders due`) drops
        each chunk before the next: a whole region's due list held every due case's history."""
        for w in self._plan(now, skip_planned_digests=skip_planned_digests, only=None):
            yield w.items

    def listed_chunks(self, now: dt.datetime) -> Iterator[list[Due]]:
        """What `passend reminders due` lists: the items of `due_chunks` (planned or not), in the
        same order, without folding every open case.

        The cases of the tick's due-work scan (an index range on `next_action_on`, and
        `planned_on`) are read from their running clocks in the work list's read model
        (`_from_clocks`: what a fold would give, without reading their events); those it cannot read so
        are folded. Any other open case has had no event since it was last planned, and
        nothing it has due now was unreached then (its next action day would have come: the
        scan would return it), so what it has due is what was planned then, and is in the
        outbox: its latest planned reminder of each running clock (while the deadline has not
        passed) and its escalations, sent to whoever holds the role now (`_from_outbox`, checked
        against the clocks of the work list's read model; a case it cannot read that way
        plainly is folded). No other open case can have anything due
        (workflow.service_layer.reminders.work).

        A digest's line in the list only says that the IB has one: whether it has anything to
        list is read from the work list's read model (the same four lists as Mijn werk) instead
        of gathering its lines from every open case. On a store whose work list is not built
        for this version, the digests come from every open case folded, as before, and the
        scanned and planned cases are folded too."""
        local = now.astimezone(SCHOOL_TZ)
        today, time = local.date(), local.time().replace(tzinfo=None)
        users = self._digest_users(today, False) \
            if self.settings.digest and time >= self.settings.digest_time else []
        ready = self._worklist_ready()
        if users and not ready:
            yield from self.due_chunks(now)
            return
        planned: dict[str, list[PlannedRow]] = {}
        for row in self.engine.store.outbox.open_window_rows(today):
            planned.setdefault(row.case_id, []).append(row)
        scan: set[str] = set()
        for page in due_case_pages(self.engine.store, self._through(local), today):
            scan.update(page)
        for chunk in chunks(sorted(scan | planned.keys())):
            known: dict[str, list[Due]] = {}
            if ready:  # the chunk's work lists read once, with the scanned cases' rows
                scanned = [c for c in chunk if c in scan]
                with self.engine.uow(write=False) as uow:
                    lists = uow.cases.worklists(chunk)
                    heads = uow.cases.processes_of(scanned) if scanned else {}
                known = self._from_outbox([c for c in chunk if c not in scan], planned, today, lists)
                known.update(self._from_clocks(scanned, today, time, lists, heads))
            fold = [c for c in chunk if c not in known]
            folded: dict[str, list[Due]] = {}
            for w in self._plan(now, skip_planned_digests=False, only=None, pages=[fold], digests=False):
                for item in w.items:
                    folded.setdefault(item.case_id or "", []).append(item)
            yield [i for c in chunk for i in (known[c] if c in known else folded.get(c, []))]
        if users:
            yield self._listed_digests(users, today)

    def _from_outbox(self, ids: list[str], planned: dict[str, list[PlannedRow]],
                     today: dt.date, lists: dict[str, Worklist]) -> dict[str, list[Due]]:
        """What each of `ids` (cases the scan does not return) has due today, from its planned
        rows: per running clock (the read model's, not paused), the latest planned reminder if
        its deadline has not passed (latest: the last send day; of two on one day, the shorter
        offset, as `_for_deadline` picks) and the escalation, each to the role's users now. A
        case whose rows do not all fit its clocks as they stand (a due day moved since, a clock
        restarted), or with something due on more than one clock (their order is the
        definition's), is left out: the caller folds it."""
        if not ids:
            return {}
        out: dict[str, list[Due]] = {}
        for cid in ids:
            rows = planned[cid]
            school = rows[0].school
            if school not in self.engine.config.schools:
                out[cid] = []  # the fold skips a case of a school no longer configured
                continue
            clocks = [r for r in lists[cid].deadlines if r.paused_left is None] if cid in lists else []
            due: dict[tuple[str, str], tuple[tuple[PlannedRow, int] | None, PlannedRow | None, str]] = {}
            fits = True
            for row in rows:
                clock = next((c for c in clocks if row.key.startswith(f"{row.kind}:{cid}:{c.deadline}:{c.anchor}:")),
                             None)
                if clock is None:
                    continue  # a clock that stopped (or pauses): nothing of it is due
                base = f"{cid}:{clock.deadline}:{clock.anchor}:"
                rest = row.key[len(row.kind) + 1 + len(base):]
                if row.due_on != clock.due_on or len(rest) < 11 or rest[10] != ":":
                    fits = False
                    break
                key_due = rest[:10]
                reminder, escalation, _ = due.get((clock.deadline, clock.anchor), (None, None, key_due))
                if row.kind == "escalation":
                    escalation = row
                elif row.due_on is not None and row.due_on >= today:
                    offset = parse_duration(rest[11:].split(":", 1)[0])
                    if offset is None:
                        fits = False
                        break
                    if reminder is None or _later((row, offset.days), reminder):
                        reminder = (row, offset.days)
                due[(clock.deadline, clock.anchor)] = (reminder, escalation, key_due)
            if not fits or len([k for k, v in due.items() if v[0] or v[1]]) > 1:
                continue
            items: list[Due] = []
            for (deadline, anchor), (reminder, escalation, key_due) in due.items():
                base = f"{cid}:{deadline}:{anchor}:{key_due}"
                if reminder is not None:
                    offset_text = reminder[0].key[len(f"reminder:{base}:"):].split(":", 1)[0]
                    items.extend(Due(key=f"reminder:{base}:{offset_text}:{u.id}", kind="reminder", recipient=u.id,
                                     to=(str(u.email),), send_on=reminder[0].send_on, case_id=cid,
                                     deadline=deadline, school=school, due_on=reminder[0].due_on)
                                 for u in self.users(self.settings.remind_roles, school))
                if escalation is not None:
                    items.extend(Due(key=f"escalation:{base}:{u.id}", kind="escalation", recipient=u.id,
                                     to=(str(u.email),), send_on=escalation.send_on, case_id=cid, deadline=deadline,
                                     school=school, due_on=escalation.due_on)
                                 for u in self.users(self.settings.escalate_roles, school))
            out[cid] = items
        return out

    def _from_clocks(self, ids: list[str], today: dt.date, time: dt.time, lists: dict[str, Worklist],
                     heads: dict[str, CaseProcess]) -> dict[str, list[Due]]:
        """What each of `ids` (cases of the scan: something of theirs is newly reached, or they
        were written since they were last planned) has due at (today, time), from the running
        clocks of the work list's read model instead of a fold: `_for_deadline`'s own choice
        over each clock, rebuilt as deadlines.Running from its row and its definition.

        Why it is the fold's answer: the rows are written with the events (in their transaction)
        and hold `running` as of the case's last event, with the calendars of the fingerprint
        `_worklist_ready` checked; a clock that is not paused does not depend on the day, and a
        paused one has no actions (so neither is listed). What a row does not hold is the rule's
        own due day, which names the clock in the keys (`_key_due`); when it cannot be told, the
        case is left out and the caller folds it. So is a case whose definition is not
        installed, one with a clock the definition does not know, and one with something due on
        two clocks of one deadline (their order is the fold's); clocks of different deadlines
        list in the definition's order, as `deadlines.running` does. What it cannot see: a case
        whose stored events no longer fold (the fold logs and skips it; its rows still list).
        `lists` and `heads`: their work lists and `cases` rows, read in one unit of work."""
        out: dict[str, list[Due]] = {}
        for cid in ids:
            head = heads.get(cid)
            if head is None:
                continue
            if head.school not in self.engine.config.schools:
                out[cid] = []  # the fold skips a case of a school no longer configured
                continue
            try:
                order = self._deadline_order(head.process_id, head.process_version)
            except PassendError:
                continue  # the fold logs it
            cal = self.calendar(head.school)
            found: list[tuple[int, str, list[Due]]] = []
            fits = True
            for row in lists[cid].deadlines if cid in lists else ():
                if row.paused_left is not None:
                    continue  # paused: no actions
                known = order.get(row.deadline)
                key_due = None if known is None or head.last_event_at is None else \
                    _key_due(row, known[1], cal, local_date(head.last_event_at))
                if known is None or key_due is None:
                    fits = False
                    break
                index, dd = known
                r = dl.Running(name=dd.name, label=dd.label, anchor=row.anchor, started=row.started_on,
                               due=row.due_on, paused=False, paused_days=0, definition=dd,
                               rule_due=None if key_due == row.due_on else key_due)
                items = self._clock_items(cid, head.school, r, cal, today, time)
                if items:
                    found.append((index, row.deadline, items))
            if not fits or len({name for _, name, _ in found}) < len(found):
                continue
            found.sort(key=lambda f: f[0])
            out[cid] = [i for _, _, items in found for i in items]
        return out

    def _deadline_order(self, process_id: str, version: int) -> dict[str, tuple[int, dl.DeadlineDef]]:
        """Each deadline of a definition version by name: its place in the definition, and itself."""
        key = (process_id, version)
        order = self._orders.get(key)
        if order is None:
            d = self.engine.registry.get(process_id, version)
            order = self._orders[key] = {dd.name: (i, dd) for i, dd in enumerate(d.deadlines)}
        return order

    def _worklist_ready(self) -> bool:
        from workflow.service_layer.worklist import fingerprint

        wanted = fingerprint(self.engine)
        if wanted is None:
            return False
        with self.engine.uow(write=False) as uow:
            return uow.cases.worklist_built() == wanted

    def _listed_digests(self, users: list[User], today: dt.date) -> list[Due]:
        """The digests `_digests` would make for `users` today, told from the read model: an IB
        gets one when a school of theirs has a clock overdue or due within the week, a case
        waiting for consent, or a closed case due for erasure. Listed, never rendered."""
        week = today + dt.timedelta(days=6)
        busy: dict[str, bool] = {}
        with self.engine.uow(write=False) as uow:
            for s in self.engine.config.schools:
                busy[s] = uow.cases.deadline_lines(s, today=today, since=None, through=week, limit=1)[1] > 0 \
                    or uow.cases.waiting_lines(s, limit=1)[1] > 0
        out: list[Due] = []
        for u in users:
            schools = [s for s in self.engine.config.schools if u.serves(s)]
            if any(busy[s] for s in schools) or any(self._erasure(s, today) for s in schools):
                out.append(Due(key=digest_key(u.id, today), kind="digest", recipient=u.id,
                               to=(str(u.email),), send_on=today))
        return out

    def _through(self, local: dt.datetime) -> dt.date:
        """The last day whose actions are reached at `local` (before send_time: yesterday)."""
        today = local.date()
        return today if local.time().replace(tzinfo=None) >= self.settings.send_time else \
            today - dt.timedelta(days=1)

    def work(self, now: dt.datetime) -> Work:
        """What a tick plans at `now`, all chunks of `work_chunks` together (tests, benchmarks)."""
        out = Work([], [], 0)
        for w in self.work_chunks(now):
            out.items.extend(w.items)
            out.marks.extend(w.marks)
            out.folded += w.folded
        return out

    def work_chunks(self, now: dt.datetime) -> Iterator[Work]:
        """What a tick plans at `now`, a chunk of cases at a time: reminders and escalations of
        the cases whose next action day has come, then today's digests not planned yet (which
        need every open case). The caller stores each chunk before asking for the next, so a
        tick holds one chunk of cases, not all of them."""

        local = now.astimezone(SCHOOL_TZ)
        # Before send_time nothing dated today is reached yet, so cases whose next action day is
        # today wait for a later tick instead of being folded by every tick of the night.
        return self._plan(now, skip_planned_digests=True, only=(self._through(local), local.date()))

    def _plan(self, now: dt.datetime, *, skip_planned_digests: bool,
              only: tuple[dt.date, dt.date] | None, pages: Iterable[list[str]] | None = None,
              digests: bool = True) -> Iterator[Work]:
        """One Work per chunk of folded cases; the digests, if today gathers them, come last.
        `only` = (through, today): the cases of the due-work scan (workflow.service_layer.reminders.work),
        read a page at a time; None: every open case. A digest needs every open case, so on its
        tick every open case is streamed, page by page; the lines the digests list go to disk
        (workflow.service_layer.reminders.digest) until the last page is read, and the due cases among the
        pages are those of the scan's ranges. `pages`: fold these ids instead (every one planned);
        `digests=False`: gather no digest."""
        local = now.astimezone(SCHOOL_TZ)
        today, time = local.date(), local.time().replace(tzinfo=None)
        users = self._digest_users(today, skip_planned_digests) \
            if digests and self.settings.digest and time >= self.settings.digest_time else []
        lines = DigestLines({s: c.name for s, c in self.engine.config.schools.items()}) if users else None
        digest = lines is not None
        if pages is None:
            pages = self.open_id_pages() if only is None or digest else due_case_pages(self.engine.store, *only)
        for page in pages:
            wanted = None
            if only is not None and digest:  # which of these open cases the scan would return
                wanted = due_among(self.engine.store, page, *only)
            out: list[Due] = []
            marks: list[Mark] = []
            folded = 0
            for case in self._fold_ids(page):
                folded += 1
                if case.school not in self.engine.config.schools:
                    continue
                plan = wanted is None or case.case_id in wanted
                try:
                    d = self.engine.definition_of(case)
                    cal = self.calendar(case.school)
                    unreached: list[Action] = []
                    for r in dl.running(case, d, today, cal):
                        if plan:
                            out.extend(self._for_deadline(case, d, r, cal, today, time, unreached))
                        if lines is not None:
                            self._collect_digest(lines, case, r, today)
                    if lines is not None:
                        self._collect_consent(lines, case, d)
                    if plan:
                        marks.append(Mark(case.case_id, case.version, first_day(unreached), today))
                except PassendError as exc:  # e.g. a definition version no longer installed
                    log.warning("reminders.case_skipped", case_id=case.case_id, error=exc.message)
            if out or marks or folded:
                yield Work(out, marks, folded)
        if lines is not None:
            # The digests read their lines from `lines` when rendered: the caller closes it once
            # they are (ReminderService.plan); else it is closed when the last of them is dropped.
            yield Work(self._digests(lines, today, users), [], 0, lines)

    def _digest_users(self, today: dt.date, skip_planned: bool) -> list[User]:
        """Active IBs with an address for whom today is a school day (and, optionally, no digest yet)."""
        users = []
        for u in self.recipients.with_roles(self.settings.remind_roles):
            schools = [s for s in self.engine.config.schools if u.serves(s)]
            if any(self.calendar(s).is_school_day(today) for s in schools):
                users.append(u)
        if skip_planned and users:
            have = self.engine.store.outbox.existing_keys([digest_key(u.id, today) for u in users])
            users = [u for u in users if digest_key(u.id, today) not in have]
        return users

    def _reached(self, day: dt.date, today: dt.date, time: dt.time) -> bool:
        return today > day or (today == day and time >= self.settings.send_time)

    def _for_deadline(self, case: Case, d: Any, r: dl.Running, cal: SchoolCalendar,
                      today: dt.date, time: dt.time, unreached: list[Action] | None = None) -> list[Due]:
        """The reminders and escalations of one clock reached at (today, time), each holding what
        rendering it needs; the actions not reached yet go to `unreached` (their first send day
        is the case's next action day)."""
        return self._clock_items(case.case_id, case.school, r, cal, today, time, unreached,
                                 {"case": case, "definition": d, "running": r, "today": today})

    def _clock_items(self, case_id: str, school: str, r: dl.Running, cal: SchoolCalendar, today: dt.date,
                     time: dt.time, unreached: list[Action] | None = None,
                     context: dict[str, Any] | None = None) -> list[Due]:
        """`_for_deadline` given the case's id and school only: its items carry `context` (plus
        the actor) when given, else none (listed, never rendered: `_from_clocks`)."""
        out: list[Due] = []
        # The rule's own day names the clock (a due day moved to a school day keeps its keys).
        base = f"{case_id}:{r.name}:{r.anchor}:{r.key_due.isoformat()}"
        acts = actions(r, cal)
        # After downtime several reminders of one clock can be due at once (2 weeks and 3 days
        # before): only the latest goes out; the earlier ones were missed and say less.
        due_now = [a for a in acts if a.kind == "reminder" and self._reached(a.send_on, today, time)
                   and a.open_on(today)]
        latest = max(due_now, key=lambda a: (a.send_on, -(a.offset.days if a.offset else 0)), default=None)
        for a in acts:
            if not self._reached(a.send_on, today, time):
                if unreached is not None:
                    unreached.append(a)
                continue
            if not a.open_on(today) or (a.kind == "reminder" and a is not latest):
                continue
            if a.kind == "reminder":
                assert a.offset is not None
                for u in self.users(self.settings.remind_roles, school):
                    out.append(Due(
                        key=f"reminder:{base}:{a.offset.text}:{u.id}", kind="reminder", recipient=u.id,
                        to=(str(u.email),), send_on=a.send_on, case_id=case_id, deadline=r.name,
                        school=school, due_on=r.due, meeting=r.definition.meeting,
                        context={} if context is None else {**context, "actor": u.id},
                    ))
            else:
                for u in self.users(self.settings.escalate_roles, school):
                    out.append(Due(
                        key=f"escalation:{base}:{u.id}", kind="escalation", recipient=u.id,
                        to=(str(u.email),), send_on=a.send_on, case_id=case_id, deadline=r.name,
                        school=school, due_on=r.due,
                        context={} if context is None else {**context, "actor": u.id},
                    ))
        return out

    # ---- digest -----------------------------------------------------------------------------
    def _collect_digest(self, lines: DigestLines, case: Case, r: dl.Running, today: dt.date) -> None:
        left = (r.due - today).days
        if left > 6:
            return
        due = self._dates.get(r.due)
        if due is None:
            due = self._dates[r.due] = messages.date_nl(r.due)
        lines.add(case.school, "overdue" if left < 0 else "due_week", case.case_id, r.label, due)

    def _collect_consent(self, lines: DigestLines, case: Case, d: Any) -> None:
        scopes = waits_for(case, d, acting_role(d, self.settings.remind_roles))
        if scopes:
            lines.add_consent(case.school, case.case_id, [d.scope_label(s) for s in scopes])

    def _erasure(self, school: str, today: dt.date) -> list[dict[str, Any]]:
        name = self.engine.config.schools[school].name
        return [{"case_id": e["case_id"], "school": name, "closed": e["closed_at"][:10], "due": e["due"]}
                for e in cases_due_for_erasure(self.engine, today=today, school=school)]

    def _digests(self, lines: DigestLines, today: dt.date, users: list[User]) -> list[Due]:
        """One digest per IB with something to list. Its sections are views on `lines` for the
        IB's schools (in config order), read from disk when the digest is rendered."""
        out: list[Due] = []
        for u in users:
            schools = [s for s in self.engine.config.schools if u.serves(s)]
            parts: dict[str, Any] = {k: lines.section(schools, k) for k in SECTIONS}
            parts["erasure"] = [e for s in schools for e in self._erasure(s, today)]
            if not any(parts.values()):
                continue
            out.append(Due(
                key=digest_key(u.id, today), kind="digest", recipient=u.id,
                to=(str(u.email),), send_on=today, context={"parts": parts, "today": today, "actor": u.id},
            ))
        return out

    # ---- rendering --------------------------------------------------------------------------
    def case_url(self, case_id: str) -> str:
        return f"{self.base_url}/casus/{case_id}"

    def sender(self, item: Due) -> str | None:
        """Who `item` goes out from: its school's own `from`; for a digest, the one `from` all
        of the IB's schools share; else the global `[notifier] from` (None: the notifier's)."""
        cfg = self.engine.config
        if item.school is not None:
            schools = [item.school]
        else:
            user = self.recipients.get(item.recipient)
            schools = [s for s in cfg.schools if user is not None and user.serves(s)]
        own = {cfg.schools[s].sender for s in schools if s in cfg.schools}
        if len(own) == 1 and None not in own:
            return own.pop()
        return self.default_sender

    def render(self, item: Due, now: dt.datetime) -> dict[str, Any]:
        """The outbox row for `item`: the full message, fixed now so a resend is identical. The
        language is read once for all of it: dates, reasons, the templates and the calendar item."""
        with language_held():
            return self._render(item, now)

    def _render(self, item: Due, now: dt.datetime) -> dict[str, Any]:
        sender = self.sender(item)
        domain = sender.rsplit("@", 1)[-1] if sender else self.domain
        mid = messages.message_id(item.key, domain)
        ics_text = None
        if item.kind == "digest":
            parts, today = item.context["parts"], item.context["today"]
            ctx = {**parts, "day": messages.date_nl(today), "day_long": messages.date_long(today),
                   "actor": item.context["actor"], "base_url": self.base_url, "work_url": self.base_url + "/"}
            subject, body, html = messages.render("digest", ctx)
        else:
            case, d, r, today = (item.context[k] for k in ("case", "definition", "running", "today"))
            ctx = {
                "case_id": case.case_id, "school": self.engine.config.schools[case.school].name,
                "group": case.group, "label": r.label, "due": messages.date_nl(r.due),
                "due_long": messages.date_long(r.due), "days_left": (r.due - today).days,
                "overdue_days": (today - r.due).days, "state_label": d.states[case.state].label,
                "missing": render_all(missing(case, d, r.definition, acting_role(d, self.settings.remind_roles)), d),
                "meeting": item.meeting,
                "actor": item.context["actor"],
                "case_url": self.case_url(case.case_id),
            }
            subject, body, html = messages.render(item.kind, ctx)
            if item.kind == "reminder" and item.meeting:
                ics_text = ics.all_day_event(
                    uid=mid.strip("<>"), day=r.due, stamp=now,
                    summary=text("mail.reminder.ics.summary", label=r.label, case=case.case_id),
                    description=text("mail.reminder.ics.description", url=self.case_url(case.case_id)),
                )
        return {
            "key": item.key, "kind": item.kind, "case_id": item.case_id, "deadline": item.deadline,
            "school": item.school, "recipient": item.recipient, "to_addrs": ", ".join(item.to),
            "send_on": item.send_on, "due_on": item.due_on, "subject": subject, "body_text": body,
            "body_html": html, "ics": ics_text, "message_id": mid, "sender": sender,
        }


def _later(one: tuple[PlannedRow, int], than: tuple[PlannedRow, int]) -> bool:
    """Whether the reminder (row, offset days) `one` is later than `than` as `_for_deadline`
    picks the latest: the last send day; on one day, the shorter offset."""
    return (one[0].send_on, -one[1]) > (than[0].send_on, -than[1])


def _key_due(clock: DeadlineRow, dd: dl.DeadlineDef, cal: SchoolCalendar, last: dt.date) -> dt.date | None:
    """The rule's own due day of a running clock of the work list (None: it cannot be told).

    The row holds the due day as given, `cal.on_or_before` the rule's day (deadlines.running):
    - that day is the rule's own when the day after it is a school day too, as the calendar
      only moves a day back over non-school days;
    - else (a due day just before a weekend or a holiday) the rule's day is the clock's start
      plus its duration when no day of a pause counts (deadlines.paused_days): the clock is not
      paused (the caller skips paused ones), so every pause the case was in has ended, on the
      day of a later state entry, none later than `last` (the day of the case's latest event;
      an import's own days lie before it); a clock that starts on or after `last` (a plan's
      evaluation, from the plan's end) counts no day of them."""
    due = clock.due_on
    if cal.is_school_day(due) and cal.is_school_day(due + dt.timedelta(days=1)):
        return due
    if dd.due is None or clock.started_on < last:
        return None
    day = clock.started_on + dd.due.delta
    return day if day >= due and cal.on_or_before(day) == due else None


def _event(row: RawEvent) -> Event:
    """A stored row as an Event; the payload is read by the codec's fast path (json's C scanner,
    a quarter of the fold's cost with json.loads' Python layers), and a garbled one by
    json.loads, whose own error (a JSONDecodeError, say) is what the log names."""
    cid, seq, typ, pid, pver, actor, role, at, payload, prev, h = row
    when = read_instant(at)
    if when is None:
        raise ValueError(f"event {seq} of case {cid}: time unreadable")
    body = read_payload(payload)
    if body is UNREADABLE:
        body = json.loads(payload)  # raises what is wrong with it
    return restore_event(cid, seq, typ, pid, pver, actor, role, when, body, prev, h, payload)


def _fold(events: list[RawEvent]) -> Iterator[Case]:
    """One case from its events; a case that cannot be folded is logged and skipped, so one
    broken history never silences every other case's reminders."""
    try:  # reading the stored JSON is part of folding: a garbled payload skips its case too
        case = Case.from_events([_event(r) for r in events])
    except (ValueError, KeyError, TypeError, PassendError) as exc:
        log.error("reminders.case_unreadable", case_id=events[0][0], error_type=type(exc).__name__)
        return
    yield case


def school_calendar(engine: ServiceContext, school: str) -> SchoolCalendar:
    """The calendar of one configured school; a bad `days_off` entry names file and key."""
    idx = list(engine.config.schools).index(school)
    return SchoolCalendar.for_school(engine.config.schools[school], f"{engine.config.path}: schools[{idx}]")


def digest_key(user: str, day: dt.date) -> str:
    return f"digest:{user}:{day.isoformat()}"


def missing(case: Case, d: Any, dd: dl.DeadlineDef, role: str = "ib") -> list[Reason]:
    """What `role` still has to do to meet `dd`, from the guards of the next steps, as reasons
    (rendered through the message catalog in the mail)."""
    out: list[Reason] = []
    goals = [c.entered for c in dd.stop if c.entered]
    goal = goals[0] if goals else None
    if goal is not None:
        options = domain.options(case, d, role)
        direct = [o for o in options if o.dest == goal]
        for o in direct:
            if o.allowed:
                out.append(Reason("step_ready", {"trigger": o.trigger}))
            out.extend(r for r in o.reasons if r not in out)
        if not direct:
            for o in options:
                nxt = [t for t in d.transitions if t.source == o.dest and t.dest == goal]
                if not o.allowed or not nxt:
                    continue
                out.append(Reason("step_first", {"trigger": o.trigger}))
                for t in nxt:
                    out.extend(Reason("needed_for", {"trigger": t.trigger, "need": g.explain({}, t.source).as_dict()})
                               for g in t.guards)
    for c in (*dd.stop, *dd.restart):
        if c.evidence is None:
            continue
        out.append(Reason("to_record", {"kind": c.evidence, "where": dict(c.where)}))
    return out

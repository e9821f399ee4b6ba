"""The work list on SQL (`case_deadlines`, `case_waiting`; workflow.domain.worklist): kept by the
event store's appends, read by the lists of the web app.

Writing: an append computes the case's work list (the store's `derive`), reads what is stored
(one statement for both tables) and writes only the rows that changed, so a command that moves
no clock and no consent writes nothing here: no extra page in its commit. Straight to the
driver, as the rest of the append path (store.eventstore explains why).

Reading: the lists a person reads (Mijn werk's deadlines and waiting cases, the caseload with
its filters), each an index range (migration 0011), through SQLAlchemy Core.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import Connection, and_, delete, exists, func, insert, literal_column, not_, or_, select, tuple_

from workflow.adapters.ports import CaseloadQuery, CaseloadRow, DeadlineLine, WaitingLine
from workflow.adapters.store.tables import case_deadlines, case_waiting, cases, read_models

if TYPE_CHECKING:
    from workflow.domain.worklist import DeadlineRow, Worklist


class Driver(Protocol):
    """What the sync needs of the event store's driver (store.eventstore.Driver)."""

    def execute(self, text: str, params: Sequence[Any], *, prepare: bool | None = None) -> Any: ...

    def rows_in(self, text: str, ids: Sequence[Any], *, chunk: int = 500) -> Iterator[Any]: ...

    def defer(self, text: str, params: Sequence[Any]) -> None: ...

    def date(self, value: Any) -> Any: ...

NAME = "worklist"
_DEADLINE_COLUMNS = ("deadline", "anchor", "started_on", "due_on", "soon_on", "lead_days", "paused_left")
_SELECT_STORED = (
    f"SELECT {', '.join(_DEADLINE_COLUMNS)} FROM case_deadlines WHERE case_id = ?"
    " UNION ALL SELECT NULL, scopes, NULL, NULL, NULL, NULL, NULL FROM case_waiting WHERE case_id = ?"
)
_INSERT_DEADLINE = ("INSERT INTO case_deadlines (case_id, school, deadline, anchor, started_on, due_on, soon_on,"
                    " lead_days, paused_left) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE_DEADLINE = ("UPDATE case_deadlines SET started_on = ?, due_on = ?, soon_on = ?, lead_days = ?,"
                    " paused_left = ? WHERE case_id = ? AND deadline = ? AND anchor = ?")
_DELETE_DEADLINE = "DELETE FROM case_deadlines WHERE case_id = ? AND deadline = ? AND anchor = ?"
_INSERT_WAITING = "INSERT INTO case_waiting (case_id, school, scopes) VALUES (?, ?, ?)"
_UPDATE_WAITING = "UPDATE case_waiting SET scopes = ? WHERE case_id = ?"
_DELETE_WAITING = "DELETE FROM case_waiting WHERE case_id = ?"


def scopes_text(scopes: Sequence[str]) -> str | None:
    return json.dumps(list(scopes), ensure_ascii=False, separators=(",", ":")) if scopes else None


def _date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def ask_stored(drv: Driver, case_id: str) -> Any:
    """The cursor of the stored rows' read, for `sync` (the event store sends it with its append's
    own statements, which on PostgreSQL saves a round trip)."""
    return drv.execute(_SELECT_STORED, (case_id, case_id), prepare=True)


def sync(drv: Driver, case_id: str, school: str, new: Worklist, *, fresh: bool, stored_cursor: Any = None) -> None:
    """Make the stored rows of `case_id` those of `new`, writing only what differs (`fresh`: a
    new case, nothing stored yet; `stored_cursor`: `ask_stored`'s, when it was asked already)."""
    from workflow.domain.worklist import DeadlineRow

    stored: dict[tuple[str, str], DeadlineRow] = {}
    waiting: str | None = None
    if not fresh:
        cur = stored_cursor if stored_cursor is not None else ask_stored(drv, case_id)
        for row in cur.fetchall():
            if row[0] is None:
                waiting = row[1]
                continue
            stored[(row[0], row[1])] = DeadlineRow(row[0], row[1], _date(row[2]), _date(row[3]), row[5], row[6])
    elif not new.deadlines and not new.waiting:
        return
    wanted = {(r.deadline, r.anchor): r for r in new.deadlines}
    for key in stored.keys() - wanted.keys():
        drv.defer(_DELETE_DEADLINE, (case_id, *key))
    for key, r in wanted.items():
        old = stored.get(key)
        if old is None:
            drv.defer(_INSERT_DEADLINE, (case_id, school, r.deadline, r.anchor, drv.date(r.started_on),
                                           drv.date(r.due_on), drv.date(r.soon_on), r.lead_days, r.paused_left))
        elif old != r:
            drv.defer(_UPDATE_DEADLINE, (drv.date(r.started_on), drv.date(r.due_on), drv.date(r.soon_on),
                                           r.lead_days, r.paused_left, case_id, *key))
    text = scopes_text(new.waiting)
    if text != waiting:
        if waiting is None:
            drv.defer(_INSERT_WAITING, (case_id, school, text))
        elif text is None:
            drv.defer(_DELETE_WAITING, (case_id,))
        else:
            drv.defer(_UPDATE_WAITING, (text, case_id))


def insert_many(conn: Connection, items: Sequence[tuple[str, str, Worklist]]) -> None:
    """The rows of whole new cases (a bulk import): one statement per table."""
    rows = [{"case_id": cid, "school": school, "deadline": r.deadline, "anchor": r.anchor,
             "started_on": r.started_on, "due_on": r.due_on, "soon_on": r.soon_on, "lead_days": r.lead_days,
             "paused_left": r.paused_left} for cid, school, w in items for r in w.deadlines]
    waits = [{"case_id": cid, "school": school, "scopes": scopes_text(w.waiting)}
             for cid, school, w in items if w.waiting]
    if rows:
        conn.execute(insert(case_deadlines), rows)
    if waits:
        conn.execute(insert(case_waiting), waits)


# ---- reading ---------------------------------------------------------------------------------
d, w, c = case_deadlines.c, case_waiting.c, cases.c


def _line(r: Any) -> DeadlineLine:
    return DeadlineLine(r.case_id, r.school, r.deadline, r.anchor, r.started_on, r.due_on, r.soon_on,
                        r.lead_days, r.paused_left)


_LINE_COLUMNS = (d.case_id, d.school, d.deadline, d.anchor, d.started_on, d.due_on, d.soon_on, d.lead_days,
                 d.paused_left)


def deadline_lines(conn: Connection, school: str, *, today: dt.date, since: dt.date | None, through: dt.date,
                   limit: int) -> tuple[list[DeadlineLine], int]:
    running = [d.school == school, d.paused_left.is_(None), d.due_on <= through]
    if since is not None:
        running.append(d.due_on >= since)
    lines = [_line(r) for r in conn.execute(
        select(*_LINE_COLUMNS).where(*running).order_by(d.due_on, d.case_id, d.deadline).limit(limit))]
    total = conn.execute(select(func.count()).select_from(case_deadlines).where(*running)).scalar_one()
    # A paused clock's due date moves on with the day: compare its days left (few rows: disputes).
    low = None if since is None else (since - today).days
    high = (through - today).days
    paused = [_line(r) for r in conn.execute(
        select(*_LINE_COLUMNS).where(d.school == school, d.paused_left.is_not(None)))
        if (low is None or r.paused_left >= low) and r.paused_left <= high]
    if paused:
        def key(x: DeadlineLine) -> tuple[dt.date, str, str]:
            due = x.due_on if x.paused_left is None else today + dt.timedelta(days=x.paused_left)
            return due, x.case_id, x.deadline

        lines = sorted(lines + paused, key=key)[:limit]
        total += len(paused)
    return lines, int(total)


def waiting_lines(conn: Connection, school: str, *, limit: int) -> tuple[list[WaitingLine], int]:
    rows = conn.execute(select(w.case_id, w.school, w.scopes).where(w.school == school)
                        .order_by(w.case_id).limit(limit))
    lines = [WaitingLine(r.case_id, r.school, tuple(json.loads(r.scopes))) for r in rows]
    total = conn.execute(select(func.count()).select_from(case_waiting).where(w.school == school)).scalar_one()
    return lines, int(total)


def state_counts(conn: Connection, school: str) -> dict[str, int]:
    """Cases per state of one school: a GROUP BY on ix_cases_school_state (covering)."""
    rows = conn.execute(select(cases.c.state, func.count()).where(cases.c.school == school)
                        .group_by(cases.c.state))
    return {str(state): int(n) for state, n in rows}


def _row_conditions(today: dt.date) -> dict[str, Any]:
    """A work list row's conditions on `today` (workflow.domain.worklist: a paused clock is read
    from its days left, since its due date moves on with the day)."""
    return {
        "overdue": or_(and_(d.paused_left.is_(None), d.due_on < today), d.paused_left < 0),
        "soonish": or_(and_(d.paused_left.is_(None), d.soon_on <= today), d.paused_left <= d.lead_days),
        "week": or_(and_(d.paused_left.is_(None), d.due_on >= today, d.due_on <= today + dt.timedelta(days=6)),
                    and_(d.paused_left >= 0, d.paused_left <= 6)),
    }


def _deadline_filter(status: str, today: dt.date) -> Any:
    """The case's worst clock is `status` on `today` (see workflow.domain.worklist); "week": a
    clock of the case runs out in the seven days from `today` (Mijn werk's "deze week")."""
    def rows(*cond: Any) -> Any:
        return exists(select(d.case_id).where(d.case_id == c.case_id, *cond))

    row = _row_conditions(today)
    if status == "week":
        return rows(row["week"])
    if status == "overdue":
        return rows(row["overdue"])
    if status == "soon":
        return and_(rows(row["soonish"]), not_(rows(row["overdue"])))
    if status == "ok":
        return and_(rows(), not_(rows(row["soonish"])))
    return not_(rows())  # "none": no clock runs


# A page is found one of two ways. Walking the school's cases newest first and keeping those
# that pass the filters stops after a page, which is quick when they are many; when they are
# few, the walk would read the whole school first. So the filter with its own index (a pupil, the
# waiting cases, the clocks, the states) is asked first how many cases it lets through, up to
# CANDIDATES: no more than that, and the page is read from those cases alone (looked up and
# sorted, so this costs up to CANDIDATES lookups; the school's index is then left out of the
# query so that no database walks it anyway). Measured at 45 000 open cases in one school: the
# pages of BENCHMARKS.md, web.
CANDIDATES = 5000


class _Source(NamedTuple):
    """A filter with an index of its own: the select of its cases' ids, which of the query's
    conditions it alone makes true (they need no second test), and whether it selects from
    `cases` itself (as `k`: see `_candidates`)."""

    ids: Any
    covers: frozenset[str]
    of_cases: bool


def _sources(q: CaseloadQuery) -> list[_Source]:
    """The filters that have an index of their own, most selective first."""
    out = []
    k = cases.alias("k").c  # not `cases` itself: SQLAlchemy would correlate it with the outer query
    if q.pupil_index is not None:
        # The keyed index is made per school, so it names the school too; asking for the school as
        # well lets SQLite walk the school's index instead of the pupil's.
        out.append(_Source(select(k.case_id).where(k.pupil_index == q.pupil_index), frozenset({"pupil"}), True))
    if q.waiting:
        out.append(_Source(select(w.case_id).where(w.school == q.school), frozenset({"waiting"}), False))
    if q.deadline in ("overdue", "soon", "week"):
        row = _row_conditions(q.today)["soonish" if q.deadline == "soon" else q.deadline]
        covers = frozenset() if q.deadline == "soon" else frozenset({"deadline"})  # "soon": and not overdue
        out.append(_Source(select(d.case_id).where(d.school == q.school, row), covers, False))
    if q.states is not None:
        out.append(_Source(select(k.case_id).where(k.school == q.school, k.state.in_(list(q.states))),
                           frozenset({"states"}), True))
    return out


def _candidates(conn: Connection, few: _Source) -> Any:
    """The outer query's cases are the candidates `few` selects. On SQLite, a select from `cases`
    itself gives its rows' rowids rather than their ids: the rowid is in every index, so the
    filter's index alone answers, and each candidate is then read by its rowid (one state of a
    school at 100 000 cases: 9.3 -> 4.7 ms), not through the id's own index."""
    if few.of_cases and conn.dialect.name == "sqlite":
        return literal_column("cases.rowid").in_(few.ids.with_only_columns(literal_column("k.rowid")))
    return c.case_id.in_(few.ids)


def caseload(conn: Connection, q: CaseloadQuery, *, after: tuple[dt.datetime, str] | None,
             before: tuple[dt.datetime, str] | None, size: int) -> list[CaseloadRow]:
    few: _Source | None = None
    for source in _sources(q):
        # Counted as rows, not case ids: the id is not in the filter's index (a table read per
        # row: 4.4 ms instead of 0.1 for one state of a school at 100 000 cases).
        rows = source.ids.with_only_columns(literal_column("1")).limit(CANDIDATES + 1)
        found = conn.execute(select(func.count()).select_from(rows.subquery())).scalar_one()
        if found <= CANDIDATES:
            few = source
            break
    covered = few.covers if few is not None else frozenset()
    # A condition the candidates already meet is not asked again: besides the work, a state's
    # own index would tempt SQLite to walk every school's cases in that state (26 ms instead of
    # 3 at 100 000 cases) rather than look the candidates up.
    where: list[Any] = [c.school == q.school] if few is None else [_candidates(conn, few)]
    if q.open_only:
        where.append(c.closed_at.is_(None))
    if q.states is not None and "states" not in covered:
        where.append(c.state.in_(list(q.states)))
    if q.group is not None:
        where.append(c.school_group == q.group)
    if q.pupil_index is not None and "pupil" not in covered:
        where.append(c.pupil_index == q.pupil_index)
    if q.deadline is not None and "deadline" not in covered:
        where.append(_deadline_filter(q.deadline, q.today))
    if q.waiting and "waiting" not in covered:
        where.append(exists(select(w.case_id).where(w.case_id == c.case_id)))
    key = tuple_(c.opened_at, c.case_id)
    columns = (c.case_id, c.school, c.school_group, c.state, c.level, c.version, c.opened_at, c.closed_at)
    if before is not None:
        stmt = select(*columns).where(*where, key > tuple_(*before)).order_by(c.opened_at, c.case_id)
    else:
        if after is not None:
            where.append(key < tuple_(*after))
        stmt = select(*columns).where(*where).order_by(c.opened_at.desc(), c.case_id.desc())
    rows = [CaseloadRow(*r) for r in conn.execute(stmt.limit(size))]
    return rows[::-1] if before is not None else rows


_WORKLISTS_SQL = (  # a case's clocks, then its waiting row (deadline NULL, its scopes in `anchor`)
    "SELECT case_id, deadline, anchor, started_on, due_on, lead_days, paused_left FROM case_deadlines"
    " WHERE case_id IN ({ids})"
    " UNION ALL SELECT case_id, NULL, scopes, NULL, NULL, NULL, NULL FROM case_waiting WHERE case_id IN ({ids})"
)


def worklists(drv: Driver, case_ids: Sequence[str]) -> dict[str, Worklist]:
    """The stored work lists of `case_ids` (a page of the caseload, a chunk of `reminders due`),
    through the driver (`rows_in`). A case's clocks by due day, as the list shows them."""
    from workflow.domain.worklist import DeadlineRow, Worklist

    ids = list(dict.fromkeys(case_ids))
    clocks: dict[str, list[DeadlineRow]] = {}
    waiting: dict[str, tuple[str, ...]] = {}
    for cid, deadline, anchor, started, due, lead, paused in drv.rows_in(_WORKLISTS_SQL, ids):
        if deadline is None:
            waiting[cid] = tuple(json.loads(anchor))
        else:
            clocks.setdefault(cid, []).append(DeadlineRow(deadline, anchor, _date(started), _date(due), lead, paused))
    for rows in clocks.values():
        rows.sort(key=lambda r: (r.due_on, r.deadline, r.anchor))
    return {cid: Worklist(tuple(clocks.get(cid, ())), waiting.get(cid, ())) for cid in ids
            if cid in clocks or cid in waiting}


def built(conn: Connection) -> str | None:
    row = conn.execute(select(read_models.c.built_for).where(read_models.c.name == NAME)).first()
    return None if row is None else str(row[0])


def clear(conn: Connection) -> None:
    conn.execute(delete(read_models).where(read_models.c.name == NAME))
    conn.execute(delete(case_deadlines))
    conn.execute(delete(case_waiting))


def mark_built(conn: Connection, fingerprint: str, now: dt.datetime) -> None:
    conn.execute(delete(read_models).where(read_models.c.name == NAME))
    conn.execute(insert(read_models).values(name=NAME, built_for=fingerprint, built_at=now))

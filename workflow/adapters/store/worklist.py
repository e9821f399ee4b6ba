"""The work list on SQL (`case_deadlines`, `case_waiting`; workflow.domain.worklist): kept by the
event store's appends, read by the lists of the web app.

Writing: an append computes the case's work list (the store's `derive`), reads what is stored
(one statement for both tables) and writes only the rows that changed, so a command that moves
no clock and no consent writes nothing here: no extra page in its commit. Straight to the
driver, as the rest of the append path (store.eventstore explains why).

Reading: the lists a person reads (Mijn werk's deadlines and waiting cases, the caseload with
its filters), each an index range (migrations 0011, 0018 and 0019), straight to the driver as
SQL text: building these statements with SQLAlchemy Core cost more than running them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import Connection, delete, func, insert, select

from workflow.adapters.codec import read_instant
from workflow.adapters.ports import CaseloadQuery, CaseloadRow, DeadlineLine, WaitingLine
from workflow.adapters.store.tables import case_deadlines, case_waiting, cases, read_models
from workflow.domain.worklist import DeadlineRow

if TYPE_CHECKING:
    from workflow.domain.worklist import Worklist


class Driver(Protocol):
    """What the sync needs of the event store's driver (store.eventstore.Driver)."""

    def execute(self, text: str, params: Sequence[Any], *, prepare: bool | None = None) -> Any: ...

    def rows_in(self, text: str, ids: Sequence[Any], *, chunk: int = 500) -> Iterator[Any]: ...

    def defer(self, text: str, params: Sequence[Any]) -> None: ...

    def date(self, value: Any) -> Any: ...

    def time(self, value: dt.datetime | None) -> Any: ...

    @property
    def sqlite(self) -> bool: ...

NAME = "worklist"
_DEADLINE_COLUMNS = ("deadline", "anchor", "started_on", "due_on", "soon_on", "lead_days", "paused_left")
_SELECT_STORED = (
    f"SELECT {', '.join(_DEADLINE_COLUMNS)} FROM case_deadlines WHERE case_id = ?"
    " UNION ALL SELECT NULL, scopes, NULL, NULL, NULL, NULL, NULL FROM case_waiting WHERE case_id = ?"
)
_INSERT_DEADLINE = ("INSERT INTO case_deadlines (case_id, school, opened_at, deadline, anchor, started_on, due_on,"
                    " soon_on, lead_days, paused_left) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
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


def sync(drv: Driver, case_id: str, school: str, opened_at: dt.datetime, new: Worklist, *, fresh: bool,
         stored_cursor: Any = None) -> None:
    """Make the stored rows of `case_id` those of `new`, writing only what differs (`fresh`: a
    new case, nothing stored yet; `stored_cursor`: `ask_stored`'s, when it was asked already).
    `opened_at` is the case's, kept on each clock's row for the caseload's order (it never
    changes, so an update leaves it as it is). DeadlineRow is imported with the module: an
    import statement here ran for every command."""
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
            drv.defer(_INSERT_DEADLINE, (case_id, school, drv.time(opened_at), r.deadline, r.anchor,
                                         drv.date(r.started_on), drv.date(r.due_on), drv.date(r.soon_on),
                                         r.lead_days, r.paused_left))
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


def insert_many(conn: Connection, items: Sequence[tuple[str, str, dt.datetime, Worklist]]) -> None:
    """The rows of whole new cases (a bulk import: id, school, opened_at, work list): one
    statement per table."""
    rows = [{"case_id": cid, "school": school, "opened_at": opened, "deadline": r.deadline, "anchor": r.anchor,
             "started_on": r.started_on, "due_on": r.due_on, "soon_on": r.soon_on, "lead_days": r.lead_days,
             "paused_left": r.paused_left} for cid, school, opened, w in items for r in w.deadlines]
    waits = [{"case_id": cid, "school": school, "scopes": scopes_text(w.waiting)}
             for cid, school, _, w in items if w.waiting]
    if rows:
        conn.execute(insert(case_deadlines), rows)
    if waits:
        conn.execute(insert(case_waiting), waits)


# ---- reading ---------------------------------------------------------------------------------
_LINE_COLUMNS = "case_id, school, deadline, anchor, started_on, due_on, soon_on, lead_days, paused_left"


def _line(r: Any) -> DeadlineLine:
    return DeadlineLine(r[0], r[1], r[2], r[3], _date(r[4]), _date(r[5]), _date(r[6]), r[7], r[8])


def deadline_lines(drv: Driver, school: str, *, today: dt.date, since: dt.date | None, through: dt.date,
                   limit: int) -> tuple[list[DeadlineLine], int]:
    """A school's running clocks due from `since` (None: any day) through `through`, the first
    `limit` by due day, and how many there are: ranges of ix_case_deadlines_school_due, which
    counts them alone (migration 0019). Straight to the driver, as the caseload."""
    running = "school = ? AND paused_left IS NULL AND due_on <= ?" + (" AND due_on >= ?" if since is not None else "")
    params = (school, drv.date(through), *((drv.date(since),) if since is not None else ()))
    lines = [_line(r) for r in drv.execute(
        f"SELECT {_LINE_COLUMNS} FROM case_deadlines WHERE {running} ORDER BY due_on, case_id, deadline LIMIT ?",
        (*params, limit), prepare=True).fetchall()]
    total = int(drv.execute(f"SELECT count(*) FROM case_deadlines WHERE {running}", params,
                            prepare=True).fetchone()[0])
    # A paused clock's due date moves on with the day: compare its days left (few rows: disputes).
    low = None if since is None else (since - today).days
    high = (through - today).days
    paused = [_line(r) for r in drv.execute(
        f"SELECT {_LINE_COLUMNS} FROM case_deadlines WHERE school = ? AND paused_left IS NOT NULL", (school,),
        prepare=True).fetchall() if (low is None or r[8] >= low) and r[8] <= high]
    if paused:
        def key(x: DeadlineLine) -> tuple[dt.date, str, str]:
            due = x.due_on if x.paused_left is None else today + dt.timedelta(days=x.paused_left)
            return due, x.case_id, x.deadline

        lines = sorted(lines + paused, key=key)[:limit]
        total += len(paused)
    return lines, total


def waiting_lines(drv: Driver, school: str, *, limit: int) -> tuple[list[WaitingLine], int]:
    rows = drv.execute("SELECT case_id, school, scopes FROM case_waiting WHERE school = ? ORDER BY case_id LIMIT ?",
                       (school, limit), prepare=True).fetchall()
    lines = [WaitingLine(r[0], r[1], tuple(json.loads(r[2]))) for r in rows]
    total = drv.execute("SELECT count(*) FROM case_waiting WHERE school = ?", (school,), prepare=True).fetchone()[0]
    return lines, int(total)


def state_counts(conn: Connection, school: str) -> dict[str, int]:
    """Cases per state of one school: a GROUP BY on ix_cases_school_state (covering)."""
    rows = conn.execute(select(cases.c.state, func.count()).where(cases.c.school == school)
                        .group_by(cases.c.state))
    return {str(state): int(n) for state, n in rows}


def _row_conditions(drv: Driver, today: dt.date) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """A work list row's conditions on `today` (workflow.domain.worklist: a paused clock is read
    from its days left, since its due date moves on with the day), over `case_deadlines d`."""
    day, week_end = drv.date(today), drv.date(today + dt.timedelta(days=6))
    return {
        "overdue": ("(d.paused_left IS NULL AND d.due_on < ? OR d.paused_left < 0)", (day,)),
        "soonish": ("(d.paused_left IS NULL AND d.soon_on <= ? OR d.paused_left <= d.lead_days)", (day,)),
        "week": ("(d.paused_left IS NULL AND d.due_on >= ? AND d.due_on <= ?"
                 " OR d.paused_left >= 0 AND d.paused_left <= 6)", (day, week_end)),
    }


def _deadline_filter(drv: Driver, status: str, today: dt.date) -> tuple[str, tuple[Any, ...]]:
    """The case's worst clock is `status` on `today` (see workflow.domain.worklist); "week": a
    clock of the case runs out in the seven days from `today` (Mijn werk's "deze week")."""
    def rows(cond: tuple[str, tuple[Any, ...]] | None = None) -> tuple[str, tuple[Any, ...]]:
        where, params = cond if cond is not None else ("", ())
        return (f"EXISTS (SELECT 1 FROM case_deadlines d WHERE d.case_id = cases.case_id"
                f"{' AND ' + where if where else ''})", params)

    row = _row_conditions(drv, today)
    if status in ("week", "overdue"):
        return rows(row[status])
    if status == "soon":
        (soon, p1), (late, p2) = rows(row["soonish"]), rows(row["overdue"])
        return f"{soon} AND NOT {late}", (*p1, *p2)
    if status == "ok":
        (some, p1), (soon, p2) = rows(), rows(row["soonish"])
        return f"{some} AND NOT {soon}", (*p1, *p2)
    some, params = rows()
    return f"NOT {some}", params  # "none": no clock runs


# A page is found one of five ways (`_plan`). Walking the school's cases newest first and keeping
# those that pass the filters stops after a page, which is quick when they are many; when they
# are few, the walk would read the whole school first. So a filter with an index of its own (a
# pupil, the waiting cases, the clocks, the states) is asked first how many cases it lets through:
# - up to FEW (or, for a filter on `cases` itself, up to CANDIDATES): the page is read from
#   those cases alone, each looked up and all of them sorted (the school's index is then left
#   out of the query so that no database walks it anyway): "candidates";
# - more, for the clocks: their rows keep their case's opening time (migration 0020), so the
#   page's keys are read from them in the page's order, then only the page's cases ("ordered";
#   overdue in a school of 7 600 open cases, 779 of them: 2.85 ms looked up and sorted, 1.75 ms
#   walked as below, 0.44 ms ordered);
# - more, for the waiting cases: the school's index is walked newest first and each entry tested
#   against the filter's set of ids, which the index entry answers without its row ("members");
# - one state has an index in the page's own order (migration 0018): it is walked newest first
#   and never counted ("state");
# - no such filter: the school's cases walked ("school").
# Measured at 45 000 open cases in one school, and at 100 000 cases in twelve schools
# (BENCHMARKS.md, sections 7, 12 and 14).
FEW = 250
CANDIDATES = 5000
_COLUMNS = "cases.case_id, cases.school, cases.school_group, cases.state, cases.level, cases.version," \
           " cases.opened_at, cases.closed_at"


class _Source(NamedTuple):
    """A filter with an index of its own: the FROM and WHERE of its cases' ids with their
    parameters, the id's column, which of the query's conditions it alone makes true (they need
    no second test), whether it selects from `cases` itself (as `k`: see `_candidates`), and
    whether its rows carry the case's opening time (the clocks: see `_ordered`)."""

    body: str
    params: tuple[Any, ...]
    id_column: str
    covers: frozenset[str]
    of_cases: bool
    keyed: bool = False


class _Plan(NamedTuple):
    """How a page is found (see above `FEW`): `how` is "candidates", "ordered", "members",
    "state" or "school" (then `source` is None)."""

    source: _Source | None
    how: str


def _sources(drv: Driver, q: CaseloadQuery) -> list[_Source]:
    """The filters that have an index of their own, most selective first; the states last."""
    out = []
    if q.pupil_index is not None:
        # The keyed index is made per school, so it names the school too; asking for the school as
        # well lets SQLite walk the school's index instead of the pupil's.
        out.append(_Source("FROM cases k WHERE k.pupil_index = ?", (q.pupil_index,), "k.case_id",
                           frozenset({"pupil"}), True))
    if q.waiting:
        out.append(_Source("FROM case_waiting w WHERE w.school = ?", (q.school,), "w.case_id",
                           frozenset({"waiting"}), False))
    if q.deadline in ("overdue", "soon", "week"):
        cond, params = _row_conditions(drv, q.today)["soonish" if q.deadline == "soon" else q.deadline]
        covers = frozenset() if q.deadline == "soon" else frozenset({"deadline"})  # "soon": and not overdue
        out.append(_Source(f"FROM case_deadlines d WHERE d.school = ? AND {cond}", (q.school, *params),
                           "d.case_id", covers, False, keyed=True))
    if q.states is not None:
        marks = ", ".join("?" * len(q.states))
        out.append(_Source(f"FROM cases k WHERE k.school = ? AND k.state IN ({marks})", (q.school, *q.states),
                           "k.case_id", frozenset({"states"}), True))
    return out


def _candidates(drv: Driver, few: _Source) -> str:
    """The outer query's cases are the candidates `few` selects. On SQLite, a select from `cases`
    itself gives its rows' rowids rather than their ids: the rowid is in every index, so the
    filter's index alone answers, and each candidate is then read by its rowid (one state of a
    school at 100 000 cases: 9.3 -> 4.7 ms), not through the id's own index."""
    if few.of_cases and drv.sqlite:
        return f"cases.rowid IN (SELECT k.rowid {few.body})"
    return f"cases.case_id IN (SELECT {few.id_column} {few.body})"


def _plan(drv: Driver, q: CaseloadQuery) -> _Plan:
    """How this page is found (see above `FEW`)."""
    for source in _sources(drv, q):
        if "states" in source.covers and q.states is not None and len(q.states) == 1:
            return _Plan(source, "state")
        most = CANDIDATES if source.of_cases else FEW
        # Counted as rows, not case ids: the id is not in the filter's index (a table read per
        # row: 4.4 ms instead of 0.1 for one state of a school at 100 000 cases); and only up to
        # one more than would be looked up.
        found = drv.execute(f"SELECT count(*) FROM (SELECT 1 {source.body} LIMIT ?) n",
                            (*source.params, most + 1), prepare=True).fetchone()[0]
        if found <= most:
            return _Plan(source, "candidates")
        if source.keyed:
            return _Plan(source, "ordered")
        if not source.of_cases:
            return _Plan(source, "members")
    return _Plan(None, "school")


def _conditions(drv: Driver, q: CaseloadQuery, covered: frozenset[str]) -> tuple[list[str], list[Any]]:
    """The query's conditions on `cases` that its source does not already make true. A condition
    the source meets is not asked again: besides the work, a state's own index would tempt SQLite
    to walk every school's cases in that state (26 ms instead of 3 at 100 000 cases) rather than
    look the candidates up."""
    where: list[str] = []
    params: list[Any] = []
    if q.open_only:
        where.append("cases.closed_at IS NULL")
    if q.states is not None and "states" not in covered:
        where.append(f"cases.state IN ({', '.join('?' * len(q.states))})")
        params += q.states
    if q.group is not None:
        where.append("cases.school_group = ?")
        params.append(q.group)
    if q.pupil_index is not None and "pupil" not in covered:
        where.append("cases.pupil_index = ?")
        params.append(q.pupil_index)
    if q.deadline is not None and "deadline" not in covered:
        cond, more = _deadline_filter(drv, q.deadline, q.today)
        where.append(cond)
        params += more
    if q.waiting and "waiting" not in covered:
        where.append("EXISTS (SELECT 1 FROM case_waiting w WHERE w.case_id = cases.case_id)")
    return where, params


def _rows(drv: Driver, source: str, where: list[str], params: list[Any], *, ascending: bool,
          size: int | None) -> list[CaseloadRow]:
    order = "ASC" if ascending else "DESC"
    sql = (f"SELECT {_COLUMNS} FROM {source} WHERE {' AND '.join(where)}"
           f" ORDER BY cases.opened_at {order}, cases.case_id {order}")
    if size is not None:
        sql, params = sql + " LIMIT ?", [*params, size]
    return [CaseloadRow(cid, school, group, state, level, version, _instant(opened), _instant(closed))
            for cid, school, group, state, level, version, opened, closed in drv.execute(sql, params).fetchall()]


def _ordered(drv: Driver, few: _Source, where: list[str], params: list[Any], *,
             key: tuple[dt.datetime, str] | None, ascending: bool, size: int) -> list[CaseloadRow]:
    """A page from a source whose rows carry the case's opening time (the clocks, migration
    0020): its cases' keys in the page's order from those rows alone, then the rows of just
    those cases, tested against the other conditions; again from the last key while the page is
    not full and keys are left. The clocks' rows are a few hundred; the school's cases, walked,
    thousands (overdue at 100 000 cases: see `FEW`)."""
    order, beyond = ("ASC", ">") if ascending else ("DESC", "<")
    out: list[CaseloadRow] = []
    # The clocks run on open cases only, so "open" drops none of them; any other condition may.
    batch = size if all(w == "cases.closed_at IS NULL" for w in where) else 4 * size
    # The key as bound: the cursor's, then the last row's own values, as the database gave them.
    bound: tuple[Any, ...] = () if key is None else (drv.time(key[0]), key[1])
    while len(out) < size:
        keyed = f" AND (d.opened_at, d.case_id) {beyond} (?, ?)" if bound else ""
        keys = drv.execute(
            f"SELECT d.opened_at, d.case_id {few.body}{keyed} GROUP BY d.opened_at, d.case_id"
            f" ORDER BY d.opened_at {order}, d.case_id {order} LIMIT ?",
            (*few.params, *bound, batch), prepare=True).fetchall()
        if not keys:
            break
        ids = [k[1] for k in keys]
        out += _rows(drv, "cases", [f"cases.case_id IN ({', '.join('?' * len(ids))})", *where], [*ids, *params],
                     ascending=ascending, size=None)
        if len(keys) < batch:
            break
        bound = tuple(keys[-1])
    return out[:size]


def caseload(drv: Driver, q: CaseloadQuery, *, after: tuple[dt.datetime, str] | None,
             before: tuple[dt.datetime, str] | None, size: int) -> list[CaseloadRow]:
    """One page of a school's caseload, in (opened_at, case_id) order, newest first: straight to
    the driver, as SQL text (SQLAlchemy's building and compiling of these statements cost more
    than SQLite's running them)."""
    plan = _plan(drv, q)
    few = plan.source
    where, params = _conditions(drv, q, few.covers if few is not None else frozenset())
    key = before if before is not None else after
    ascending = before is not None
    if few is not None and plan.how == "ordered":
        rows = _ordered(drv, few, where, params, key=key, ascending=ascending, size=size)
        return rows[::-1] if ascending else rows
    source = "cases"
    if few is None:
        head, more = ["cases.school = ?"], [q.school]
    elif plan.how == "state":  # the school's cases in one state, in ix_cases_school_state's order
        head, more = ["cases.school = ?", "cases.state = ?"], [q.school, *(q.states or ())]
    elif plan.how == "members":  # the school's index walked, each entry's id tested
        source = "cases INDEXED BY ix_cases_school_opened" if drv.sqlite else "cases"
        head = ["cases.school = ?", f"cases.case_id IN (SELECT {few.id_column} {few.body})"]
        more = [q.school, *few.params]
    else:
        head, more = [_candidates(drv, few)], list(few.params)
    if key is not None:
        where.append(f"(cases.opened_at, cases.case_id) {'>' if ascending else '<'} (?, ?)")
        params += (drv.time(key[0]), key[1])
    rows = _rows(drv, source, [*head, *where], [*more, *params], ascending=ascending, size=size)
    return rows[::-1] if ascending else rows


def _instant(value: Any) -> Any:
    return None if value is None else read_instant(value)


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

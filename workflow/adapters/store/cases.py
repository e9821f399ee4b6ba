"""The SQL case read model (the `CaseReadModel` port): queries on the `cases` projection.

The event store writes the projection in the same transaction as the events; everything else
that reads or (for the planner and an erasure) touches it goes through here: the case list, a
pupil's open case, `audit replay`'s and `verify`'s streams, and the reminder planner's due-work
scan and write-back (workflow.service_layer.reminders.work explains why the scan is safe).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from workflow.adapters.codec import read_instant
from workflow.adapters.ports import (
    CaseHead,
    CaseListRow,
    CaseloadQuery,
    CaseloadRow,
    CaseProcess,
    ClosedCase,
    DeadlineLine,
    Mark,
    Projection,
    WaitingLine,
)
from workflow.adapters.store import chains
from workflow.adapters.store import worklist as _worklist
from workflow.adapters.store.eventstore import Driver
from workflow.adapters.store.tables import case_keys, cases

if TYPE_CHECKING:
    from workflow.adapters.readmodels import CaseSummary
    from workflow.domain.worklist import Worklist

_PROJECTION_READ = tuple(cases.c[name] for name in Projection._fields)

# The planner's two index ranges, a page at a time, keyset on (date, case_id) so each page is an
# index range (migration 0006: index-only). Straight to the driver, like the event store's hot
# statements: this runs every tick over the whole `cases` index range, and SQLAlchemy's result
# machinery per row cost more than SQLite's own work. Closed cases have both dates NULL (the
# closing write clears them), so no filter on closed_at. The second range leaves out what the
# first returns. The keyset is a row value, `(date, case_id) > (?, ?)`: SQLite and PostgreSQL
# seek the index to it. Spelt `date > ? OR (date = ? AND case_id > ?)`, SQLite walked each
# page's range from its start, so the pages of a 1M store's scan cost 2-5x the unpaged queries
# instead of ~1.3x.
_PAGE_SQL = (
    "SELECT next_action_on, case_id FROM cases WHERE next_action_on <= ? AND"
    " (next_action_on, case_id) > (?, ?) ORDER BY next_action_on, case_id LIMIT ?",
    "SELECT planned_on, case_id FROM cases WHERE planned_on > ? AND"
    " (next_action_on IS NULL OR next_action_on > ?) AND"
    " (planned_on, case_id) > (?, ?) ORDER BY planned_on, case_id LIMIT ?",
)
# The same two ranges, whole (tests and tools compare the pages with them).
# What `reminders due` needs to read a case's clocks instead of folding it (CaseProcess); the
# latest event's time from the events' (case_id, seq) index and rows.
_PROCESSES_SQL = ("SELECT c.case_id, c.school, c.process_id, c.process_version,"
                  " (SELECT MAX(e.recorded_at) FROM events e WHERE e.case_id = c.case_id)"
                  " FROM cases c WHERE c.case_id IN ({ids})")
_DUE_SQL = (
    "SELECT case_id FROM cases WHERE next_action_on <= ?",
    "SELECT case_id FROM cases WHERE planned_on > ?",
)
# The case list, a page at a time from ix_cases_school_opened (school, opened_at, case_id), its
# own order: each page a seek and an index range, never a sort of the whole table. Straight to
# the driver (no SQLAlchemy row per case); on SQLite the index is named, so that a state filter
# does not make it pick the (school, state) index and sort every matching row for each page.
_LIST_COLUMNS = ("case_id, school, school_group, state, level, version, opened_at, closed_at, close_reason,"
                 " process_id, process_version")
_LIST_ORDER = " ORDER BY school, opened_at, case_id LIMIT ?"


def _list_row(r: Any) -> CaseListRow:
    return CaseListRow(r[0], r[1], r[2], r[3], r[4], r[5], read_instant(r[6]),  # type: ignore[arg-type]
                       read_instant(r[7]) if r[7] is not None else None, r[8], f"{r[9]}@{r[10]}")


_WRITE_BACK = (
    update(cases)
    .where(cases.c.case_id == bindparam("b_case_id"), cases.c.version == bindparam("b_version"),
           or_(cases.c.planned_on.is_(None), cases.c.planned_on <= bindparam("b_planned_on")))
    .values(next_action_on=bindparam("b_next"), planned_on=bindparam("b_planned_on"))
)


class SqlCases:
    """The projection's queries, in one unit of work's transaction."""

    def __init__(self, connect: Callable[[], Connection], driver: Callable[[], Driver]) -> None:
        self._connect = connect
        self._driver = driver

    @property
    def conn(self) -> Connection:
        return self._connect()

    def find_open(self, pupil_index: str) -> str | None:
        row = self.conn.execute(
            select(cases.c.case_id).where(cases.c.pupil_index == pupil_index, cases.c.closed_at.is_(None))
        ).first()
        return None if row is None else str(row.case_id)

    def get(self, case_id: str) -> Projection | None:
        row = self.conn.execute(select(*_PROJECTION_READ).where(cases.c.case_id == case_id)).first()
        return None if row is None else Projection(*row)

    def summaries(self, *, schools: Sequence[str] | None, state: str | None) -> Iterator[CaseSummary]:
        """Rows in (school, opened_at, case_id) order, fetched 1 000 at a time: a listing of a
        whole region or country is never held whole."""
        from workflow.adapters.readmodels import CaseSummary

        c = cases.c
        q = (select(c.case_id, c.school, c.school_group, c.state, c.level, c.version, c.opened_at,
                    c.closed_at, c.close_reason, c.process_id, c.process_version)
             .order_by(c.school, c.opened_at, c.case_id))
        if schools is not None:
            q = q.where(c.school.in_(list(schools)))
        if state is not None:
            q = q.where(c.state == state)
        for r in self.conn.execution_options(stream_results=True, yield_per=1000).execute(q):
            yield CaseSummary(
                case_id=r.case_id, school=r.school, group=r.school_group, state=r.state, level=r.level,
                version=r.version, opened_at=r.opened_at, closed_at=r.closed_at,
                close_reason=r.close_reason, process=f"{r.process_id}@{r.process_version}",
            )

    def case_page(self, *, schools: Sequence[str] | None, state: str | None, after: Any, size: int
                  ) -> tuple[list[CaseListRow], Any]:
        drv = self._driver()
        source = "cases INDEXED BY ix_cases_school_opened" if drv.sqlite else "cases"
        fixed: list[Any] = [] if state is None else [state]
        where = [] if state is None else ["state = ?"]
        if schools is None:  # every school: one range over the whole index
            keyed = where + (["(school, opened_at, case_id) > (?, ?, ?)"] if after is not None else [])
            sql = f"SELECT {_LIST_COLUMNS} FROM {source}" + (" WHERE " + " AND ".join(keyed) if keyed else "")
            rows = drv.execute(sql + _LIST_ORDER, (*fixed, *(after or ()), size)).fetchall()
            last = (rows[-1][1], rows[-1][6], rows[-1][0]) if len(rows) == size else None
            return [_list_row(r) for r in rows], last
        # Some schools: one range per school, the schools in the database's order of their names
        # (its collation, as ORDER BY school has it), so the rows come as `summaries` gives them.
        order, pos, key = (self._in_db_order(schools), 0, None) if after is None else after
        out: list[Any] = []
        while pos < len(order) and len(out) < size:
            keyed = ["school = ?", *where] + (["(opened_at, case_id) > (?, ?)"] if key is not None else [])
            want = size - len(out)
            rows = drv.execute(f"SELECT {_LIST_COLUMNS} FROM {source} WHERE " + " AND ".join(keyed) + _LIST_ORDER,
                               (order[pos], *fixed, *(key or ()), want)).fetchall()
            out.extend(rows)
            if len(rows) < want:
                pos, key = pos + 1, None
            else:
                key = (rows[-1][6], rows[-1][0])
        return [_list_row(r) for r in out], ((order, pos, key) if pos < len(order) else None)

    def _in_db_order(self, schools: Sequence[str]) -> list[str]:
        if not schools:
            return []
        drv = self._driver()
        marks = ", ".join("(?)" for _ in schools)
        return [r[0] for r in drv.execute(f"SELECT column1 FROM (VALUES {marks}) AS v ORDER BY 1",
                                          tuple(dict.fromkeys(schools))).fetchall()]

    def projections(self, schools: Sequence[str] | None) -> Iterator[Projection]:
        conn = self.conn
        # Bytewise order on every database, the order of the event stream and of Python's `<`.
        key = cases.c.case_id if conn.dialect.name == "sqlite" else cases.c.case_id.collate("C")
        # Only the columns replay compares or needs: every other time column would be parsed by
        # SQLAlchemy for each case and then never looked at.
        q = select(*_PROJECTION_READ).order_by(key)
        if schools is not None:
            q = q.where(cases.c.school.in_(list(schools)))
        for row in conn.execution_options(stream_results=True, yield_per=2000).execute(q):
            yield Projection(*row)

    def heads(self) -> Iterator[tuple[str, int, str]]:
        return chains.fetch(self.conn, chains.CASES_SQL, None)

    def heads_of(self, case_ids: Sequence[str]) -> dict[str, CaseHead]:
        return {row.case_id: CaseHead(row.school, row.version, row.head_hash) for row in self.conn.execute(
            select(cases.c.case_id, cases.c.school, cases.c.version, cases.c.head_hash)
            .where(cases.c.case_id.in_(list(case_ids))))}

    def processes_of(self, case_ids: Sequence[str]) -> dict[str, CaseProcess]:
        return {cid: CaseProcess(school, pid, int(version), read_instant(at)) for cid, school, pid, version, at
                in self._driver().rows_in(_PROCESSES_SQL, list(dict.fromkeys(case_ids)))}

    # ---- the reminder planner's work ---------------------------------------------------------
    def open_ids(self, *, after: str, size: int) -> list[str]:
        q = (select(cases.c.case_id).where(or_(cases.c.closed_at.is_(None), cases.c.next_action_on.is_not(None)),
                                           cases.c.case_id > after)
             .order_by(cases.c.case_id).limit(size))
        return [r[0] for r in self.conn.execute(q)]

    def _page(self, sql: str, fixed: tuple[dt.date, ...], after: tuple[dt.date, str],
              size: int) -> list[tuple[dt.date, str]]:
        drv = self._driver()
        rows = drv.execute(sql, (*(drv.date(d) for d in (*fixed, after[0])), after[1], size)).fetchall()
        return [(_date(r[0]), r[1]) for r in rows]

    def due_by_next_action(self, *, through: dt.date, after: tuple[dt.date, str], size: int
                           ) -> list[tuple[dt.date, str]]:
        return self._page(_PAGE_SQL[0], (through,), after, size)

    def due_by_planned(self, *, today: dt.date, through: dt.date, after: tuple[dt.date, str], size: int
                       ) -> list[tuple[dt.date, str]]:
        return self._page(_PAGE_SQL[1], (today, through), after, size)

    def due_ids(self, *, through: dt.date, today: dt.date | None = None) -> list[str]:
        """Both ranges whole, sorted (what the pages return together)."""
        drv = self._driver()
        ids: set[str] = set()
        for sql, day in zip(_DUE_SQL, (through, today or through), strict=True):
            ids.update(r[0] for r in drv.execute(sql, (drv.date(day),)).fetchall())
        return sorted(ids)

    def due_among(self, case_ids: Sequence[str], *, through: dt.date, today: dt.date) -> set[str]:
        q = select(cases.c.case_id).where(cases.c.case_id.in_(list(case_ids)), or_(
            cases.c.next_action_on <= through, cases.c.planned_on > today))
        return {r[0] for r in self.conn.execute(q)}

    def write_back(self, marks: Sequence[Mark]) -> int:
        if not marks:
            return 0
        r = self.conn.execute(_WRITE_BACK, [
            {"b_case_id": m.case_id, "b_version": m.version, "b_next": m.next_action_on,
             "b_planned_on": m.planned_on} for m in marks])
        return int(r.rowcount or 0)

    # ---- retention and erasure ---------------------------------------------------------------
    def closed_unerased(self, *, school: str | None = None,
                        closed_before: dt.datetime | None = None) -> Iterator[ClosedCase]:
        q = (
            select(cases.c.case_id, cases.c.school, cases.c.closed_at, cases.c.close_reason)
            .select_from(cases.outerjoin(case_keys, case_keys.c.case_id == cases.c.case_id))
            .where(cases.c.closed_at.is_not(None), case_keys.c.destroyed_at.is_(None))
            .order_by(cases.c.closed_at, cases.c.case_id)
        )
        if closed_before is not None:  # ix_cases_closed (migration 0011)
            q = q.where(cases.c.closed_at < closed_before)
        if school is not None:  # ix_cases_school_closed (migration 0019): the school's range
            q = q.where(cases.c.school == school)
        for r in self.conn.execute(q):
            yield ClosedCase(*r)

    def forget_pupil(self, case_id: str) -> None:
        self.conn.execute(update(cases).where(cases.c.case_id == case_id).values(pupil_index=None))

    def id_prefix_taken(self, prefix: str) -> bool:
        n = self.conn.execute(
            select(func.count()).select_from(cases).where(cases.c.case_id.like(f"{prefix}%"))).scalar_one()
        return bool(n)


    # ---- the work list (store.worklist) ----------------------------------------------------
    def deadline_lines(self, school: str, *, today: dt.date, since: dt.date | None, through: dt.date,
                       limit: int) -> tuple[list[DeadlineLine], int]:
        return _worklist.deadline_lines(self._driver(), school, today=today, since=since, through=through, limit=limit)

    def waiting_lines(self, school: str, *, limit: int) -> tuple[list[WaitingLine], int]:
        return _worklist.waiting_lines(self._driver(), school, limit=limit)

    def caseload(self, query: CaseloadQuery, *, after: tuple[dt.datetime, str] | None,
                 before: tuple[dt.datetime, str] | None, size: int) -> list[CaseloadRow]:
        return _worklist.caseload(self._driver(), query, after=after, before=before, size=size)

    def worklists(self, case_ids: Sequence[str]) -> dict[str, Worklist]:
        return _worklist.worklists(self._driver(), case_ids)

    def state_counts(self, school: str) -> dict[str, int]:
        return _worklist.state_counts(self.conn, school)

    def worklist_built(self) -> str | None:
        return _worklist.built(self.conn)

    def rebuild_worklist_begin(self) -> None:
        _worklist.clear(self.conn)

    def mark_worklist_built(self, fingerprint: str, now: dt.datetime) -> None:
        _worklist.mark_built(self.conn, fingerprint, now)


def _date(value: Any) -> Any:
    """A page's key date as a date (SQLite hands back its ISO text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value

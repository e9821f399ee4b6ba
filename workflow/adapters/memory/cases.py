"""The fake's case read model: the same queries as the SQL store's, over the projection dicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from workflow.adapters.codec import read_instant
from workflow.adapters.memory.database import Journal, MemoryDatabase
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

if TYPE_CHECKING:
    from workflow.adapters.readmodels import CaseSummary
    from workflow.domain.worklist import Worklist


def _projection(row: dict[str, Any]) -> Projection:
    return Projection(*(row[name] for name in Projection._fields))


class MemoryCases:
    def __init__(self, db: MemoryDatabase, journal: Journal) -> None:
        self._db, self._j = db, journal

    def find_open(self, pupil_index: str) -> str | None:
        return next((cid for cid, r in self._db.cases.items()
                     if r["pupil_index"] == pupil_index and r["closed_at"] is None), None)

    def get(self, case_id: str) -> Projection | None:
        row = self._db.cases.get(case_id)
        return None if row is None else _projection(row)

    def summaries(self, *, schools: Sequence[str] | None, state: str | None) -> Iterator[CaseSummary]:
        from workflow.adapters.readmodels import CaseSummary

        rows = [r for r in self._db.cases.values()
                if (schools is None or r["school"] in schools) and (state is None or r["state"] == state)]
        for r in sorted(rows, key=lambda r: (r["school"], r["opened_at"], r["case_id"])):
            yield CaseSummary(
                case_id=r["case_id"], school=r["school"], group=r["school_group"], state=r["state"],
                level=r["level"], version=r["version"], opened_at=r["opened_at"], closed_at=r["closed_at"],
                close_reason=r["close_reason"], process=f"{r['process_id']}@{r['process_version']}")

    def case_page(self, *, schools: Sequence[str] | None, state: str | None, after: Any, size: int
                  ) -> tuple[list[CaseListRow], Any]:
        rows = sorted((r["school"], r["opened_at"], r["case_id"]) for r in self._db.cases.values()
                      if (schools is None or r["school"] in schools) and (state is None or r["state"] == state))
        page = [k for k in rows if after is None or k > after][:size]
        out = []
        for _, _, cid in page:
            r = self._db.cases[cid]
            out.append(CaseListRow(r["case_id"], r["school"], r["school_group"], r["state"], r["level"],
                                   r["version"], r["opened_at"], r["closed_at"], r["close_reason"],
                                   f"{r['process_id']}@{r['process_version']}"))
        return out, (page[-1] if len(page) == size else None)

    def projections(self, schools: Sequence[str] | None) -> Iterator[Projection]:
        for cid in sorted(self._db.cases):
            row = self._db.cases[cid]
            if schools is None or row["school"] in schools:
                yield _projection(row)

    def heads(self) -> Iterator[tuple[str, int, str]]:
        for cid in sorted(self._db.cases):
            row = self._db.cases[cid]
            yield cid, row["version"], row["head_hash"]

    def heads_of(self, case_ids: Sequence[str]) -> dict[str, CaseHead]:
        return {cid: CaseHead(r["school"], r["version"], r["head_hash"])
                for cid in case_ids if (r := self._db.cases.get(cid)) is not None}

    def processes_of(self, case_ids: Sequence[str]) -> dict[str, CaseProcess]:
        out: dict[str, CaseProcess] = {}
        for cid in case_ids:
            r = self._db.cases.get(cid)
            if r is not None:
                rows = self._db.events.get(cid)
                out[cid] = CaseProcess(r["school"], r["process_id"], r["process_version"],
                                       read_instant(max(e[7] for e in rows)) if rows else None)
        return out

    def open_ids(self, *, after: str, size: int) -> list[str]:
        return sorted(cid for cid, r in self._db.cases.items()
                      if (r["closed_at"] is None or r["next_action_on"] is not None) and cid > after)[:size]

    def due_by_next_action(self, *, through: dt.date, after: tuple[dt.date, str], size: int
                           ) -> list[tuple[dt.date, str]]:
        keys = [(r["next_action_on"], cid) for cid, r in self._db.cases.items()
                if r["next_action_on"] is not None and r["next_action_on"] <= through]
        return sorted(k for k in keys if k > after)[:size]

    def due_by_planned(self, *, today: dt.date, through: dt.date, after: tuple[dt.date, str], size: int
                       ) -> list[tuple[dt.date, str]]:
        keys = [(r["planned_on"], cid) for cid, r in self._db.cases.items()
                if r["planned_on"] is not None and r["planned_on"] > today
                and (r["next_action_on"] is None or r["next_action_on"] > through)]
        return sorted(k for k in keys if k > after)[:size]

    def due_ids(self, *, through: dt.date, today: dt.date | None = None) -> list[str]:
        day = today or through
        return sorted(cid for cid, r in self._db.cases.items()
                      if (r["next_action_on"] is not None and r["next_action_on"] <= through)
                      or (r["planned_on"] is not None and r["planned_on"] > day))

    def due_among(self, case_ids: Sequence[str], *, through: dt.date, today: dt.date) -> set[str]:
        due = set(self.due_ids(through=through, today=today))
        return {cid for cid in case_ids if cid in due}

    def write_back(self, marks: Sequence[Mark]) -> int:
        n = 0
        for m in marks:
            row = self._db.cases.get(m.case_id)
            if row is None or row["version"] != m.version:
                continue
            if row["planned_on"] is not None and row["planned_on"] > m.planned_on:
                continue
            self._j.update(row, next_action_on=m.next_action_on, planned_on=m.planned_on)
            n += 1
        return n

    def closed_unerased(self, *, school: str | None = None,
                        closed_before: dt.datetime | None = None) -> Iterator[ClosedCase]:
        rows = [r for cid, r in self._db.cases.items()
                if r["closed_at"] is not None and (school is None or r["school"] == school)
                and (closed_before is None or r["closed_at"] < closed_before)
                and self._db.keys.get(cid, {}).get("destroyed_at") is None]
        for r in sorted(rows, key=lambda r: (r["closed_at"], r["case_id"])):
            yield ClosedCase(r["case_id"], r["school"], r["closed_at"], r["close_reason"])

    def forget_pupil(self, case_id: str) -> None:
        row = self._db.cases.get(case_id)
        if row is not None:
            self._j.update(row, pupil_index=None)

    def id_prefix_taken(self, prefix: str) -> bool:
        return any(cid.startswith(prefix) for cid in self._db.cases)

    # ---- the work list -------------------------------------------------------------------
    def _lines(self, school: str) -> list[DeadlineLine]:
        return [DeadlineLine(cid, s, r.deadline, r.anchor, r.started_on, r.due_on, r.soon_on, r.lead_days,
                             r.paused_left)
                for cid, (s, w) in self._db.worklists.items() if s == school for r in w.deadlines]

    def deadline_lines(self, school: str, *, today: dt.date, since: dt.date | None, through: dt.date,
                       limit: int) -> tuple[list[DeadlineLine], int]:
        def due(x: DeadlineLine) -> dt.date:
            return x.due_on if x.paused_left is None else today + dt.timedelta(days=x.paused_left)

        found = sorted((x for x in self._lines(school) if (since is None or due(x) >= since) and due(x) <= through),
                       key=lambda x: (due(x), x.case_id, x.deadline))
        return found[:limit], len(found)

    def waiting_lines(self, school: str, *, limit: int) -> tuple[list[WaitingLine], int]:
        found = sorted(WaitingLine(cid, s, w.waiting) for cid, (s, w) in self._db.worklists.items()
                       if s == school and w.waiting)
        return found[:limit], len(found)

    def state_counts(self, school: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._db.cases.values():
            if r["school"] == school:
                out[r["state"]] = out.get(r["state"], 0) + 1
        return out

    def caseload(self, query: CaseloadQuery, *, after: tuple[dt.datetime, str] | None,
                 before: tuple[dt.datetime, str] | None, size: int) -> list[CaseloadRow]:
        from workflow.domain.worklist import worst

        q = query
        rows = []
        for cid, r in self._db.cases.items():
            if r["school"] != q.school or (q.open_only and r["closed_at"] is not None):
                continue
            if (q.states is not None and r["state"] not in q.states) or \
                    (q.group is not None and r["school_group"] != q.group) or \
                    (q.pupil_index is not None and r["pupil_index"] != q.pupil_index):
                continue
            _, w = self._db.worklists.get(cid, (None, None))
            if q.waiting and (w is None or not w.waiting):
                continue
            if q.deadline == "week":
                if w is None or not any(0 <= x.days_left(q.today) <= 6 for x in w.deadlines):
                    continue
            elif q.deadline is not None:
                status = worst(x.status_on(q.today) for x in w.deadlines) if w is not None else None
                if (status or "none") != q.deadline:
                    continue
            rows.append(CaseloadRow(cid, r["school"], r["school_group"], r["state"], r["level"], r["version"],
                                    r["opened_at"], r["closed_at"]))
        rows.sort(key=lambda x: (x.opened_at, x.case_id), reverse=True)
        if before is not None:
            older = [x for x in rows if (x.opened_at, x.case_id) > before]
            return older[-size:]
        if after is not None:
            rows = [x for x in rows if (x.opened_at, x.case_id) < after]
        return rows[:size]

    def worklists(self, case_ids: Sequence[str]) -> dict[str, Worklist]:
        return {cid: self._db.worklists[cid][1] for cid in case_ids if cid in self._db.worklists}

    def worklist_built(self) -> str | None:
        found = self._db.read_models.get("worklist")
        return None if found is None else found[0]

    def rebuild_worklist_begin(self) -> None:
        self._j.pop(self._db.read_models, "worklist")
        for cid in list(self._db.worklists):
            self._j.pop(self._db.worklists, cid)

    def mark_worklist_built(self, fingerprint: str, now: dt.datetime) -> None:
        self._j.put(self._db.read_models, "worklist", (fingerprint, now))

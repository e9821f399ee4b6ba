"""Bringing in existing cases: a school that starts with passend has pupils at levels 2-4 and
OPPs in force already.

Each case is opened as usual (`case_opened`) and then moved at once to the level or OPP state it
is at (`imported`, right after, as event 2): with the date its level began, the date its state
began (the OPP's adoption date for an adopted OPP), and the reason. Nothing that happened before
is in passend, so replay and compliance say that time is not judged. Evidence recorded later
counts for the level from the day it began (so a school enters its recent evaluations), never
from before it.

A file is checked whole before anything is written: a bad line is named by its number and
nothing is imported; then every case goes in in one transaction (one statement per table).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.adapters.ports import NewCase
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.domain.evidence import parse_date
from workflow.domain.instants import local_date
from workflow.messages import text
from workflow.service_layer.cases import PUPIL_REF, new_case_id
from workflow.service_layer.context import ServiceContext, bind_log

log = get_logger("passend.import")
COLUMNS = ("pupil", "school", "state", "since", "reason", "opp_adopted_on", "rod_start_registered_on", "name",
           "group")
REQUIRED = ("pupil", "school", "state", "since", "reason")
REASON_LIMIT = 200
MAX_ROWS = 100_000


def _fail(line: int | None, message: str) -> BadInput:
    return BadInput(text("svc.imports.at_line", line=line, problem=message) if line is not None else message)


def _state(d: ProcessDefinition, given: str) -> str:
    """A state by its id, or a bare level ("3"): the importable level state of that level."""
    given = given.strip()
    if given in d.states:
        if given not in d.importable:
            raise ValueError(text("svc.imports.state_not_importable", state=given, choices=", ".join(d.importable)))
        return given
    if given.isdigit():
        opp_states = d.draft_states | d.adopted_states
        for name in d.importable:
            if d.states[name].level == int(given) and name not in opp_states:
                return name
    raise ValueError(text("svc.imports.unknown_state", state=given, choices=", ".join(d.importable)))


def _date(value: str, what: str, today: dt.date) -> dt.date:
    try:
        day = parse_date(value.strip(), what)
    except BadInput as exc:
        raise ValueError(exc.message) from None
    if day > today:
        raise ValueError(text("svc.imports.date_in_future", column=what, date=day.isoformat()))
    return day


def check_row(ctx: ServiceContext, d: ProcessDefinition, row: Mapping[str, str | None], today: dt.date,
              ) -> dict[str, Any]:
    """One case to import, checked; ValueError names what is wrong (in Dutch)."""
    values = {k: (v or "").strip() for k, v in row.items() if k is not None}
    lacking = [c for c in REQUIRED if not values.get(c)]
    if lacking:
        raise ValueError(text("svc.imports.lacking", columns=", ".join(lacking)))
    school = values["school"]
    if school not in ctx.config.schools:
        raise ValueError(text("svc.context.unknown_school", school=school))
    pupil = values["pupil"]
    if not PUPIL_REF.match(pupil):
        raise ValueError(text("svc.imports.pupil"))
    state = _state(d, values["state"])
    since = _date(values["since"], "since", today)
    adopted_raw = values.get("opp_adopted_on")
    adopted = _date(adopted_raw, "opp_adopted_on", today) if adopted_raw else None
    if state in d.adopted_states and adopted is None:
        raise ValueError(text("svc.imports.adopted_missing", state=state))
    if adopted is not None and state not in d.adopted_states | d.draft_states:
        raise ValueError(text("svc.imports.adopted_without_opp", state=state))
    if adopted is not None and adopted < since:
        raise ValueError(text("svc.imports.adopted_before_since", date=adopted.isoformat(),
                              since=since.isoformat()))
    rod_raw = values.get("rod_start_registered_on")
    rod = _date(rod_raw, "rod_start_registered_on", today) if rod_raw else None
    if rod is not None and (adopted is None or rod < adopted):
        raise ValueError(text("svc.imports.rod_start"))
    reason = " ".join(values["reason"].split())
    if len(reason) > REASON_LIMIT:
        raise ValueError(text("svc.imports.reason", limit=REASON_LIMIT))
    name = values.get("name") or None
    if name is not None and len(name) > 200:
        raise ValueError(text("svc.imports.name"))
    group: int | None = None
    if values.get("group"):
        if not values["group"].isdigit() or not 1 <= int(values["group"]) <= 8:
            raise ValueError(text("svc.imports.group"))
        group = int(values["group"])
    state_since = adopted if adopted is not None and state in d.adopted_states else since
    return {"pupil": pupil, "school": school, "state": state, "level": d.level_of(state), "since": since,
            "state_since": state_since, "adopted": adopted, "rod": rod, "reason": reason, "name": name,
            "group": group}


def _build(ctx: ServiceContext, d: ProcessDefinition, r: Mapping[str, Any], actor: str, role: str,
           now: dt.datetime) -> NewCase:
    case_id = new_case_id()
    key, wrapped = ctx.keyring.new_case_key(case_id)
    cipher = CaseCipher(case_id, key)
    opened: dict[str, Any] = {"school": r["school"], "pupil": cipher.seal("pupil", r["pupil"]),
                              "state": d.initial, "level": d.level_of(d.initial)}
    if r["name"]:
        opened["name"] = cipher.seal("name", r["name"])
    if r["group"] is not None:
        opened["group"] = r["group"]
    first = make_event(case_id=case_id, seq=1, type="case_opened", process_id=d.id, process_version=d.version,
                       actor=actor, role=role, recorded_at=now, payload=opened, prev_hash=GENESIS_HASH)
    payload: dict[str, Any] = {"state": r["state"], "level": r["level"], "level_since": r["since"].isoformat(),
                               "state_since": r["state_since"].isoformat(), "reason": r["reason"]}
    if r["adopted"] is not None:
        payload["opp_adopted_on"] = r["adopted"].isoformat()
    if r["rod"] is not None:
        payload["rod_start_registered_on"] = r["rod"].isoformat()
    second = make_event(case_id=case_id, seq=2, type="imported", process_id=d.id, process_version=d.version,
                        actor=actor, role=role, recorded_at=now, payload=payload, prev_hash=first.hash)
    case = Case.from_events([first, second])
    return NewCase(case, ctx.keyring.pupil_index(r["school"], r["pupil"]), wrapped)


def import_rows(ctx: ServiceContext, rows: Iterable[tuple[int | None, Mapping[str, str | None]]], *,
                actor: str, dry_run: bool = False) -> dict[str, Any]:
    """Check every row, then open every case in one transaction (or, dry, only check)."""
    user = ctx.user(actor)
    bind_log(actor=actor, command="case.import")
    d = ctx.definition
    if user.role not in d.open_roles:
        raise BadInput(text("svc.imports.role_may_not_import", role=user.role, roles=", ".join(sorted(d.open_roles))))
    now = ctx.clock()
    today = local_date(now)
    checked: list[dict[str, Any]] = []
    seen: dict[str, int | None] = {}
    for line, row in rows:
        try:
            r = check_row(ctx, d, row, today)
        except ValueError as exc:
            raise _fail(line, str(exc)) from None
        if not user.serves(r["school"]):
            raise _fail(line, text("svc.context.not_your_school", user=actor, school=r["school"]))
        index = ctx.keyring.pupil_index(r["school"], r["pupil"])
        if index in seen:
            raise _fail(line, text("svc.imports.duplicate", line=seen[index]))
        seen[index] = line
        r["index"], r["line"] = index, line
        checked.append(r)
        if len(checked) > MAX_ROWS:
            raise _fail(line, text("svc.imports.too_many", limit=MAX_ROWS))
    if not checked:
        raise BadInput(text("svc.imports.empty"))
    with ctx.uow(write=not dry_run) as uow:
        for r in checked:
            existing = uow.cases.find_open(r["index"])
            if existing is not None:
                raise _fail(r["line"], text("svc.imports.already_open", case=existing))
        if dry_run:
            return {"dry_run": True, "cases": len(checked), "case_ids": []}
        built = [_build(ctx, d, r, actor, user.role, now) for r in checked]
        uow.store.import_new_cases(built)
        uow.commit()
    log.info("cases.imported", cases=len(built))
    return {"dry_run": False, "cases": len(built), "case_ids": [b.case.case_id for b in built],
            "states": {s: sum(1 for b in built if b.case.state == s) for s in sorted({b.case.state for b in built})}}


def read_csv(path: Path) -> list[tuple[int | None, dict[str, str | None]]]:
    """The rows of an import file (UTF-8, a header row, comma or semicolon), with line numbers."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(text("svc.imports.no_file", path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(text("svc.imports.not_utf8", path=path, error=type(exc).__name__)) from None
    first = content.splitlines()[0] if content.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(content.splitlines(keepends=True), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        raise _fail(1, text("svc.imports.bad_csv", error=exc)) from None
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise _fail(1, text("svc.imports.unknown_column", column=unknown[0], columns=", ".join(COLUMNS)))
    lacking = [c for c in REQUIRED if c not in header]
    if lacking:
        raise _fail(1, text("svc.imports.column_missing", columns=", ".join(lacking)))
    reader.fieldnames = header
    out: list[tuple[int | None, dict[str, str | None]]] = []
    try:
        for row in reader:
            if None in row:
                raise _fail(reader.line_num, text("svc.imports.too_many_fields"))
            if not any((v or "").strip() for v in row.values()):
                continue  # an empty line
            out.append((reader.line_num, dict(row)))
    except csv.Error as exc:
        raise _fail(reader.line_num, text("svc.imports.bad_csv", error=exc)) from None
    return out


def import_csv(ctx: ServiceContext, path: Path, *, actor: str, dry_run: bool = False) -> dict[str, Any]:
    return import_rows(ctx, read_csv(path), actor=actor, dry_run=dry_run)


def import_one(ctx: ServiceContext, *, actor: str, **values: Any) -> dict[str, Any]:
    """One case, as one line of a file would bring it in (its problems are named without a line)."""
    row = {k: None if v is None else str(v) for k, v in values.items()}
    unknown = [k for k in row if k not in COLUMNS]
    if unknown:
        raise BadInput(text("svc.imports.unknown_field", field=unknown[0]))
    return import_rows(ctx, [(None, row)], actor=actor)

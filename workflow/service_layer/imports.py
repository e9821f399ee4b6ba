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
from workflow.service_layer.cases import PUPIL_REF, new_case_id
from workflow.service_layer.context import ServiceContext, bind_log

log = get_logger("passend.import")
COLUMNS = ("pupil", "school", "state", "since", "reason", "opp_adopted_on", "rod_start_registered_on", "name",
           "group")
REQUIRED = ("pupil", "school", "state", "since", "reason")
REASON_LIMIT = 200
MAX_ROWS = 100_000


def _fail(line: int | None, message: str) -> BadInput:
    return BadInput(f"regel {line}: {message}; er is niets ingevoerd" if line is not None else message)


def _state(d: ProcessDefinition, given: str) -> str:
    """A state by its id, or a bare level ("3"): the importable level state of that level."""
    given = given.strip()
    if given in d.states:
        if given not in d.importable:
            raise ValueError(f"status '{given}' kan niet worden ingevoerd (kies uit: {', '.join(d.importable)})")
        return given
    if given.isdigit():
        opp_states = d.draft_states | d.adopted_states
        for name in d.importable:
            if d.states[name].level == int(given) and name not in opp_states:
                return name
    raise ValueError(f"onbekende status '{given}' (kies uit: {', '.join(d.importable)}, of een niveau)")


def _date(value: str, what: str, today: dt.date) -> dt.date:
    try:
        day = parse_date(value.strip(), what)
    except BadInput as exc:
        raise ValueError(exc.message) from None
    if day > today:
        raise ValueError(f"{what} {day.isoformat()} ligt in de toekomst")
    return day


def check_row(ctx: ServiceContext, d: ProcessDefinition, row: Mapping[str, str | None], today: dt.date,
              ) -> dict[str, Any]:
    """One case to import, checked; ValueError names what is wrong (in Dutch)."""
    values = {k: (v or "").strip() for k, v in row.items() if k is not None}
    lacking = [c for c in REQUIRED if not values.get(c)]
    if lacking:
        raise ValueError(f"nog niet ingevuld: {', '.join(lacking)}")
    school = values["school"]
    if school not in ctx.config.schools:
        raise ValueError(f"onbekende school '{school}'")
    pupil = values["pupil"]
    if not PUPIL_REF.match(pupil):
        raise ValueError("pupil: een leerlingreferentie van 1-64 tekens (letters, cijfers, . _ / -)")
    state = _state(d, values["state"])
    since = _date(values["since"], "since", today)
    adopted_raw = values.get("opp_adopted_on")
    adopted = _date(adopted_raw, "opp_adopted_on", today) if adopted_raw else None
    if state in d.adopted_states and adopted is None:
        raise ValueError(f"status '{state}' heeft een vastgesteld OPP: vul opp_adopted_on in")
    if adopted is not None and state not in d.adopted_states | d.draft_states:
        raise ValueError(f"opp_adopted_on hoort bij een casus met een OPP, niet bij '{state}'")
    if adopted is not None and adopted < since:
        raise ValueError(f"opp_adopted_on {adopted.isoformat()} ligt voor het begin van het niveau "
                         f"({since.isoformat()})")
    rod_raw = values.get("rod_start_registered_on")
    rod = _date(rod_raw, "rod_start_registered_on", today) if rod_raw else None
    if rod is not None and (adopted is None or rod < adopted):
        raise ValueError("rod_start_registered_on hoort bij een vastgesteld OPP en ligt niet voor opp_adopted_on")
    reason = " ".join(values["reason"].split())
    if len(reason) > REASON_LIMIT:
        raise ValueError(f"reason: hooguit {REASON_LIMIT} tekens (zonder persoonsgegevens)")
    name = values.get("name") or None
    if name is not None and len(name) > 200:
        raise ValueError("name: een naam van 1-200 tekens")
    group: int | None = None
    if values.get("group"):
        if not values["group"].isdigit() or not 1 <= int(values["group"]) <= 8:
            raise ValueError("group: een groep van 1 tot en met 8")
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
        raise BadInput(f"rol '{user.role}' mag geen casussen invoeren (rollen: {', '.join(sorted(d.open_roles))})")
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
            raise _fail(line, f"{actor} werkt niet voor school '{r['school']}'")
        index = ctx.keyring.pupil_index(r["school"], r["pupil"])
        if index in seen:
            raise _fail(line, f"deze leerling staat al op regel {seen[index]}")
        seen[index] = line
        r["index"], r["line"] = index, line
        checked.append(r)
        if len(checked) > MAX_ROWS:
            raise _fail(line, f"hooguit {MAX_ROWS} casussen per bestand")
    if not checked:
        raise BadInput("er staan geen casussen in om in te voeren")
    with ctx.uow(write=not dry_run) as uow:
        for r in checked:
            existing = uow.cases.find_open(r["index"])
            if existing is not None:
                raise _fail(r["line"], f"deze leerling heeft al een open casus ({existing})")
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
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"{path}: bestand bestaat niet") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: niet te lezen als UTF-8 ({type(exc).__name__})") from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        raise BadInput(f"regel 1: geen geldige CSV ({exc}); er is niets ingevoerd") from None
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise BadInput(f"regel 1: onbekende kolom '{unknown[0]}' (kolommen: {', '.join(COLUMNS)}); "
                       "er is niets ingevoerd")
    lacking = [c for c in REQUIRED if c not in header]
    if lacking:
        raise BadInput(f"regel 1: de kolom {', '.join(lacking)} ontbreekt; er is niets ingevoerd")
    reader.fieldnames = header
    out: list[tuple[int | None, dict[str, str | None]]] = []
    try:
        for row in reader:
            if None in row:
                raise BadInput(f"regel {reader.line_num}: meer velden dan kolommen; er is niets ingevoerd")
            if not any((v or "").strip() for v in row.values()):
                continue  # an empty line
            out.append((reader.line_num, dict(row)))
    except csv.Error as exc:
        raise BadInput(f"regel {reader.line_num}: geen geldige CSV ({exc}); er is niets ingevoerd") from None
    return out


def import_csv(ctx: ServiceContext, path: Path, *, actor: str, dry_run: bool = False) -> dict[str, Any]:
    return import_rows(ctx, read_csv(path), actor=actor, dry_run=dry_run)


def import_one(ctx: ServiceContext, *, actor: str, **values: Any) -> dict[str, Any]:
    """One case, as one line of a file would bring it in (its problems are named without a line)."""
    row = {k: None if v is None else str(v) for k, v in values.items()}
    unknown = [k for k in row if k not in COLUMNS]
    if unknown:
        raise BadInput(f"onbekend veld '{unknown[0]}'")
    return import_rows(ctx, [(None, row)], actor=actor)

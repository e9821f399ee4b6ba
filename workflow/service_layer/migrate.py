"""Moving open cases to a new version of their process: `passend process migrate --to N`.

A case keeps the definition version it was opened under, so a school that changes its process
(another guard, a new deadline, the OPP document of version 2) would otherwise run two processes
side by side for years. The new definition file declares, in `[migrate]`, the version it takes
cases from and how each of that version's states maps to one of its own. Each open case of that
version moves with one `migrated` event, decided under the new version: the case's history is
not rewritten (its events keep the version they were decided under, and replay uses it), and
from that event on the new version's rules apply.

All or nothing: when one open case is in a state the new file does not map, nothing moves and
every such case is named (resolve or close them first, or map their state). `--dry-run` lists
every case and what would change, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from workflow.adapters.logs import get_logger
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, Refused
from workflow.messages import text
from workflow.service_layer.context import ServiceContext, bind_log

log = get_logger("passend.migrate")


def target_of(ctx: ServiceContext, to: int) -> ProcessDefinition:
    target = ctx.registry.get(ctx.definition.id, to)
    if target.migrate_from is None:
        raise BadInput(text("svc.migrate.no_from", path=target.path, version=to))
    return target


def plan(case: Case, target: ProcessDefinition) -> dict[str, Any]:
    """What moving `case` would change (or why it cannot move)."""
    dest = target.migrate_states.get(case.state)
    row: dict[str, Any] = {"case_id": case.case_id, "school": case.school,
                           "from": [case.process_id, case.process_version], "to": [target.id, target.version],
                           "source": case.state, "dest": dest, "level_from": case.level,
                           "level_to": target.level_of(dest) if dest else None, "ok": dest is not None}
    if dest is None:
        row["problem"] = text("svc.migrate.no_place", state=case.state, version=target.version, path=target.path)
    return row


def migrate(ctx: ServiceContext, *, to: int, actor: str, school: str | None = None,
            dry_run: bool = False, case_id: str | None = None) -> dict[str, Any]:
    """Move every open case of the version `to` takes cases from (of `school`, or the one
    `case_id`) to version `to`; with `dry_run` only say what would change."""
    user = ctx.user(actor)
    bind_log(actor=actor, command="process.migrate")
    target = target_of(ctx, to)
    if user.role not in target.migrate_roles:
        allowed = ", ".join(sorted(target.migrate_roles))
        raise Refused(text("svc.migrate.role_may_not_migrate", role=user.role, roles=allowed),
                      reasons=[text("svc.migrate.only_roles", roles=allowed)])
    schools = ctx.schools_for(user, school)
    source = target.migrate_from
    now = ctx.clock()
    with ctx.uow(write=not dry_run) as uow:
        ids = [row.case_id for row in uow.cases.projections(schools)
               if row.closed_at is None and row.process_id == target.id and row.process_version == source
               and (case_id is None or row.case_id == case_id)]
        cases = [c for c in (uow.store.load(cid) for cid in ids) if c is not None and not c.closed]
        rows = [plan(c, target) for c in cases]
        refused_rows = [r for r in rows if not r["ok"]]
        result = {"to": target.version, "from": source, "dry_run": dry_run, "cases": rows,
                  "moved": 0, "refused": len(refused_rows)}
        if dry_run:
            return result
        if refused_rows:
            raise Refused(text("svc.migrate.refused", version=to, count=len(refused_rows)),
                          reasons=[text("svc.migrate.case_problem", case=r["case_id"], problem=r["problem"])
                                   for r in refused_rows])
        for case, row in zip(cases, rows, strict=True):
            payload = {"from_version": case.process_version, "to_version": target.version, "source": case.state,
                       "dest": row["dest"], "level_from": case.level, "level_to": row["level_to"],
                       "states": dict(sorted(target.migrate_states.items()))}
            ev = case.next_event(type="migrated", payload=payload, actor=actor, role=user.role,
                                 recorded_at=now, process=target)
            expected = case.version
            case.apply(ev)
            uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    result["moved"] = len(cases)
    log.info("cases.migrated", cases=len(cases), to=to)
    return result

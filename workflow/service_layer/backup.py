"""`passend backup` and `passend restore`: a copy of the store, and putting one back only once
it has been checked.

A restore is where a damaged or tampered copy would do the most harm: it would become the
record. So the backup is first copied next to the database under a temporary name, brought up
to this version's schema (an older backup is upgraded like `passend init` would; a newer one is
refused), and then `audit verify` runs on it, every case's hash chain and the access log's. Only
a copy that verifies, and whose case keys the configured master key opens, replaces the
database (an atomic rename); the database it replaces is kept next to it under
`NAME.voor-herstel-TIMESTAMP`, never deleted. Stop `passend serve` and `passend web` first: they
would keep writing to the file that was moved aside.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.adapters.crypto import KeyRing
from workflow.adapters.files import PrivateFiles
from workflow.adapters.ports import Store
from workflow.domain.errors import BadInput, ConfigError, IntegrityError, StoreProblem
from workflow.messages import text
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.context import ServiceContext

KEYS_CHECKED = 100  # cases whose key is tried with the master key before a restore


def pg_restore() -> BadInput:
    """What `passend restore` says on PostgreSQL, which restores with its own tools."""
    return BadInput(text("svc.backup.pg_restore"))


def backup(ctx: ServiceContext, out: Path) -> dict[str, Any]:
    """Copy the store into the new file `out` (0600) while it stays in use; then check the copy."""
    ctx.store.backup(out, ctx.files)
    return {"out": str(out), "bytes": out.stat().st_size}


def restore(source: Path, target: Path, *, store_at: Callable[[Path], Store], keyring: KeyRing,
            files: PrivateFiles, replace: bool, now: dt.datetime) -> dict[str, Any]:
    """Put the backup `source` in place of the SQLite database `target`, only once it verifies.

    `store_at(path)`: a store on a SQLite file (the composition root makes it)."""
    from workflow.adapters.store.backup import copy_file

    if target.exists() and not replace:
        raise BadInput(text("svc.backup.target_exists", path=target))
    staged = target.with_name(f".{target.name}.herstel-{os.getpid()}")
    copy_file(source, staged, files)
    try:
        summary = _check(store_at(staged), source, keyring)
        kept = _move_aside(target, now) if target.exists() else None
        os.replace(staged, target)
        files.secure(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
        for extra in ("-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(staged) + extra).unlink()
    return {**summary, "source": str(source), "database": str(target), "kept_as": kept}


def _check(store: Store, source: Path, keyring: KeyRing) -> dict[str, Any]:
    try:
        heads = store.init()  # an older backup is brought up to this schema; a newer one refused
        with store.uow(write=False) as uow:
            report = verify(uow)
            if not report.ok:
                first = report.problems[0] if report.problems else None
                what = (text("svc.backup.first_case", case=first.case_id, kind=first.kind) if first is not None
                        else text("svc.backup.first_access", kind=report.access.problems[0].kind))
                access = text("svc.backup.access_intact" if report.access.ok else "svc.backup.access_broken")
                raise IntegrityError(text("svc.backup.not_intact", path=source, broken=len(report.problems),
                                          access=access, first=what))
            checked = 0
            for case_id, _version, _head in uow.cases.heads():
                wrapped = uow.store.wrapped_key(case_id)
                if wrapped is None:  # erased: no key to try
                    continue
                try:
                    keyring.unwrap(case_id, wrapped)
                except ConfigError:
                    raise StoreProblem(text("svc.backup.other_key", path=source)) from None
                checked += 1
                if checked >= KEYS_CHECKED:
                    break
            d = report.as_dict()
            return {"schema": heads, "cases": d["cases"], "events": d["events"],
                    "access_records": report.access.records, "access_head": report.access.head_hash}
    finally:
        store.dispose()


def _move_aside(target: Path, now: dt.datetime) -> str:
    stamp = now.strftime("%Y%m%dT%H%M%S")
    aside = target.with_name(f"{target.name}.voor-herstel-{stamp}")
    for extra in ("-wal", "-shm"):  # the live file's uncheckpointed commits go with it
        side = Path(str(target) + extra)
        if side.exists():
            os.replace(side, Path(str(aside) + extra))
    os.replace(target, aside)
    return str(aside)

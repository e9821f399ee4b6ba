"""Export events as JSON Lines with a manifest, in a form an auditor can check without us.

Each line is the event's canonical object (docs/event-chain.md) plus its stored `hash`, so the
auditor's script only has to re-serialise it by the documented rules and hash. The manifest
gives counts, each case's chain anchor and head hash, the definition versions (with the SHA-256
of their files) and the SHA-256 of the events file; SHA256SUMS covers both files. Events are
streamed straight from the store to the file: memory holds one line and the per-case summary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..clock import SCHOOL_TZ, iso_utc
from ..errors import BadInput
from ..events import CHAIN_VERSION, GENESIS_HASH
from .access import clean_behalf, clean_purpose, log_access
from .verify import Hasher, stream_rows

if TYPE_CHECKING:
    from ..service import Engine

FORMAT = "passend-export"
FORMAT_VERSION = 1
EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"
SUMS_FILE = "SHA256SUMS"


def _since_instant(since: dt.date) -> dt.datetime:
    return dt.datetime.combine(since, dt.time(0, 0), tzinfo=SCHOOL_TZ).astimezone(dt.UTC)


def export(
    engine: Engine, out: Path, *, actor: str, school: str | None = None,
    since: dt.date | None = None, purpose: str | None = None, on_behalf_of: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write events.jsonl, manifest.json and SHA256SUMS into `out` (new or empty); return the manifest."""
    from ..store.tables import cases

    user = engine.user(actor)
    clean_purpose(purpose, "audit.export")
    clean_behalf(on_behalf_of)
    schools = engine.schools_for(user, school)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"--out: {out} bestaat al en is niet leeg; kies een nieuwe map")
    out.mkdir(parents=True, exist_ok=True)

    now = engine.clock()
    where: list[str] = []
    params: dict[str, Any] = {}
    if schools is not None:
        names = [f"s{i}" for i in range(len(schools))]
        where.append(f"case_id IN (SELECT case_id FROM cases WHERE school IN ({', '.join(':' + n for n in names)}))")
        params.update(zip(names, schools, strict=True))
    if since is not None:
        instant = _since_instant(since)
        where.append("recorded_at >= :since")
        params["since"] = (instant.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
                           if engine.db.dialect.name == "sqlite" else instant)
    clause = (" WHERE " + " AND ".join(where)) if where else ""

    hasher = Hasher()
    summary: dict[str, dict[str, Any]] = {}
    versions: set[tuple[str, int]] = set()
    n_events = 0
    intact = True
    digest = hashlib.sha256()
    events_path = out / EVENTS_FILE
    with engine.db.connect() as conn, events_path.open("wb") as fh:
        current: dict[str, Any] | None = None
        for r in stream_rows(conn, clause, params):
            cid, seq = r[0], r[1]
            canonical = hasher.canonical(r)
            line = canonical[:-1] + b',"hash":' + json.dumps(r[10]).encode() + b"}\n"
            fh.write(line)
            digest.update(line)
            n_events += 1
            if current is None or current["case_id"] != cid:
                current = {"case_id": cid, "events": 0, "first_seq": seq, "anchor_prev_hash": r[9],
                           "last_seq": seq, "head_hash": r[10], "process_versions": set()}
                summary[cid] = current
            elif seq != current["last_seq"] + 1 or r[9] != current["head_hash"]:
                intact = False
            if hashlib.sha256(canonical).hexdigest() != r[10]:
                intact = False
            current["events"] += 1
            current["last_seq"], current["head_hash"] = seq, r[10]
            current["process_versions"].add(r[4])
            versions.add((r[3], r[4]))
            if progress is not None:
                progress(1)
        heads: dict[str, Any] = {}
        ids = list(summary)
        for i in range(0, len(ids), 500):
            for row in conn.execute(select(cases.c.case_id, cases.c.school, cases.c.version, cases.c.head_hash)
                                    .where(cases.c.case_id.in_(ids[i:i + 500]))):
                heads[row.case_id] = row
    for cid, s in summary.items():
        h = heads.get(cid)
        s["school"] = h.school if h is not None else None
        s["store_version"] = h.version if h is not None else None
        s["store_head_hash"] = h.head_hash if h is not None else None
        s["complete"] = s["first_seq"] == 1 and s["anchor_prev_hash"] == GENESIS_HASH
        s["process_versions"] = sorted(s["process_versions"])
        if h is None or (since is None and (h.version != s["last_seq"] or h.head_hash != s["head_hash"])):
            intact = False
    events_sha = digest.hexdigest()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "chain_version": CHAIN_VERSION,
        "spec": "docs/event-chain.md",
        "created_at": iso_utc(now),
        "exported_by": actor,
        "purpose": clean_purpose(purpose, "audit.export"),
        "filters": {"school": school, "schools": schools, "since": since.isoformat() if since else None},
        "counts": {"cases": len(summary), "events": n_events},
        "store_chain_intact": intact,
        "files": {EVENTS_FILE: {"sha256": events_sha, "lines": n_events}},
        "export_sha256": events_sha,
        "definitions": _definitions(engine, versions),
        "cases": [summary[c] for c in sorted(summary)],
    }
    manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    (out / MANIFEST_FILE).write_bytes(manifest_bytes)
    (out / SUMS_FILE).write_text(
        f"{events_sha}  {EVENTS_FILE}\n{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST_FILE}\n",
        encoding="ascii",
    )
    with engine.db.begin() as conn:
        log_access(conn, actor=actor, role=user.role, action="audit.export",
                   cases=[(c, summary[c]["school"]) for c in sorted(summary)], purpose=purpose,
                   on_behalf_of=on_behalf_of, at=now)
    return manifest


def _definitions(engine: Engine, versions: set[tuple[str, int]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pid, ver in sorted(versions):
        item: dict[str, Any] = {"id": pid, "version": ver}
        try:
            d = engine.registry.get(pid, ver)
        except BadInput:
            item["installed"] = False
        else:
            item.update(installed=True, title=d.title, file=Path(d.path).name,
                        sha256=_file_sha(Path(d.path)))
        out.append(item)
    return out


def _file_sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None

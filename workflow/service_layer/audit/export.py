"""Export events as JSON Lines with a manifest, in a form an auditor can check without us.

Each line is the event's canonical object (docs/event-chain.md) plus its stored `hash`, so the
auditor's script only has to re-serialise it by the documented rules and hash. The manifest
gives counts, each case's chain anchor and head hash, the definition versions (with the SHA-256
of their files), the SHA-256 of the events file and the newest witness root; proofs.jsonl holds each
case's inclusion proof in that root; SHA256SUMS covers the three files. Events are
streamed straight from the store to the file, and the manifest's case entries through a temporary
file: memory holds one line and one chunk of case entries, however large the export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from workflow.adapters.files import PrivateFiles
from workflow.adapters.ports import CaseReadModel
from workflow.domain.errors import BadInput
from workflow.domain.events import CHAIN_VERSION, GENESIS_HASH
from workflow.domain.instants import SCHOOL_TZ, iso_utc
from workflow.messages import text
from workflow.service_layer.access import access_ready, clean_behalf, clean_purpose, write_access
from workflow.service_layer.audit.verify import Hasher
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.witness import record
from workflow.service_layer.witness.proofs import write_proofs

FORMAT = "passend-export"
FORMAT_VERSION = 2  # 2: proofs.jsonl and the manifest's `witness`
EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"
PROOFS_FILE = "proofs.jsonl"
SUMS_FILE = "SHA256SUMS"


def _since_instant(since: dt.date) -> dt.datetime:
    return dt.datetime.combine(since, dt.time(0, 0), tzinfo=SCHOOL_TZ).astimezone(dt.UTC)


def export(
    engine: ServiceContext, out: Path, *, actor: str, school: str | None = None,
    since: dt.date | None = None, purpose: str | None = None, on_behalf_of: str | None = None,
    progress: Callable[[int], None] | None = None, source: str = "passend",
) -> dict[str, Any]:
    """Write events.jsonl, manifest.json, proofs.jsonl and SHA256SUMS into `out` (new or empty); return the
    manifest without its `cases` (read them from manifest.json: there is one entry per case).
    `source`: where the access records say the export came from ("web": the Audit page)."""
    user = engine.user(actor)
    clean_purpose(purpose, "audit.export")
    clean_behalf(on_behalf_of)
    schools = engine.schools_for(user, school)
    access_ready(engine)  # a read-only store without --access-log: refused before anything is written
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(text("svc.export.out_not_empty", path=out))
    files = engine.files
    files.mkdir(out)

    now = engine.clock()
    hasher = Hasher()
    versions: set[tuple[str, int]] = set()
    n_events = n_cases = 0
    intact = True
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as spool:
        with engine.uow(write=False) as uow, files.open(out / EVENTS_FILE, "wb") as fh:
            finished = _Finisher(uow.cases, spool, check_heads=since is None)
            access_head = uow.access_log.head()  # before this export's own records
            current: dict[str, Any] | None = None
            batches = uow.store.raw_batches(schools=schools, since=_since_instant(since) if since else None)
            for r in itertools.chain.from_iterable(batches):
                cid, seq = r[0], r[1]
                canonical = hasher.canonical(r)
                line = canonical[:-1] + b',"hash":' + json.dumps(r[10]).encode() + b"}\n"
                fh.write(line)
                digest.update(line)
                n_events += 1
                if current is None or current["case_id"] != cid:
                    if current is not None:
                        finished.add(current)
                    current = {"case_id": cid, "events": 0, "first_seq": seq, "anchor_prev_hash": r[9],
                               "last_seq": seq, "head_hash": r[10], "process_versions": set()}
                    n_cases += 1
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
            if current is not None:
                finished.add(current)
            finished.flush()
            # The newest witness root, and each exported case's proof in it, in the same snapshot.
            witness = uow.witness.latest()
            with files.open(out / PROOFS_FILE, "wb") as pf:
                n_proofs, proofs_sha = write_proofs(uow, witness, (cid for cid, _ in _spooled_schools(spool)), pf)
        intact = intact and finished.intact
        events_sha = digest.hexdigest()
        head = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "chain_version": CHAIN_VERSION,
            "spec": "docs/event-chain.md",
            "created_at": iso_utc(now),
            "exported_by": actor,
            "purpose": clean_purpose(purpose, "audit.export"),
            "filters": {"school": school, "schools": schools, "since": since.isoformat() if since else None},
            "counts": {"cases": n_cases, "events": n_events},
            "store_chain_intact": intact,
            "files": {EVENTS_FILE: {"sha256": events_sha, "lines": n_events},
                      PROOFS_FILE: {"sha256": proofs_sha, "lines": n_proofs}},
            "export_sha256": events_sha,
            "definitions": _definitions(engine, versions),
            "access_log": access_head,
            "witness": record.as_record(witness) if witness is not None else None,
        }
        manifest_sha = _write_manifest(files, out / MANIFEST_FILE, head, spool)
        files.write_text(out / SUMS_FILE,
                         f"{events_sha}  {EVENTS_FILE}\n{manifest_sha}  {MANIFEST_FILE}\n{proofs_sha}  {PROOFS_FILE}\n")
        write_access(engine, actor=actor, role=user.role, action="audit.export",
                     cases=_spooled_schools(spool), purpose=purpose, on_behalf_of=on_behalf_of, at=now,
                     source=source)
    return head


class _Finisher:
    """Completes each exported case's manifest entry with the store's head of that case, and
    spools the entry (one JSON line) to a temporary file, a chunk of cases at a time.

    Why: the manifest lists every case, and a board's or the country's export has hundreds of
    thousands. Entries wait here only until a chunk of CHUNK is full, so the export's memory is
    one chunk whatever the size of the store. The heads are read in the export's unit of work,
    between two batches of its event stream: the same transaction, so the same snapshot.
    """

    CHUNK = 500

    def __init__(self, cases: CaseReadModel, spool: Any, *, check_heads: bool) -> None:
        self.cases, self.spool, self.check_heads = cases, spool, check_heads
        self.pending: list[dict[str, Any]] = []
        self.intact = True

    def add(self, entry: dict[str, Any]) -> None:
        self.pending.append(entry)
        if len(self.pending) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        heads = self.cases.heads_of([e["case_id"] for e in self.pending])
        for s in self.pending:
            h = heads.get(s["case_id"])
            s["school"] = h.school if h is not None else None
            s["store_version"] = h.version if h is not None else None
            s["store_head_hash"] = h.head_hash if h is not None else None
            s["complete"] = s["first_seq"] == 1 and s["anchor_prev_hash"] == GENESIS_HASH
            s["process_versions"] = sorted(s["process_versions"])
            if h is None or (self.check_heads and (h.version != s["last_seq"] or h.head_hash != s["head_hash"])):
                self.intact = False
            self.spool.write(json.dumps(s, ensure_ascii=False).encode("utf-8") + b"\n")
        self.pending.clear()


def _spooled(spool: Any) -> Iterator[dict[str, Any]]:
    spool.seek(0)
    for line in spool:
        yield json.loads(line)


def _spooled_schools(spool: Any) -> Iterator[tuple[str, str | None]]:
    for entry in _spooled(spool):
        yield entry["case_id"], entry["school"]


def _write_manifest(files: PrivateFiles, path: Path, head: dict[str, Any], spool: Any) -> str:
    """Write the manifest (`head` and then the spooled case entries, in case order) and return
    its SHA-256. The bytes are those of `json.dumps(manifest, ensure_ascii=False, indent=2)` with
    `cases` as its last key, written entry by entry instead of built whole."""
    sha = hashlib.sha256()
    with files.open(path, "wb") as f:
        def put(text: str) -> None:
            data = text.encode("utf-8")
            f.write(data)
            sha.update(data)

        put(json.dumps(head, ensure_ascii=False, indent=2)[:-2] + ',\n  "cases": [')
        n = 0
        for entry in _spooled(spool):
            # An entry nested two levels deep: indent=2 puts every line after its first 4 spaces
            # further in. JSON strings hold no raw newline, so every newline is a line break.
            put(("," if n else "") + "\n    " + json.dumps(entry, ensure_ascii=False, indent=2).replace("\n", "\n    "))
            n += 1
        put("\n  ]\n}\n" if n else "]\n}\n")
    return sha.hexdigest()


def _definitions(engine: ServiceContext, versions: set[tuple[str, int]]) -> list[dict[str, Any]]:
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

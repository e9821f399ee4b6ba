"""`passend audit verify --witness`: does the store still extend every root a witness keeps?

For each witnessed root (a record from the mails, or a JSON file of them), by day:

- the store's root of that day, and its leaves: per case the seq and head hash it held. For each
  leaf, the store's event of that case at that seq must still have that hash; otherwise the case
  is named: `head_changed` (its history up to the witnessed head was rewritten), `event_missing`
  (the event is gone) or `case_gone` (the case has no events any more). Since plain `verify`
  checks every chain from seq 1, an event that still has the witnessed hash proves the whole
  history up to it is the one the witness saw;
- the root recomputed from the store's event hashes at those seqs must be the witnessed root;
  when it is not and no case was named, the stored leaves themselves were changed
  (`leaves_changed`): the root still shows it, but not which case;
- a day whose root is gone from the store (`root_missing`) can only be reported as such;
- the access log's record at the witnessed position must still have the witnessed hash
  (`access_log_changed`);
- a stored RFC 3161 token must still cover the witnessed record (`timestamp_mismatch`).

Every finding is one line of the catalog (svc.audit.witness.*, in the language set) beside its
code; any finding makes `audit verify` exit 5. Memory: one chunk of
leaves at a time, whatever the store's size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from workflow.adapters.ports import UnitOfWork, WitnessLeaf, WitnessRoot
from workflow.domain.merkle import RootBuilder, leaf_hash
from workflow.messages import text
from workflow.service_layer.witness import record

CHUNK = 500


@dataclass(frozen=True)
class Finding:
    kind: str
    day: str
    case_id: str | None
    detail: str  # one line, in words (the code is `kind`)


@dataclass
class WitnessReport:
    roots: int = 0
    leaves: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "roots": self.roots, "leaves": self.leaves,
                "findings": [asdict(f) for f in self.findings]}


def check(uow: UnitOfWork, records: Iterable[dict[str, Any]]) -> WitnessReport:
    report = WitnessReport()
    seen: set[tuple[str, str]] = set()
    for rec in sorted(records, key=lambda r: (r["day"], r["root"])):
        if (rec["day"], rec["root"]) in seen:
            continue
        seen.add((rec["day"], rec["root"]))
        report.roots += 1
        _check_root(uow, rec, report)
    return report


def _check_root(uow: UnitOfWork, rec: dict[str, Any], report: WitnessReport) -> None:
    day = rec["day"]
    add = report.findings.append
    _check_access(uow, rec, add)
    stored = uow.witness.of_day(dt.date.fromisoformat(day))
    if stored is None or stored.id is None:
        add(Finding("root_missing", day, None, text("svc.audit.witness.root_missing", day=day)))
        return
    if stored.root != rec["root"]:
        add(Finding("root_changed", day, None, text("svc.audit.witness.root_changed", day=day,
                                                    stored=stored.root[:12], witnessed=rec["root"][:12])))
    builder = RootBuilder()
    named = 0
    leaves = uow.witness.leaves(stored.id)
    try:
        while chunk := list(itertools.islice(leaves, CHUNK)):
            named += _check_leaves(uow, chunk, day, builder, add)
            report.leaves += len(chunk)
    finally:
        close = getattr(leaves, "close", None)
        if close is not None:
            close()
    if (builder.root(), builder.size) != (rec["root"], rec["cases"]) and not named:
        add(Finding("leaves_changed", day, None, text("svc.audit.witness.leaves_changed", day=day)))
    _check_timestamp(uow, stored, rec, add)


def _check_leaves(uow: UnitOfWork, chunk: list[WitnessLeaf], day: str, builder: RootBuilder,
                  add: Any) -> int:
    hashes = uow.witness.event_hashes([(leaf.case_id, leaf.seq) for leaf in chunk])
    missing = [leaf.case_id for leaf in chunk if (leaf.case_id, leaf.seq) not in hashes]
    present = uow.witness.cases_with_events(missing) if missing else set()
    named = 0
    for cid, seq, head in chunk:
        now = hashes.get((cid, seq))
        builder.add(leaf_hash(cid, seq, now if now is not None else head))
        if now == head:
            continue
        named += 1
        if now is not None:
            add(Finding("head_changed", day, cid, text("svc.audit.witness.head_changed", case=cid, seq=seq, day=day)))
        elif cid in present:
            add(Finding("event_missing", day, cid, text("svc.audit.witness.event_missing", case=cid, seq=seq, day=day)))
        else:
            add(Finding("case_gone", day, cid, text("svc.audit.witness.case_gone", case=cid, seq=seq, day=day)))
    return named


def _check_access(uow: UnitOfWork, rec: dict[str, Any], add: Any) -> None:
    n, head = rec["access_log"]["records"], rec["access_log"]["head_hash"]
    if n == 0:
        return
    found = uow.witness.access_hash_at(n)
    if found != head:
        add(Finding("access_log_changed", rec["day"], None,
                    text("svc.audit.witness.access_log_changed", line=n, day=rec["day"], hash=head[:12])))


def _check_timestamp(uow: UnitOfWork, stored: WitnessRoot, rec: dict[str, Any], add: Any) -> None:
    assert stored.id is not None
    stamp = uow.witness.timestamp(stored.id)
    if stamp is None:
        return
    from workflow.service_layer.witness.tsa import TimestampError, check_token

    try:
        check_token(stamp.token, hashlib.sha256(record.canonical(rec)).digest())
    except TimestampError as exc:
        add(Finding("timestamp_mismatch", rec["day"], None,
                    text("svc.audit.witness.timestamp_mismatch", day=rec["day"], error=exc)))

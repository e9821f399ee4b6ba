"""The access log's hash chain: each record seals the one before it (docs/event-chain.md).

Why: the access log is what shows the Inspectie, or parents, who looked at a pupil's file and
why (NEN 7513), so it must be as hard to rewrite quietly as the events. The database triggers
refuse UPDATE and DELETE; the chain is for whoever goes around them with the database's own
rights. A record changed, removed or put in between no longer links to its neighbours, and
`passend audit verify` says which. Removing the newest records leaves a shorter, intact chain:
only a head hash kept outside the system (verify prints it) shows that.

One chain over the whole log, in id order. A record's hash is the SHA-256 of its canonical
form: its fields and the previous record's hash, as canonical JSON (sorted keys, no spaces,
UTF-8), the first record's previous hash being 64 zeros. Records are appended under a lock
(SQLite: the writer's BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), and a
unique index on `prev_hash` makes a fork impossible even so: a second record after the same
one cannot be inserted.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from workflow.adapters.codec import iso_text
from workflow.domain.events import GENESIS_HASH
from workflow.domain.instants import iso_utc

ACCESS_CHAIN_VERSION = 1
FIELDS = ("at", "actor", "role", "action", "case_id", "school", "purpose", "on_behalf_of", "source")
MAX_PROBLEMS = 100
CHUNK = 1000  # records sealed and inserted per statement: an export of a region is a stream
# A stored record as `check` reads it: id, at (the stored text form or a datetime), the FIELDS
# after `at`, prev_hash, hash.
Record = tuple[Any, ...]


# The canonical form is canonical_json of {FIELDS..., "prev_hash", "v"} (the tests compare the
# two); it is filled into this template because verify checks every record of a log that can
# be longer than the event store, and the template is about 4x faster than the JSON encoder.
_TEMPLATE = ('{"action":%s,"actor":%s,"at":"%s","case_id":%s,"on_behalf_of":%s,"prev_hash":%s,'
             '"purpose":%s,"role":%s,"school":%s,"source":%s,"v":' + str(ACCESS_CHAIN_VERSION) + "}")


def _q(value: Any) -> str:
    """A stored value as canonical JSON: a string quoted (non-ASCII kept), None as null. Anything
    else (another type written around the engine) gets a form no engine record has."""
    if value is None:
        return "null"
    if value.__class__ is str:
        return str(encode_basestring(value))
    return str(encode_basestring(repr(value))) + "!"


def _form(at_text: str, actor: Any, role: Any, action: Any, case_id: Any, school: Any, purpose: Any,
          on_behalf_of: Any, source: Any, prev_hash: Any) -> bytes:
    return (_TEMPLATE % (_q(action), _q(actor), at_text, _q(case_id), _q(on_behalf_of), _q(prev_hash),
                         _q(purpose), _q(role), _q(school), _q(source))).encode("utf-8")


def canonical(record: dict[str, Any], prev_hash: str) -> bytes:
    """The bytes a record's hash is taken over: its FIELDS (the time as UTC ISO text) and the
    previous record's hash."""
    r = record
    return _form(iso_utc(r["at"]), r["actor"], r["role"], r["action"], r["case_id"], r["school"],
                 r["purpose"], r["on_behalf_of"], r["source"], prev_hash)


def sealed_chunks(records: Iterable[dict[str, Any]], head: Callable[[], str]) -> Iterator[list[dict[str, Any]]]:
    """`records` CHUNK at a time, each chunk sealed onto the chain: `head()` (the newest hash,
    read under the store's append lock) is asked once, when the first chunk is there, and then
    carried from chunk to chunk. Each store inserts what this yields (access_log, direct)."""
    it = iter(records)
    last: str | None = None
    while chunk := list(itertools.islice(it, CHUNK)):
        last = seal(chunk, head() if last is None else last)
        yield chunk


def seal(records: Iterable[dict[str, Any]], prev_hash: str) -> str:
    """Give each record, in order, its `prev_hash` and `hash`; returns the last hash."""
    for r in records:
        r["prev_hash"] = prev_hash
        r["hash"] = prev_hash = hashlib.sha256(canonical(r, prev_hash)).hexdigest()
    return prev_hash


@dataclass(frozen=True)
class AccessProblem:
    """A record whose hash no longer matches its fields, or that does not follow its predecessor."""

    record_id: int
    kind: str  # record_changed | link_broken | anchor_missing (record_id 0)
    detail: str


@dataclass
class AccessChainReport:
    """The result of checking the access log's chain."""

    records: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[AccessProblem] = field(default_factory=list)
    more_problems: int = 0  # beyond MAX_PROBLEMS, counted only

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "head_hash": self.head_hash,
                "broken": [{"record_id": p.record_id, "kind": p.kind, "detail": p.detail} for p in self.problems],
                "more_broken": self.more_problems}


def check(batches: Iterable[list[Record]], *, progress: Callable[[int], None] | None = None,
          anchor: str | None = None) -> AccessChainReport:
    """Check every record of the access log, in id order, a batch at a time.

    After a break the walk goes on from the stored hash, so one removed or changed record is
    one problem, not every record after it. `anchor`: a head hash noted earlier (verify's output,
    an export's manifest); the log must still hold the record with that hash, else it was cut
    short or rewritten from there on, which the links alone cannot show.
    """
    report = AccessChainReport()
    prev = GENESIS_HASH
    sha = hashlib.sha256
    for chunk in batches:
        for rid, at, actor, role, action, cid, school, purpose, behalf, source, prev_hash, h in chunk:
            if prev_hash != prev:
                _problem(report, rid, "link_broken",
                         f"toegangsregel {rid} volgt niet op de regel ervoor "
                         "(een regel is verwijderd, tussengevoegd of verplaatst)")
            else:
                # The stored form "YYYY-MM-DD HH:MM:SS.ffffff" straight to the canonical one.
                at_text = (at[:10] + "T" + at[11:] + "Z" if at.__class__ is str and len(at) == 26
                           and at[10] == " " and at[19] == "." else iso_text(at))
                if h != sha(_form(at_text, actor, role, action, cid, school, purpose, behalf, source,
                                  prev)).hexdigest():
                    _problem(report, rid, "record_changed",
                             f"toegangsregel {rid} is gewijzigd (de hash klopt niet met de inhoud)")
            prev = h if h.__class__ is str else ""
            if prev == anchor:
                anchor = None  # found
        report.records += len(chunk)
        if progress is not None:
            progress(len(chunk))
    report.head_hash = prev
    if anchor is not None and anchor != GENESIS_HASH:
        _problem(report, 0, "anchor_missing",
                 f"geen toegangsregel heeft meer de eerder vastgelegde hash {anchor}: het log is "
                 "ingekort of vanaf daar herschreven")
    return report


def _problem(report: AccessChainReport, record_id: int, kind: str, detail: str) -> None:
    if len(report.problems) < MAX_PROBLEMS:
        report.problems.append(AccessProblem(record_id, kind, detail))
    else:
        report.more_problems += 1


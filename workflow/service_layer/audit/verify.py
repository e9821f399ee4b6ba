"""Verify every case's hash chain and sequence numbers against what is stored, fast and streamed.

An attacker with database access can edit, delete, reorder or insert rows (dropping the
append-only triggers first). Each of these breaks a recomputed hash, a `prev_hash` link, a
sequence number, or the agreement of the chain's last event with the `cases` projection head.

The fast path reads the stored rows as plain tuples in (case, seq) order, a batch at a time
(`EventStore.raw_batches`: on SQLite straight from the driver), and hashes the payload exactly
as stored, building the canonical header by %-formatting (checked against
`events.canonical_bytes` by the tests). On SQLite the rows come as UTF-8 bytes, which is what
gets hashed anyway: no str objects are decoded only to be encoded again. Only a case that
fails, or holds anything unusual (a column of an unexpected type, a time in another form), gets
the slower general path, which names its first bad event or finds it sound.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from json.encoder import encode_basestring
from typing import Any

from workflow.adapters.access_chain import AccessChainReport
from workflow.adapters.codec import iso_text
from workflow.adapters.ports import RAW_EVENT_COLUMNS, UnitOfWork
from workflow.domain.events import CANONICAL_TEMPLATE, CHAIN_VERSION, GENESIS_HASH, canonical_json

# Column order of the raw rows read by verify and export.
COLUMNS = RAW_EVENT_COLUMNS
__all__ = ["COLUMNS", "Hasher", "Problem", "VerifyReport", "diagnose", "iso_text", "verify"]

Row = tuple[Any, ...]


def text(key: str, /, **values: Any) -> str:
    """A sentence of the catalog (workflow.messages.text), read only when a chain is broken: the
    catalog's import is not paid by a verify that finds everything intact, or by its start."""
    from workflow.messages import text as sentence

    return sentence(key, **values)


@dataclass(frozen=True)
class Problem:
    """The first bad event of a broken case; `kind` is a stable code, `detail` says it in words
    (the catalog's svc.audit.verify.*, in the language set)."""

    case_id: str
    seq: int | None
    kind: str
    detail: str


@dataclass
class VerifyReport:
    cases: int = 0
    events: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    access: AccessChainReport = field(default_factory=AccessChainReport)  # the access log's chain

    @property
    def ok(self) -> bool:
        return not self.problems and self.access.ok

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "cases": self.cases, "events": self.events,
                "broken": [asdict(p) for p in self.problems],
                "seconds": round(self.seconds, 3),
                "events_per_second": round(self.events / self.seconds) if self.seconds > 0 else None,
                "access_log": self.access.as_dict()}


# ---- canonical form, fast -------------------------------------------------------------------
def _fast_template() -> str:
    """CANONICAL_TEMPLATE with the two slots the fast walk fills straight from stored text: the
    stored prev_hash (hex) goes inside its quotes, and the stored time, its space made a "T",
    goes before the "Z". The time is only taken after checking its length and that [10] is a
    space and [19] a point: the engine's form. Should a space come earlier, the one at [10]
    stays, and a canonical form with a space in its time matches no hash the engine ever wrote
    (the general path then judges the row)."""
    t = CANONICAL_TEMPLATE
    for slot, filled in (('"prev_hash":%s', '"prev_hash":"%s"'),
                         ('"recorded_at":"%s"', '"recorded_at":"%sZ"')):
        if t.count(slot) != 1:
            raise RuntimeError(f"the canonical template has no single {slot!r} slot")
        t = t.replace(slot, filled)
    return t


# Bytes for SQLite's byte rows, str for PostgreSQL's; the (actor, process, role, type) parts
# are quoted once per distinct value (_quoted_parts) and cached.
_S_TEMPLATE = _fast_template()
_B_TEMPLATE = _S_TEMPLATE.encode()


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class Hasher:
    """Canonical bytes and SHA-256 of a raw row, caching the JSON of the few repeated strings."""

    def __init__(self) -> None:
        self._cache: dict[Any, str] = {}

    def _c(self, value: Any) -> str:
        s = self._cache.get(value)
        if s is None:
            s = _q(value)
            if len(self._cache) >= 10_000:  # case ids keep coming; start afresh, stay small
                self._cache.clear()
            self._cache[value] = s
        return s

    def canonical(self, r: Row, seq: Any = None) -> bytes:
        cid, rseq, typ, pid, pver, actor, role, at, payload, prev, _h = r
        if seq is None:
            seq = rseq
        c = self._c
        if (type(seq) is int and type(pver) is int and type(at) is str and len(at) == 26
                and at[10] == " " and at[19] == "." and type(prev) is str and prev.isalnum()
                and prev.isascii() and type(payload) is str):
            return (_S_TEMPLATE % (c(actor), c(cid), prev, c(pid), pver, at[:10] + "T" + at[11:],
                                   c(role), seq, c(typ), payload)).encode("utf-8")
        # Anything unusual (PostgreSQL datetimes, or tampered column types): the general path.
        text = (
            '{"actor":' + c(actor) + ',"case_id":' + c(cid) + ',"prev_hash":' + _q(prev)
            + ',"process":[' + c(pid) + "," + _q(pver) + '],"recorded_at":"' + iso_text(at)
            + '","role":' + c(role) + ',"seq":' + _q(seq) + ',"type":' + c(typ)
            + ',"v":' + str(CHAIN_VERSION) + ',"payload":' + str(payload) + "}"
        )
        return text.encode("utf-8")

    def digest(self, r: Row, seq: Any = None) -> str:
        return hashlib.sha256(self.canonical(r, seq)).hexdigest()


# ---- the hot loops --------------------------------------------------------------------------
# One chain's verdict from the fast walk: (case id, sound so far, last seq, last hash). "Not
# sound" means only "look closer": the general path decides.
Chain = tuple[str, bool, int, str]

_B_GENESIS = GENESIS_HASH.encode()
# encode_basestring is what json.dumps(str, ensure_ascii=False) itself calls for a str.
_quote = encode_basestring


def _quoted_parts(key: tuple[Any, ...], as_bytes: bool) -> tuple[Any, ...] | None:
    """The JSON of (actor, process id and version, role, type) for the template, or None when a
    value has a type the engine never writes (that row then takes the general path)."""
    actor, pid, role, typ, pver = key
    if type(pver) is not int:
        return None
    try:
        if as_bytes:
            if not all(type(v) is bytes for v in (actor, pid, role, typ)):
                return None
            actor, pid, role, typ = (v.decode() for v in (actor, pid, role, typ))
        elif not all(type(v) is str for v in (actor, pid, role, typ)):
            return None
        quoted = (_quote(actor), _quote(pid), _quote(role), _quote(typ))
        parts: tuple[str | bytes, ...] = tuple(p.encode() for p in quoted) if as_bytes else quoted
        return (parts[0], parts[1], pver, parts[2], parts[3])
    except UnicodeError:  # bytes that are not UTF-8 (or lone surrogates): never the engine's
        return None


def _byte_chains(batches: Iterable[list[Row]], counted: Callable[[int], None]) -> Iterator[Chain]:
    """The fast walk over SQLite rows whose text is UTF-8 bytes: one template fill, one SHA-256
    and a few comparisons per event, no per-row function calls beyond a dict lookup.

    A column of another storage class (an integer time, a NULL payload, ...) raises TypeError
    in the fill or the length check, which sends its case to the general path. The one thing
    bytes cannot tell is a TEXT value rewritten as a BLOB of the very same bytes: the content,
    and so the hash, is unchanged, and it verifies.
    """
    sha = hashlib.sha256
    template = _B_TEMPLATE
    cache: dict[tuple[Any, ...], tuple[Any, ...] | None] = {}
    get = cache.get
    current: bytes | None = None
    cid_json = b""
    sound = True
    expected = 1
    prev = _B_GENESIS
    for chunk in batches:
        counted(len(chunk))
        for cid, seq, typ, pid, pver, actor, role, at, payload, prev_hash, stored in chunk:
            if cid != current:
                if current is not None:
                    yield current.decode(), sound, expected - 1, prev.decode()
                current, sound, expected, prev = cid, True, 1, _B_GENESIS
                cid_json = _quote(cid.decode()).encode()
            elif not sound:
                continue
            if seq != expected or prev_hash != prev:
                sound = False
                continue
            try:
                key = (actor, pid, role, typ, pver)
                parts = get(key) or _cache_parts(cache, key, True)
                if parts is None or len(at) != 26 or at[10] != 32 or at[19] != 46:  # " ", "."
                    sound = False
                    continue
                a, p, pv, ro, ty = parts
                canonical = template % (a, cid_json, prev_hash, p, pv, at.replace(b" ", b"T", 1), ro,
                                        seq, ty, payload)
            except TypeError:
                sound = False
                continue
            if sha(canonical).hexdigest().encode() != stored:
                sound = False
                continue
            expected += 1
            prev = stored
    if current is not None:
        yield current.decode(), sound, expected - 1, prev.decode()


def _text_chains(batches: Iterable[list[Row]], counted: Callable[[int], None]) -> Iterator[Chain]:
    """The same walk over rows whose text is str (PostgreSQL, with the time as SQLite's text)."""
    sha = hashlib.sha256
    template = _S_TEMPLATE
    cache: dict[tuple[Any, ...], tuple[Any, ...] | None] = {}
    get = cache.get
    current: str | None = None
    cid_json = ""
    sound = True
    expected = 1
    prev = GENESIS_HASH
    for chunk in batches:
        counted(len(chunk))
        for cid, seq, typ, pid, pver, actor, role, at, payload, prev_hash, stored in chunk:
            if cid != current:
                if current is not None:
                    yield current, sound, expected - 1, prev
                current, sound, expected, prev = cid, True, 1, GENESIS_HASH
                cid_json = _quote(cid)
            elif not sound:
                continue
            if seq != expected or prev_hash != prev:
                sound = False
                continue
            try:
                key = (actor, pid, role, typ, pver)
                parts = get(key) or _cache_parts(cache, key, False)
                if (parts is None or type(at) is not str or len(at) != 26 or at[10] != " "
                        or at[19] != "." or type(payload) is not str):
                    sound = False
                    continue
                a, p, pv, ro, ty = parts
                canonical = (template % (a, cid_json, prev_hash, p, pv, at.replace(" ", "T", 1), ro,
                                         seq, ty, payload)).encode("utf-8")
            except (TypeError, UnicodeError):
                sound = False
                continue
            if sha(canonical).hexdigest() != stored:
                sound = False
                continue
            expected += 1
            prev = stored
    if current is not None:
        yield current, sound, expected - 1, prev


def _cache_parts(cache: dict[tuple[Any, ...], tuple[Any, ...] | None], key: tuple[Any, ...],
                 as_bytes: bool) -> tuple[Any, ...] | None:
    """Fill the cache of quoted parts: a few hundred keys in a store, so it stays small; it
    starts afresh past 10 000 (only a store full of odd values gets there)."""
    if len(cache) >= 10_000:
        cache.clear()
    got = cache[key] = _quoted_parts(key, as_bytes)
    return got


# ---- the walk -------------------------------------------------------------------------------
def verify(uow: UnitOfWork, *, progress: Callable[[int], None] | None = None,
           access_anchor: str | None = None) -> VerifyReport:
    """Walk every chain; report the first bad event of each broken case, then every break in
    the access log's chain (`AccessLog.walk`; `access_anchor`: a head hash noted earlier, which
    the log must still hold). Everything is read in `uow`'s one snapshot. Memory: one batch."""
    t0 = time.perf_counter()
    report = VerifyReport()
    hasher = Hasher()
    # First: a store without its tables fails here, with the database's own error.
    batches = uow.store.raw_batches(as_bytes=True)
    heads = iter(uow.cases.heads())
    head = next(heads, None)

    def counted(n: int) -> None:
        report.events += n
        if progress is not None:
            progress(n)

    try:
        # Whether the store really gave bytes is seen in the first row, not assumed.
        first = next(batches, [])
        rows_are_bytes = bool(first) and type(first[0][0]) is bytes
        walk = _byte_chains if rows_are_bytes else _text_chains
        for cid, sound, version, last_hash in walk(itertools.chain((first,), batches), counted):
            report.cases += 1
            while head is not None and head[0] < cid:  # cases passed on the way have no events
                report.cases += 1
                report.problems.append(Problem(head[0], None, "no_events", text("svc.audit.verify.no_events")))
                head = next(heads, None)
            h = None
            if head is not None and head[0] == cid:
                h, head = head, next(heads, None)
            if sound and h is not None and h[1] == version and h[2] == last_hash:
                continue
            if not sound:
                problem = diagnose(cid, _case_rows(uow, cid), h, hasher)
            elif h is None:
                problem = Problem(cid, None, "projection_missing", text("svc.audit.verify.projection_missing"))
            else:
                problem = _head_problem(cid, _case_rows(uow, cid), h)
            if problem is not None:
                report.problems.append(problem)
    finally:
        _close(batches)
    while head is not None:
        report.cases += 1
        report.problems.append(Problem(head[0], None, "no_events", text("svc.audit.verify.no_events")))
        head = next(heads, None)
    report.seconds = time.perf_counter() - t0  # the events' walk: events_per_second is its rate
    report.access = uow.access_log.walk(anchor=access_anchor)
    return report


def _close(stream: Iterator[Any]) -> None:
    """Close a stream that is a generator (a database cursor behind it), whatever kind it is."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def _case_rows(uow: UnitOfWork, case_id: str) -> list[Row]:
    """One case's rows again, for the diagnosis of a case that failed (rare, so not buffered)."""
    return [r for batch in uow.store.raw_batches(case_id=case_id) for r in batch]


def _head_problem(case_id: str, rows: Sequence[Row], head: Row) -> Problem:
    last = rows[-1]
    version, head_hash = head[1], head[2]
    if version < last[1]:
        at = next((r for r in rows if r[1] == version), None)
        if at is not None and at[10] == head_hash:
            return Problem(case_id, version + 1, "inserted",
                           text("svc.audit.verify.beyond_head", seq=version + 1, version=version))
    if version > last[1]:
        return Problem(case_id, last[1] + 1, "missing",
                       text("svc.audit.verify.tail_missing", seq=last[1] + 1, version=version))
    return Problem(case_id, last[1], "head_mismatch",
                   text("svc.audit.verify.head_mismatch", version=version, head=str(head_hash)[:12], seq=last[1],
                        hash=str(last[10])[:12]))


def diagnose(case_id: str, rows: Sequence[Row], head: Row | None, hasher: Hasher) -> Problem | None:
    """Name the first bad event of a chain that failed the fast check, and what is wrong."""
    computed = [hasher.digest(r) for r in rows]
    n = len(rows)

    def original_seq(i: int) -> int | None:
        r = rows[i]
        if computed[i] == r[10]:
            return int(r[1]) if type(r[1]) is int else None
        for s in range(1, n + 3):
            if hasher.digest(r, s) == r[10]:
                return s
        return None

    expected, prev = 1, GENESIS_HASH
    for i, r in enumerate(rows):
        seq, prev_hash, stored = r[1], r[9], r[10]
        nxt = rows[i + 1] if i + 1 < n else None
        if type(seq) is not int:
            return Problem(case_id, None, "content_changed", text("svc.audit.verify.seq_not_number", seq=repr(seq)))
        if seq < expected:
            return Problem(case_id, seq, "duplicate", text("svc.audit.verify.twice", seq=seq))
        if seq > expected:
            for j in range(i, n):
                if original_seq(j) == expected:
                    return Problem(case_id, expected, "order_changed",
                                   text("svc.audit.verify.moved", seq=expected, to=rows[j][1]))
            return Problem(case_id, expected, "missing", text("svc.audit.verify.missing", seq=expected, next=seq))
        if computed[i] != stored:
            o = original_seq(i)
            if o is not None and o != seq:
                twin = next((rows[j] for j in range(n) if j != i and rows[j][10] == stored), None)
                if twin is not None:
                    return Problem(case_id, seq, "duplicate", text("svc.audit.verify.copy", seq=seq, of=twin[1]))
                if o < seq:
                    return Problem(case_id, o, "inserted", text("svc.audit.verify.inserted_before", seq=o, now=seq))
                return Problem(case_id, seq, "order_changed", text("svc.audit.verify.holds_other", seq=seq, other=o))
            if (nxt is not None and nxt[9] == computed[i]) or (
                    nxt is None and head is not None and head[2] == computed[i]):
                return Problem(case_id, seq, "hash_mismatch", text("svc.audit.verify.hash_changed", seq=seq))
            if nxt is not None and nxt[9] == prev and nxt[9] != stored:
                return Problem(case_id, seq, "inserted", text("svc.audit.verify.inserted", seq=seq, prev=seq - 1))
            if prev_hash != prev:
                return Problem(case_id, seq, "link_broken", text("svc.audit.verify.link_changed", seq=seq))
            return Problem(case_id, seq, _content_kind(r),
                           text("svc.audit.verify.content_changed", seq=seq, what=_content_what(r)))
        if prev_hash != prev:
            for j in range(n):
                if j != i and computed[j] == prev_hash and rows[j][10] == prev_hash:
                    return Problem(case_id, seq, "order_changed",
                                   text("svc.audit.verify.followed_other", seq=seq, other=rows[j][1]))
            return Problem(case_id, seq, "inserted", text("svc.audit.verify.not_linked", seq=seq, prev=seq - 1))
        expected, prev = expected + 1, stored
    if not rows:
        return None  # removed while we read: nothing left to judge
    if head is None:
        return Problem(case_id, None, "projection_missing", text("svc.audit.verify.projection_missing"))
    if head[1] == expected - 1 and head[2] == prev:
        return None  # only a harmless difference of form (e.g. the same instant written otherwise)
    return _head_problem(case_id, rows, head)


def _content_kind(r: Row) -> str:
    try:
        parsed = json.loads(r[8])
    except (TypeError, ValueError):
        return "payload_changed"
    return "payload_changed" if canonical_json(parsed) != r[8] else "content_changed"


def _content_what(r: Row) -> str:
    if _content_kind(r) == "payload_changed":
        return text("svc.audit.verify.not_canonical")
    return text("svc.audit.verify.some_column")

"""The daily root: computed from every case's head, stored once, mailed once to each witness.

Why: a consistent rewrite of a case's tail and its projection (every hash recomputed) passes
every check made inside the store. A root over every case's head, kept by someone outside the
system who cannot write to the database (the board's auditor, the school's privacy officer, a
timestamping service), shows such a rewrite later: `passend audit verify --witness`.

A tick (workflow.service_layer.reminders.service) calls `witness_tick`: from `time` on each
(school-local) day, when the day has no root yet, the root is computed in one read, then stored
in one write, only if no other service stored one for the day meanwhile (the unique day; the
loser's root is dropped). The mails are outbox rows keyed `witness:<day>:<address>`, planned from
the stored root, so however many services run, each witness gets each root once; the dispatcher
sends them like every other row (lease, retries, the same Message-ID on a resend).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from workflow.adapters.logs import get_logger
from workflow.adapters.ports import Outbox, UnitOfWork, WitnessLeaf, WitnessRoot
from workflow.domain.errors import Conflict
from workflow.domain.instants import SCHOOL_TZ
from workflow.domain.merkle import TREE, RootBuilder, leaf_hash
from workflow.messages import text
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.mailtext import date_long, message_id
from workflow.service_layer.witness import record
from workflow.service_layer.witness.settings import WitnessSettings

log = get_logger("passend.witness")
ABSENT = WitnessLeaf("", 0, "0" * 64)  # a leaf row with seq 0: the case is not in this root


@dataclass
class Computed:
    root: WitnessRoot
    base_id: int | None  # the root the changes are counted from
    changed: IO[str]  # one JSON line [case_id, seq, head_hash] per leaf that changed
    n_changed: int


def compute(uow: UnitOfWork, day: dt.date, at: dt.datetime) -> Computed:
    """The root over every case's (id, version, head hash) in the projection, in case id order,
    and the leaves that differ from the newest stored root's (spooled to a temporary file)."""
    latest = uow.witness.latest()
    before: Iterator[WitnessLeaf] = uow.witness.leaves(latest.id) if latest and latest.id else iter(())
    prev = next(before, None)
    builder = RootBuilder()
    events = 0
    changed = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8")  # noqa: SIM115 - make_root closes it
    n_changed = 0
    access = uow.access_log.head()  # first: a record made while the heads are read comes after it

    def put(cid: str, seq: int, head: str) -> None:
        nonlocal n_changed
        changed.write(json.dumps([cid, seq, head]) + "\n")
        n_changed += 1

    for cid, version, head in uow.cases.heads():
        while prev is not None and prev.case_id < cid:  # in the root before, gone from the projection
            put(prev.case_id, 0, ABSENT.head_hash)
            prev = next(before, None)
        if prev is not None and prev.case_id == cid:
            if (prev.seq, prev.head_hash) != (version, head):
                put(cid, version, head)
            prev = next(before, None)
        else:
            put(cid, version, head)
        builder.add(leaf_hash(cid, version, head))
        events += version
    while prev is not None:
        put(prev.case_id, 0, ABSENT.head_hash)
        prev = next(before, None)
    root = WitnessRoot(day=day, at=at, tree=TREE, root=builder.root(), cases=builder.size, events=events,
                       access_records=int(access["records"]), access_head=str(access["head_hash"]))
    return Computed(root, latest.id if latest else None, changed, n_changed)


def _changed(fh: IO[str]) -> Iterator[WitnessLeaf]:
    fh.seek(0)
    for line in fh:
        cid, seq, head = json.loads(line)
        yield WitnessLeaf(cid, seq, head)


def make_root(engine: ServiceContext, day: dt.date, at: dt.datetime) -> WitnessRoot | None:
    """Compute and store the root of `day`; None when another service stored one first."""
    with engine.uow(write=False) as uow:
        computed = compute(uow, day, at)
    try:
        with engine.uow() as uow:
            latest = uow.witness.latest()
            if uow.witness.of_day(day) is not None or (latest.id if latest else None) != computed.base_id:
                return None  # another service was first (or a later root came between)
            wid = uow.witness.add(computed.root, _changed(computed.changed))
            uow.commit()
    except Conflict:
        return None
    finally:
        computed.changed.close()
    log.info("witness.root", day=day.isoformat(), cases=computed.root.cases, changed=computed.n_changed)
    return dataclasses.replace(computed.root, id=wid)


def mail_rows(root: WitnessRoot, settings: WitnessSettings, domain: str) -> list[dict[str, Any]]:
    """One outbox row per witness address for `root`: its key is the day and the address."""
    rec = record.as_record(root)
    subject = text("mail.witness.subject", day=root.day.isoformat())
    body = mail_text(rec, root.day)
    rows = []
    for address in settings.to:
        key = f"witness:{root.day.isoformat()}:{address.lower()}"
        rows.append({"key": key, "kind": "witness", "case_id": None, "deadline": None, "school": None,
                     "recipient": address.lower()[:128], "to_addrs": address, "send_on": root.day,
                     "due_on": None, "subject": subject, "body_text": body, "body_html": None, "ics": None,
                     "message_id": message_id(key, domain)})
    return rows


def mail_text(rec: dict[str, Any], day: dt.date) -> str:
    """The mail: what the value is, that it holds no pupil data, and how to check with it. The
    words come from the catalog (mail.witness.body); the record's block below them is data,
    read back by `passend audit verify --witness`, and is the same in every language."""
    a = rec["access_log"]
    return text("mail.witness.body", date=date_long(day), root=rec["root"], cases=rec["cases"],
                events=rec["events"], records=a["records"], head_hash=a["head_hash"], block=record.block(rec))


def plan_mails(engine: ServiceContext, outbox: Outbox, settings: WitnessSettings, domain: str,
               real: dt.datetime) -> int:
    """The newest root's mails into the outbox (each at most once, ever); returns how many were new."""
    if not settings.to:
        return 0
    with engine.uow(write=False) as uow:
        latest = uow.witness.latest()
    if latest is None:
        return 0
    rows = mail_rows(latest, settings, domain)
    have = outbox.existing_keys([r["key"] for r in rows])
    return outbox.insert_new([r for r in rows if r["key"] not in have], real)


def witness_tick(engine: ServiceContext, outbox: Outbox, settings: WitnessSettings, now: dt.datetime,
                 real: Callable[[], dt.datetime], domain: str) -> int:
    """One tick's witnessing: the day's root when it is due and missing, its mails, its timestamp.
    Returns the number of mails newly planned."""
    local = now.astimezone(SCHOOL_TZ)
    day = local.date()
    if local.time() >= settings.time:
        with engine.uow(write=False) as uow:
            missing = uow.witness.of_day(day) is None
        if missing:
            make_root(engine, day, real())
    planned = plan_mails(engine, outbox, settings, domain, real())
    if settings.tsa_url:
        from workflow.service_layer.witness.tsa import stamp_latest

        stamp_latest(engine, settings, real)
    return planned

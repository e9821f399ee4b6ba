"""The storage ports' contract: the same assertions against the in-memory fake, SQLite and
PostgreSQL (when PASSEND_TEST_POSTGRES_URL is set).

A service-layer test on the fake (tests/test_services_memory.py) is only worth something if the
fake refuses and answers as the real store does. So every promise of workflow.adapters.ports is
checked here on all three: a stale version or a second open case per pupil conflicts and writes
nothing, a unit left without commit leaves nothing behind, the projection and its queries (the
case list, the planner's due-work pages and write-back, retention) agree, an outbox key is stored
once, a claim holds its rows under its token until its lease runs out, and the access log is one
hash chain whose head and walk say so.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_ENV, _postgres_schema_url
from tests.engine_support import DEFAULT
from workflow.adapters import access_chain
from workflow.adapters.ports import LOOK_NOW, Mark, NewCase, Store, TokenRecord
from workflow.bootstrap import make_store
from workflow.domain import case as domain
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition, load_definition
from workflow.domain.errors import BadInput, Conflict
from workflow.domain.events import GENESIS_HASH, make_event

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=300)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        urls: Iterator[str] = iter(["memory://"])
    elif request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'contract.db'}"])
    else:
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(f"{PG_ENV} is not set")
        urls = _postgres_schema_url(base)
    url = next(urls)
    s = make_store(url)
    s.init()
    yield s
    s.dispose()
    next(urls, None)  # drops the PostgreSQL schema


@pytest.fixture(scope="module")
def definition() -> ProcessDefinition:
    return load_definition(DEFAULT)


def opened(d: ProcessDefinition, case_id: str, *, school: str = "de-linde", at: dt.datetime = T0) -> Case:
    ev = make_event(case_id=case_id, seq=1, type="case_opened", process_id=d.id, process_version=d.version,
                    actor="ib.jansen", role="ib", recorded_at=at,
                    payload={"school": school, "pupil": {"$enc": "v1.x"}, "state": d.initial,
                             "level": d.level_of(d.initial)}, prev_hash=GENESIS_HASH)
    return Case.from_events([ev])


def signal(d: ProcessDefinition, case: Case, at: dt.datetime) -> Any:
    ev = case.next_event(type="evidence_recorded", actor="ib.jansen", role="ib", recorded_at=at, process=d,
                         payload={"kind": "signal", "date": at.date().isoformat(), "level": case.level,
                                  "state": case.state, "fields": {"area": "lezen"}, "secret": {}})
    case.apply(ev)
    return ev


def closing(d: ProcessDefinition, case: Case, at: dt.datetime) -> Any:
    decision = domain.decide(case, d, "close", {"reason": "verhuisd"}, "ib")
    assert decision.allowed, decision.reasons
    ev = case.next_event(type="transitioned", payload=domain.transition_payload(decision, d), actor="ib.jansen",
                         role="ib", recorded_at=at, process=d)
    case.apply(ev)
    return ev


def put_new(store: Store, case: Case, pupil_index: str | None = None) -> None:
    with store.uow() as uow:
        uow.store.put_key(case.case_id, b"wrapped-" + case.case_id.encode(), case.opened_at)
        uow.store.append(case, list(case.events), expected_version=0, pupil_index=pupil_index,
                         now=case.opened_at)
        uow.commit()


def add(store: Store, d: ProcessDefinition, case_id: str, make: Any, at: dt.datetime) -> Case:
    with store.uow() as uow:
        case = uow.store.load(case_id)
        assert case is not None
        expected = case.version
        ev = make(d, case, at)
        uow.store.append(case, [ev], expected_version=expected, now=at)
        uow.commit()
    return case


# ---- event store ------------------------------------------------------------------------------

def test_an_appended_case_loads_back_event_for_event(store: Store, definition: ProcessDefinition) -> None:
    case = opened(definition, "C-A")
    put_new(store, case, "pupil-a")
    add(store, definition, "C-A", signal, T0 + dt.timedelta(minutes=5))
    with store.uow(write=False) as uow:
        back = uow.store.load("C-A")
        assert back is not None and back.version == 2 and back.state == "niveau_1"
        assert [(e.seq, e.type, e.hash) for e in uow.store.events_of("C-A")] == [
            (e.seq, e.type, e.hash) for e in back.events]
        assert back.events[1].recorded_at == T0 + dt.timedelta(minutes=5)
        assert uow.store.load("C-NONE") is None and uow.store.events_of("C-NONE") == []
        assert uow.store.wrapped_key("C-A") == b"wrapped-C-A" and uow.store.wrapped_key("C-NONE") is None


def test_a_stale_version_conflicts_and_stores_nothing(store: Store, definition: ProcessDefinition) -> None:
    put_new(store, opened(definition, "C-A"))
    with store.uow() as first:
        case = first.store.load("C-A")
        assert case is not None
        ev = signal(definition, case, T0 + dt.timedelta(minutes=1))
        first.store.append(case, [ev], expected_version=1, now=T0)
        first.commit()
    stale = opened(definition, "C-A")  # still at version 1, as another writer read it
    ev = signal(definition, stale, T0 + dt.timedelta(minutes=2))
    with pytest.raises(Conflict), store.uow() as uow:
        uow.store.append(stale, [ev], expected_version=1, now=T0)
        uow.commit()
    with store.uow(write=False) as uow:
        back = uow.store.load("C-A")
        assert back is not None and back.version == 2
        proj = uow.cases.get("C-A")
        assert proj is not None and proj.version == 2 and proj.head_hash == back.head_hash


def test_a_second_open_case_for_a_pupil_conflicts(store: Store, definition: ProcessDefinition) -> None:
    put_new(store, opened(definition, "C-A"), "pupil-x")
    with pytest.raises(Conflict), store.uow() as uow:
        uow.store.append(opened(definition, "C-B"), list(opened(definition, "C-B").events), expected_version=0,
                         pupil_index="pupil-x", now=T0)
        uow.commit()
    with pytest.raises(Conflict), store.uow() as uow:  # the same case id twice
        uow.store.append(opened(definition, "C-A"), list(opened(definition, "C-A").events), expected_version=0,
                         now=T0)
        uow.commit()
    add(store, definition, "C-A", closing, T0 + dt.timedelta(days=1))
    put_new(store, opened(definition, "C-C"), "pupil-x")  # closed: the pupil may start again
    with store.uow(write=False) as uow:
        assert uow.cases.find_open("pupil-x") == "C-C" and uow.cases.get("C-B") is None


def test_a_unit_left_without_commit_leaves_nothing(store: Store, definition: ProcessDefinition) -> None:
    put_new(store, opened(definition, "C-A"))
    with store.uow() as uow:
        case = uow.store.load("C-A")
        assert case is not None
        uow.store.append(case, [signal(definition, case, T0)], expected_version=1, now=T0)
        uow.store.put_key("C-Z", b"k", T0)
        uow.access_log.append([_access("C-A")])
        assert uow.store.load("C-A") is not None and uow.store.load("C-A").version == 2  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), store.uow() as uow:
        uow.store.destroy_key("C-A", T0)
        raise RuntimeError("the command fails")
    with store.uow(write=False) as uow:
        case = uow.store.load("C-A")
        assert case is not None and case.version == 1
        assert uow.store.wrapped_key("C-Z") is None and uow.store.wrapped_key("C-A") == b"wrapped-C-A"
        assert uow.access_log.head() == {"records": 0, "head_hash": GENESIS_HASH}


def test_a_destroyed_key_is_gone_for_good(store: Store, definition: ProcessDefinition) -> None:
    put_new(store, opened(definition, "C-A"), "pupil-a")
    add(store, definition, "C-A", closing, T0 + dt.timedelta(days=1))
    with store.uow(write=False) as uow:
        assert [c.case_id for c in uow.cases.closed_unerased()] == ["C-A"]
    with store.uow() as uow:
        uow.store.destroy_key("C-A", T0 + dt.timedelta(days=800))
        uow.cases.forget_pupil("C-A")
        uow.commit()
    store.scrub()
    with store.uow(write=False) as uow:
        assert uow.store.wrapped_key("C-A") is None
        assert list(uow.cases.closed_unerased()) == []
        assert uow.cases.find_open("pupil-a") is None


def test_raw_rows_come_in_case_and_seq_order_with_their_filters(store: Store, definition: ProcessDefinition) -> None:
    for cid, school in (("C-B", "de-linde"), ("C-A", "het-anker"), ("C-C", "de-linde")):
        put_new(store, opened(definition, cid, school=school))
    add(store, definition, "C-A", signal, T0 + dt.timedelta(days=2))
    with store.uow(write=False) as uow:
        rows = [r for b in uow.store.raw_batches() for r in b]
        assert [(r[0], r[1]) for r in rows] == [("C-A", 1), ("C-A", 2), ("C-B", 1), ("C-C", 1)]
        assert rows[1][7] == "2026-03-04 09:00:00.000000"  # the stored time text
        assert [r[0] for b in uow.store.raw_batches(schools=["de-linde"]) for r in b] == ["C-B", "C-C"]
        assert [r[1] for b in uow.store.raw_batches(case_id="C-A") for r in b] == [1, 2]
        assert [r[0] for b in uow.store.raw_batches(case_ids=["C-C", "C-A"]) for r in b] == ["C-A", "C-A", "C-C"]
        since = [(r[0], r[1]) for b in uow.store.raw_batches(since=T0 + dt.timedelta(days=1)) for r in b]
        assert since == [("C-A", 2)]
        # what `reminders due` reads a case's clocks by (its latest event's time); a missing id is left out
        assert uow.cases.processes_of(["C-A", "C-B", "C-9"]) == {
            "C-A": ("het-anker", definition.id, definition.version, T0 + dt.timedelta(days=2)),
            "C-B": ("de-linde", definition.id, definition.version, T0)}


def test_a_bulk_import_is_like_appending(store: Store, definition: ProcessDefinition) -> None:
    a, b = opened(definition, "C-A"), opened(definition, "C-B")
    signal(definition, b, T0 + dt.timedelta(hours=1))
    with store.uow() as uow:
        uow.store.import_new_cases([NewCase(a, "pa", b"ka"), NewCase(b, None, b"kb")])
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.cases.find_open("pa") == "C-A" and uow.store.wrapped_key("C-B") == b"kb"
        proj = uow.cases.get("C-B")
        assert proj is not None and proj.version == 2 and proj.next_action_on == LOOK_NOW
        assert uow.cases.id_prefix_taken("C-") and not uow.cases.id_prefix_taken("C-X")


# ---- case read model ----------------------------------------------------------------------------

def test_the_case_list_filters_and_orders(store: Store, definition: ProcessDefinition) -> None:
    put_new(store, opened(definition, "C-2", school="het-anker", at=T0))
    put_new(store, opened(definition, "C-3", school="de-linde", at=T0 + dt.timedelta(hours=2)))
    put_new(store, opened(definition, "C-1", school="de-linde", at=T0 + dt.timedelta(hours=1)))
    add(store, definition, "C-1", closing, T0 + dt.timedelta(days=1))
    with store.uow(write=False) as uow:
        every = list(uow.cases.summaries(schools=None, state=None))
        assert [c.case_id for c in every] == ["C-1", "C-3", "C-2"]  # school, then opened_at
        assert every[0].as_dict() == {
            "case_id": "C-1", "school": "de-linde", "group": None, "state": "afgesloten", "level": None,
            "version": 2, "opened_at": "2026-03-02T10:00:00+00:00", "closed_at": "2026-03-03T09:00:00+00:00",
            "close_reason": "verhuisd", "process": f"{definition.id}@{definition.version}"}
        assert [c.case_id for c in uow.cases.summaries(schools=["de-linde"], state="niveau_1")] == ["C-3"]
        assert [c.case_id for c in uow.cases.summaries(schools=["de-eik"], state=None)] == []
        assert [p.case_id for p in uow.cases.projections(None)] == ["C-1", "C-2", "C-3"]
        assert [p.case_id for p in uow.cases.projections(["het-anker"])] == ["C-2"]
        heads = list(uow.cases.heads())
        assert [(h[0], h[1]) for h in heads] == [("C-1", 2), ("C-2", 1), ("C-3", 1)]
        assert uow.cases.heads_of(["C-2", "C-9"]) == {"C-2": (  # a missing id is left out
            "het-anker", 1, heads[1][2])}
        assert uow.cases.processes_of(["C-1"]) == {"C-1": (
            "de-linde", definition.id, definition.version, T0 + dt.timedelta(days=1))}
        assert uow.cases.open_ids(after="", size=1) == ["C-2"]
        assert uow.cases.open_ids(after="C-2", size=5) == ["C-3"]
        # the Directie page's counts: every state of a school, closed ones too
        assert uow.cases.state_counts("de-linde") == {"afgesloten": 1, "niveau_1": 1}
        assert uow.cases.state_counts("het-anker") == {"niveau_1": 1}
        assert uow.cases.state_counts("de-eik") == {}


def test_the_case_list_pages_give_the_summaries_in_their_order(store: Store, definition: ProcessDefinition) -> None:
    """`case_page` (what `case list` reads) pages through exactly `summaries`, in its order, with
    any page size, for every school, some schools or one, with and without a state."""
    schools = ("het-anker", "de-linde", "de-eik")
    for i in range(23):
        cid = f"C-{i:02d}"
        # Some cases of a school opened at the same moment: the key goes on to the case id.
        put_new(store, opened(definition, cid, school=schools[i % 3], at=T0 + dt.timedelta(hours=i % 5)))
        if i % 4 == 0:
            add(store, definition, cid, closing, T0 + dt.timedelta(days=1))
    with store.uow(write=False) as uow:
        for wanted, state in ((None, None), (["de-linde", "het-anker"], None), (["het-anker"], "niveau_1"),
                              (None, "afgesloten"), (["de-eik", "de-linde", "het-anker"], "niveau_1"), ([], None)):
            whole = [c.as_dict() for c in uow.cases.summaries(schools=wanted, state=state)]
            assert whole or wanted == []
            for size in (1, 4, 7, 100):
                got: list[dict[str, object]] = []
                after: object = None
                for _ in range(100):
                    rows, after = uow.cases.case_page(schools=wanted, state=state, after=after, size=size)
                    assert len(rows) <= size
                    got.extend(r.as_dict() for r in rows)
                    if after is None:
                        break
                assert got == whole, (wanted, state, size)


def test_the_planners_due_work_and_its_write_back(store: Store, definition: ProcessDefinition) -> None:
    today = dt.date(2026, 3, 10)
    for i in range(6):
        put_new(store, opened(definition, f"C-{i}"))
    with store.uow() as uow:  # every case starts at LOOK_NOW; give them days of their own
        n = uow.cases.write_back([
            Mark("C-1", 1, today, today - dt.timedelta(days=1)),
            Mark("C-2", 1, today + dt.timedelta(days=3), today - dt.timedelta(days=1)),
            Mark("C-3", 1, None, today + dt.timedelta(days=2)),        # planned by a later --now run
            Mark("C-4", 1, today + dt.timedelta(days=9), today + dt.timedelta(days=1)),
            Mark("C-9", 1, today, today),                              # no such case
        ])
        uow.commit()
    assert n == 4
    with store.uow(write=False) as uow:
        first = uow.cases.due_by_next_action(through=today, after=(dt.date(1, 1, 1), ""), size=2)
        assert first == [(LOOK_NOW, "C-0"), (LOOK_NOW, "C-5")]
        assert uow.cases.due_by_next_action(through=today, after=first[-1], size=2) == [(today, "C-1")]
        planned = uow.cases.due_by_planned(today=today, through=today, after=(today, ""), size=10)
        assert planned == [(today + dt.timedelta(days=1), "C-4"), (today + dt.timedelta(days=2), "C-3")]
        assert uow.cases.due_ids(through=today, today=today) == ["C-0", "C-1", "C-3", "C-4", "C-5"]
        assert uow.cases.due_among(["C-1", "C-2", "C-3"], through=today, today=today) == {"C-1", "C-3"}
    with store.uow() as uow:  # a stale version, or planned_on moving backwards: not taken
        n = uow.cases.write_back([Mark("C-1", 7, None, today), Mark("C-3", 1, None, today)])
        uow.commit()
    assert n == 0
    add(store, definition, "C-2", signal, T0 + dt.timedelta(days=1))  # any write: back to LOOK_NOW
    with store.uow(write=False) as uow:
        c2 = uow.cases.get("C-2")
        assert c2 is not None and (c2.next_action_on, c2.planned_on) == (LOOK_NOW, None)


# ---- outbox --------------------------------------------------------------------------------------

def _rows(n: int) -> list[dict[str, Any]]:
    day = T0.date()
    return [{"key": f"reminder:k{i}", "kind": "reminder", "case_id": f"C-{i}", "deadline": "d", "school": "s",
             "recipient": "ib.jansen", "to_addrs": "ib@school.example", "send_on": day, "due_on": day,
             "subject": f"onderwerp {i}", "body_text": f"tekst {i}", "body_html": None, "ics": None,
             "message_id": f"<m{i}@test>"} for i in range(n)]


def test_an_outbox_key_is_stored_once(store: Store) -> None:
    out = store.outbox
    assert out.insert_new(_rows(3), T0) == 3
    assert out.insert_new(_rows(4), T0) == 1
    assert out.existing_keys(["reminder:k0", "reminder:k9"]) == {"reminder:k0": "pending"}
    assert out.counts() == {"pending": 4}
    listed = out.rows()
    assert [m.id for m in listed] == sorted((m.id for m in listed), reverse=True) and len(listed) == 4
    assert listed[-1].as_dict()["send_on"] == T0.date().isoformat()
    assert not hasattr(listed[0], "body_text")


def test_a_claim_holds_its_rows_until_its_lease_runs_out(store: Store) -> None:
    out = store.outbox
    out.insert_new(_rows(3), T0)
    mine = out.claim(now=T0, batch=2, lease=LEASE)
    other = out.claim(now=T0, batch=10, lease=LEASE)
    assert len(mine.rows) == 2 and len(other.rows) == 1
    assert not {r.id for r in mine.rows} & {r.id for r in other.rows}
    assert [r.attempts for r in mine.rows] == [1, 1]
    head = mine.rows[0]
    body = out.load_body(head.id, mine.token)
    assert body is not None and body.subject == "onderwerp 0" and body.body_text == "tekst 0"
    assert out.load_body(head.id, other.token) is None
    assert out.claim(now=T0 + LEASE / 2, batch=10, lease=LEASE).rows == []  # still held
    assert out.renew(head.id, mine.token, T0 + 2 * LEASE) and not out.renew(head.id, other.token, T0)
    later = out.claim(now=T0 + LEASE + dt.timedelta(seconds=1), batch=10, lease=LEASE)
    assert [r.id for r in later.rows] == [r.id for r in mine.rows[1:]] + [r.id for r in other.rows]
    assert [r.attempts for r in later.rows] == [2, 2]
    assert out.load_body(mine.rows[1].id, mine.token) is None  # taken over: not ours to send
    assert not out.mark_sent(mine.rows[1].id, mine.token, T0)
    assert out.mark_sent(head.id, mine.token, T0)
    assert out.load_body(head.id, mine.token) is None  # sent: nothing left to send
    assert out.renew_all(later.token, T0 + 3 * LEASE) == 2
    assert out.release(later.token) == 2
    assert out.counts() == {"sent": 1, "pending": 2}


def test_failures_are_retried_then_given_up_and_requeued(store: Store) -> None:
    out = store.outbox
    out.insert_new(_rows(2), T0)
    c = out.claim(now=T0, batch=10, lease=LEASE)
    a, b = c.rows
    assert out.mark_failed(a.id, c.token, error="454 later" * 100, retry_at=T0 + dt.timedelta(minutes=1))
    assert out.mark_failed(b.id, c.token, error="550 no", retry_at=None)
    assert not out.mark_failed(b.id, c.token, error="x", retry_at=None)  # no longer ours
    assert out.claim(now=T0, batch=10, lease=LEASE).rows == []  # a's retry time has not come
    assert [r.id for r in out.claim(now=T0 + dt.timedelta(minutes=2), batch=10, lease=LEASE).rows] == [a.id]
    failed = out.rows(status="failed")
    assert [(m.id, m.last_error) for m in failed] == [(b.id, "550 no")]
    with pytest.raises(BadInput):
        out.retry_failed(T0, [b.id, a.id])  # a is not a failed message: nothing changes
    assert out.counts() == {"failed": 1, "sending": 1}
    assert out.retry_failed(T0, [b.id]) == 1
    assert [(r.id, r.attempts) for r in out.claim(now=T0, batch=10, lease=LEASE).rows] == [(b.id, 1)]
    assert len(next(m for m in out.rows() if m.id == a.id).last_error or "") == 300


def test_sent_texts_are_cleared_oldest_first_and_the_row_stays(store: Store) -> None:
    out = store.outbox
    out.insert_new(_rows(3), T0)
    c = out.claim(now=T0, batch=10, lease=LEASE)
    for i, r in enumerate(c.rows):
        if i < 2:
            out.mark_sent(r.id, c.token, T0 + dt.timedelta(days=i))
    late = T0 + dt.timedelta(days=100)
    assert out.clear_sent_bodies(before=late, limit=1) == 1
    assert out.clear_sent_bodies(before=late, limit=5) == 1
    assert out.clear_sent_bodies(before=late) == 0
    assert out.counts() == {"sent": 2, "sending": 1}
    assert out.load_body(c.rows[2].id, c.token) is not None  # not sent: kept


# ---- access log -----------------------------------------------------------------------------------

def _access(case_id: str, actor: str = "auditor", at: dt.datetime = T0) -> dict[str, Any]:
    return {"at": at, "actor": actor, "role": "auditor", "action": "case.show", "case_id": case_id,
            "school": "de-linde", "purpose": "toezicht", "on_behalf_of": None, "source": "passend"}


def test_the_access_log_is_one_chain(store: Store) -> None:
    with store.uow() as uow:
        assert uow.access_log.append(iter([_access("C-A"), _access("C-B")])) == 2
        uow.commit()
    with store.uow() as uow:
        uow.access_log.append([_access("C-A", "ib.jansen", T0 + dt.timedelta(hours=1))])
        uow.commit()
    records = [_access("C-A"), _access("C-B"), _access("C-A", "ib.jansen", T0 + dt.timedelta(hours=1))]
    head = access_chain.seal(records, GENESIS_HASH)
    with store.uow(write=False) as uow:
        assert uow.access_log.head() == {"records": 3, "head_hash": head}
        report = uow.access_log.walk(anchor=records[0]["hash"])
        assert report.ok and report.records == 3 and report.head_hash == head
        missing = uow.access_log.walk(anchor="ab" * 32)
        assert [p.kind for p in missing.problems] == ["anchor_missing"]
        of_a = uow.access_log.of_case("C-A")
        assert [(r.actor, r.at) for r in of_a] == [("auditor", T0), ("ib.jansen", T0 + dt.timedelta(hours=1))]
        assert of_a[0].as_dict() == {k: (v.isoformat() if k == "at" else v) for k, v in _access("C-A").items()}


# ---- users ------------------------------------------------------------------------------------------

def _user(uow: Any, user_id: str, email: str | None, *, role: str = "ib", at: dt.datetime = T0) -> None:
    uow.users.insert(user_id=user_id, name=f"naam {user_id}", role=role, schools=["de-linde"], email=email,
                     managed="cli", now=at)


def test_users_are_kept_found_and_changed(store: Store) -> None:
    with store.uow() as uow:
        _user(uow, "ib.b", "b@school.example")
        _user(uow, "ib.a", None, role="leerkracht")
        uow.commit()
    with store.uow(write=False) as uow:
        b = uow.users.get("ib.b")
        assert b is not None and b.as_dict() == {
            "id": "ib.b", "name": "naam ib.b", "role": "ib", "schools": ["de-linde"], "email": "b@school.example",
            "managed": "cli", "active": True, "disabled_at": None, "totp": False}
        assert (b.created_at, b.updated_at) == (T0, T0)
        assert b.as_user().serves("de-linde") and not b.as_user().serves("het-anker")
        assert [u.id for u in uow.users.all()] == ["ib.a", "ib.b"]
        assert uow.users.by_email("b@school.example") == b and uow.users.by_email("x@school.example") is None
        assert uow.users.get("niemand") is None
    later = T0 + dt.timedelta(hours=1)
    with store.uow() as uow:
        assert uow.users.update("ib.a", {"email": "a@school.example", "schools": ("*",), "role": "ib"}, now=later)
        assert not uow.users.update("niemand", {"name": "x"}, now=later)
        assert uow.users.set_disabled("ib.b", later, now=later)
        assert not uow.users.set_disabled("niemand", later, now=later)
        uow.commit()
    with store.uow(write=False) as uow:
        a, b2 = uow.users.get("ib.a"), uow.users.get("ib.b")
        assert a is not None and (a.email, a.schools, a.role, a.name, a.updated_at) == (
            "a@school.example", ("*",), "ib", "naam ib.a", later)
        assert b2 is not None and not b2.active and b2.disabled_at == later
    with store.uow() as uow:
        uow.users.set_disabled("ib.b", None, now=later)
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.users.get("ib.b").active  # type: ignore[union-attr]


def test_an_id_or_address_is_never_held_twice(store: Store) -> None:
    with store.uow() as uow:
        _user(uow, "ib.a", "a@school.example")
        _user(uow, "ib.b", "b@school.example")
        uow.commit()
    for change in (lambda u: _user(u, "ib.a", None), lambda u: _user(u, "ib.c", "a@school.example"),
                   lambda u: u.users.update("ib.b", {"email": "a@school.example"}, now=T0)):
        with pytest.raises(Conflict), store.uow() as uow:
            change(uow)
            uow.commit()
    with store.uow(write=False) as uow:
        assert [(u.id, u.email) for u in uow.users.all()] == [("ib.a", "a@school.example"),
                                                              ("ib.b", "b@school.example")]


def test_a_user_unit_left_without_commit_leaves_nothing(store: Store) -> None:
    with store.uow() as uow:
        _user(uow, "ib.a", "a@school.example")
        uow.commit()
    with store.uow() as uow:
        _user(uow, "ib.b", None)
        uow.users.set_disabled("ib.a", T0, now=T0)
        uow.users.set_totp_secret("ib.a", b"sealed")
    with store.uow(write=False) as uow:
        assert [u.id for u in uow.users.all()] == ["ib.a"]
        assert uow.users.get("ib.a").active  # type: ignore[union-attr]
        assert uow.users.totp("ib.a") == (None, None, None)


def test_the_acting_user_is_read_outside_a_unit(store: Store) -> None:
    assert store.users.acting("ib.a") is None
    with store.uow() as uow:
        _user(uow, "ib.a", "a@school.example")
        uow.commit()
    acting = store.users.acting("ib.a")
    assert acting is not None and acting.active
    assert (acting.user.id, acting.user.role, acting.user.schools, acting.user.name, acting.user.email) == (
        "ib.a", "ib", ("de-linde",), "naam ib.a", "a@school.example")
    with store.uow() as uow:
        uow.users.set_disabled("ib.a", T0, now=T0)
        uow.commit()
    disabled = store.users.acting("ib.a")
    assert disabled is not None and not disabled.active
    assert store.users.acting("IB.A") is None  # ids are compared exactly


def test_the_totp_state_lives_on_the_user_row(store: Store) -> None:
    with store.uow() as uow:
        _user(uow, "ib.a", "a@school.example")
        assert uow.users.totp("niemand") is None
        assert uow.users.totp("ib.a") == (None, None, None)
        uow.users.set_totp_secret("ib.a", b"\x00sealed\xff")
        uow.commit()
    first, second = T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=2)
    with store.uow() as uow:
        uow.users.accept_totp("ib.a", 100, now=first)
        uow.commit()
    with store.uow() as uow:
        uow.users.accept_totp("ib.a", 104, now=second)
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.users.totp("ib.a") == (b"\x00sealed\xff", first, 104)  # enrolled at the first code
        record = uow.users.get("ib.a")
        assert record is not None and record.totp_enrolled and record.updated_at == first
    with store.uow() as uow:
        assert uow.users.reset_totp("ib.a", now=second) and not uow.users.reset_totp("niemand", now=second)
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.users.totp("ib.a") == (None, None, None)
        assert not uow.users.get("ib.a").totp_enrolled  # type: ignore[union-attr]


# ---- web sign-in -----------------------------------------------------------------------------------

def test_web_sessions_carry_their_user_and_are_promoted_once(store: Store) -> None:
    end = T0 + dt.timedelta(minutes=10)
    with store.uow() as uow:
        _user(uow, "ib.a", "a@school.example")
        uow.web_sessions.add(session_id="s1", user_id="ib.a", stage="code", method="link", csrf="c1", now=T0,
                             expires_at=end)
        uow.web_sessions.add(session_id="s2", user_id="ib.a", stage="full", method="oidc", csrf="c2", now=T0,
                             expires_at=T0 + dt.timedelta(hours=10))
        uow.commit()
    with store.uow(write=False) as uow:
        s1 = uow.web_sessions.get("s1")
        assert s1 is not None and (s1.id, s1.user.id, s1.user.email, s1.user_active, s1.stage, s1.method, s1.csrf,
                                   s1.created_at, s1.last_seen_at, s1.expires_at) == (
            "s1", "ib.a", "a@school.example", True, "code", "link", "c1", T0, T0, end)
        assert uow.web_sessions.get("nope") is None
    later = T0 + dt.timedelta(minutes=3)
    with store.uow() as uow:
        uow.web_sessions.touch("s2", later)
        assert uow.web_sessions.promote("s1", new_id="s1b", csrf="c1b", now=later, expires_at=later + LEASE)
        assert not uow.web_sessions.promote("s1b", new_id="s1c", csrf="x", now=later, expires_at=later)
        assert not uow.web_sessions.promote("s2", new_id="s2b", csrf="x", now=later, expires_at=later)
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.web_sessions.get("s1") is None
        s1b, s2 = uow.web_sessions.get("s1b"), uow.web_sessions.get("s2")
        assert s1b is not None and (s1b.stage, s1b.csrf, s1b.last_seen_at, s1b.expires_at, s1b.created_at) == (
            "full", "c1b", later, later + LEASE, T0)
        assert s2 is not None and s2.last_seen_at == later
    with store.uow() as uow:
        uow.users.set_disabled("ib.a", later, now=later)
        uow.commit()
    with store.uow(write=False) as uow:
        assert not uow.web_sessions.get("s2").user_active  # type: ignore[union-attr]
    with store.uow() as uow:
        assert uow.web_sessions.purge(now=later + LEASE + dt.timedelta(seconds=1)) == 1  # s1b ran out
        uow.web_sessions.end("s2")
        assert uow.web_sessions.get("s2") is None
        uow.rollback()
        assert uow.web_sessions.end_user("ib.a") == 2
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.web_sessions.get("s1b") is None and uow.web_sessions.get("s2") is None


def test_a_signin_link_is_used_once(store: Store) -> None:
    end = T0 + dt.timedelta(minutes=15)
    with store.uow() as uow:
        _user(uow, "ib.a", "a@school.example")
        uow.signin_links.add(link_id="l1", user_id="ib.a", now=T0, expires_at=end)
        uow.signin_links.add(link_id="l2", user_id="ib.a", now=T0, expires_at=T0 + dt.timedelta(minutes=1))
        uow.commit()
    with store.uow() as uow:
        assert uow.signin_links.get("l1") == (("ib.a", end, None, True))
        assert uow.signin_links.get("nope") is None
        assert uow.signin_links.use("l1", T0) and not uow.signin_links.use("l1", T0)
        assert not uow.signin_links.use("nope", T0)
        uow.users.set_disabled("ib.a", T0, now=T0)
        uow.commit()
    with store.uow() as uow:
        assert uow.signin_links.get("l1") == ("ib.a", end, T0, False)
        assert uow.signin_links.purge(before=T0 + dt.timedelta(minutes=2)) == 1
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.signin_links.get("l2") is None and uow.signin_links.get("l1") is not None


def test_an_oidc_flow_is_taken_once(store: Store) -> None:
    end = T0 + dt.timedelta(minutes=10)
    with store.uow() as uow:
        uow.oidc_flows.add(flow_id="f1", nonce="n", verifier="v" * 64, browser="b", now=T0, expires_at=end)
        uow.oidc_flows.add(flow_id="f2", nonce="n2", verifier="w" * 64, browser="b", now=T0, expires_at=T0)
        uow.commit()
    with store.uow() as uow:
        assert uow.oidc_flows.take("f1") == ("n", "v" * 64, "b", end)
        assert uow.oidc_flows.take("f1") is None and uow.oidc_flows.take("nope") is None
        assert uow.oidc_flows.purge(now=T0 + dt.timedelta(seconds=1)) == 1
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.oidc_flows.take("f2") is None


def test_throttle_counters_are_made_locked_set_and_forgotten(store: Store) -> None:
    later = T0 + dt.timedelta(minutes=5)
    with store.uow() as uow:
        assert uow.throttle.get("k") is None
        assert uow.throttle.lock("k", T0) == (T0, 0)
        uow.throttle.put("k", T0, 3)
        assert uow.throttle.lock("k", later) == (T0, 3)  # made once: a later lock does not reset it
        assert uow.throttle.lock("old", T0 - dt.timedelta(days=2)) == (T0 - dt.timedelta(days=2), 0)
        uow.commit()
    with store.uow() as uow:
        assert uow.throttle.get("k") == (T0, 3)
        assert uow.throttle.purge(older_than=T0 - dt.timedelta(days=1)) == 1
        uow.throttle.clear("k")
        uow.throttle.clear("nope")
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.throttle.get("k") is None and uow.throttle.get("old") is None


# ---- witness log --------------------------------------------------------------------------------

def test_the_witness_log_keeps_roots_and_their_leaves(store: Store, definition: ProcessDefinition) -> None:
    from workflow.adapters.ports import WitnessLeaf, WitnessRoot

    for cid in ("C-B", "C-A", "C-C"):
        put_new(store, opened(definition, cid))
    with store.uow(write=False) as uow:
        heads = {cid: (v, h) for cid, v, h in uow.cases.heads()}

    def root(day: int) -> WitnessRoot:
        return WitnessRoot(day=dt.date(2026, 3, day), at=T0, tree="rfc6962-sha256", root=f"{day:064x}", cases=3,
                           events=3, access_records=0, access_head=GENESIS_HASH)

    first = [WitnessLeaf(cid, *heads[cid]) for cid in ("C-A", "C-B", "C-C")]
    with store.uow() as uow:
        one = uow.witness.add(root(2), first)
        uow.commit()
    later = add(store, definition, "C-B", signal, T0 + dt.timedelta(hours=1))
    with store.uow() as uow:  # C-B moved on, C-C is no longer there (seq 0)
        two = uow.witness.add(root(3), [WitnessLeaf("C-B", 2, later.head_hash), WitnessLeaf("C-C", 0, "0" * 64)])
        uow.commit()
    with pytest.raises(Conflict), store.uow() as uow:  # one root a day
        uow.witness.add(root(3), [])
        uow.commit()
    with store.uow(write=False) as uow:
        latest = uow.witness.latest()
        assert latest is not None and latest.id == two and latest.day == dt.date(2026, 3, 3)
        got = uow.witness.of_day(dt.date(2026, 3, 2))
        assert got is not None and got.id == one and got.root == root(2).root and got.at == T0
        assert uow.witness.of_day(dt.date(2026, 3, 4)) is None
        assert list(uow.witness.leaves(one)) == first
        assert list(uow.witness.leaves(two)) == [first[0], WitnessLeaf("C-B", 2, later.head_hash)]
        assert uow.witness.event_hashes([("C-B", 2), ("C-A", 1), ("C-A", 2)]) == {
            ("C-B", 2): later.head_hash, ("C-A", 1): heads["C-A"][1]}
        assert uow.witness.cases_with_events(["C-A", "C-GONE"]) == {"C-A"}
        assert uow.witness.timestamp(one) is None
    with store.uow() as uow:
        uow.access_log.append([_access("C-A"), _access("C-B")])
        uow.commit()
    with store.uow(write=False) as uow:
        head = uow.access_log.head()["head_hash"]
        assert uow.witness.access_hash_at(2) == head and uow.witness.access_hash_at(3) is None
        assert uow.witness.access_hash_at(1) not in (None, head)


def test_claims_name_their_holder_and_a_dead_holders_are_released(store: Store) -> None:
    out = store.outbox
    out.insert_new([{**r, "sender": "passend@het-anker.school.example"} for r in _rows(3)], T0)
    dead = out.claim(now=T0, batch=2, lease=LEASE, holder=("deze-machine", 4242))
    live = out.claim(now=T0, batch=2, lease=LEASE, holder=("deze-machine", 4343))
    elsewhere = out.insert_new(_rows(4)[3:], T0) and out.claim(now=T0, batch=2, lease=LEASE, holder=("elders", 4242))
    assert [h.sender for h in dead.rows] == ["passend@het-anker.school.example"] * 2
    assert out.release_orphans("deze-machine", lambda pid: pid == 4343) == 2
    # taken at once, not after the lease; the dead run's attempt stays counted, this one adds one
    assert [r.attempts for r in out.claim(now=T0, batch=10, lease=LEASE).rows] == [2, 2]
    assert not out.mark_sent(dead.rows[0].id, dead.token, T0)  # the dead run's token is worth nothing now
    assert out.release_orphans("deze-machine", lambda pid: pid == 4343) == 0
    assert out.counts() == {"sending": 4}
    assert len(live.rows) == 1 and len(elsewhere.rows) == 1


def test_a_retry_records_who_and_when(store: Store) -> None:
    out = store.outbox
    out.insert_new(_rows(1), T0)
    c = out.claim(now=T0, batch=10, lease=LEASE)
    assert out.mark_failed(c.rows[0].id, c.token, error="554 nee", retry_at=None)
    later = T0 + dt.timedelta(hours=1)
    assert out.retry_failed(later, actor="ib.jansen") == 1
    (row,) = out.rows()
    assert (row.status, row.retried_by, row.retried_at, row.attempts) == ("pending", "ib.jansen", later, 0)


# ---- API tokens -------------------------------------------------------------------------------------

def _token(name: str, token_hash: str, *, schools: tuple[str, ...] = ("de-linde",)) -> TokenRecord:
    return TokenRecord(name=name, token_hash=token_hash, role="ib", schools=schools, created_by="cli:root",
                       created_at=T0, revoked_at=None, last_used_at=None)


def test_api_tokens_are_kept_found_revoked_and_never_held_twice(store: Store) -> None:
    with store.uow() as uow:
        uow.api_tokens.insert(_token("sis", "a" * 64))
        uow.api_tokens.insert(_token("dash", "b" * 64, schools=("*",)))
        uow.commit()
    with store.uow(write=False) as uow:
        assert uow.api_tokens.get("sis") == _token("sis", "a" * 64)
        assert uow.api_tokens.by_hash("b" * 64) == _token("dash", "b" * 64, schools=("*",))
        assert uow.api_tokens.by_hash("c" * 64) is None and uow.api_tokens.get("niemand") is None
        assert [t.name for t in uow.api_tokens.all()] == ["dash", "sis"]
        later_sis, later_none = uow.api_tokens.acting_later("sis"), uow.api_tokens.acting_later("niemand")
        assert uow.store.load("C-NOTTHERE") is None  # the unit's next statement, which they travel with
        assert later_sis() == _token("sis", "a" * 64) and later_none() is None
    # The bearer's read outside any unit of work, as the acting user's.
    assert store.users.token("a" * 64) == _token("sis", "a" * 64) and store.users.token("c" * 64) is None
    for clash in (_token("sis", "c" * 64), _token("ander", "a" * 64)):
        with pytest.raises(Conflict), store.uow() as uow:
            uow.api_tokens.insert(clash)
            uow.commit()
    later = T0 + dt.timedelta(hours=1)
    with store.uow() as uow:
        uow.api_tokens.touch("sis", later)
        assert uow.api_tokens.revoke("sis", later) and not uow.api_tokens.revoke("sis", later)
        assert not uow.api_tokens.revoke("niemand", later)
        uow.api_tokens.revoke("dash", later)  # left without commit: undone
    with store.uow(write=False) as uow:
        sis, dash = uow.api_tokens.get("sis"), uow.api_tokens.get("dash")
        assert sis is not None and dash is not None
        assert dash.active and sis.last_used_at is None and sis.active
    with store.uow() as uow:
        uow.api_tokens.touch("sis", later)
        uow.api_tokens.revoke("sis", later)
        uow.commit()
    with store.uow(write=False) as uow:
        sis = uow.api_tokens.get("sis")
        assert sis is not None and not sis.active and (sis.revoked_at, sis.last_used_at) == (later, later)
        assert sis.as_dict()["active"] is False and "token_hash" not in sis.as_dict()
    revoked = store.users.token("a" * 64)
    assert revoked is not None and not revoked.active and revoked.last_used_at == later

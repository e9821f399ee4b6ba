"""`audit verify`: an intact store passes; every kind of direct database tampering is caught."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audit_support import clocked_engine, journey_to_tlv, quick_closed
from tests.tamper import ACTIONS, rows_of, tamper
from workflow.adapters.store.uow import unit_on
from workflow.bootstrap import bootstrap
from workflow.domain.events import canonical_bytes
from workflow.service_layer.audit.verify import COLUMNS, Hasher, verify
from workflow.service_layer.engine import Engine

T0 = dt.datetime(2025, 9, 1, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def store(config_path: Path) -> Any:
    engine, clock = clocked_engine(config_path, T0)
    target = journey_to_tlv(engine, clock)
    bystander = quick_closed(engine, pupil="LL-9")
    yield engine, target, bystander
    engine.db.dispose()


def _verify_tampered(engine: Engine, case_id: str, action: str, i: int, j: int = 0) -> Any:
    with engine.db.connect() as conn:
        conn.begin()
        tamper(conn, case_id, action, i, j)
        report = verify(unit_on(conn))
        conn.rollback()
    return report


def test_intact_store_passes(store: Any) -> None:
    engine, _, _ = store
    with engine.db.connect() as conn:
        report = verify(unit_on(conn))
    assert report.ok, report.problems
    assert report.cases == 2 and report.events == 25 + 3


def test_fast_canonical_form_equals_the_engine_s(store: Any) -> None:
    engine, target, _ = store
    hasher = Hasher()
    with engine.db.connect() as conn:
        for r in rows_of(conn, target):
            raw = tuple(getattr(r, c) for c in COLUMNS)
            with engine.db.connect() as c2:
                text_at = c2.exec_driver_sql(f"SELECT recorded_at FROM events WHERE id = {int(r.id)}").scalar()
            raw_db = (*raw[:7], text_at, *raw[8:])
            expected = canonical_bytes(
                case_id=r.case_id, seq=r.seq, type=r.type, process_id=r.process_id,
                process_version=r.process_version, actor=r.actor, role=r.role,
                recorded_at=r.recorded_at, payload_json=r.payload, prev_hash=r.prev_hash)
            assert hasher.canonical(raw_db) == expected
            assert hasher.canonical(raw) == expected


@pytest.mark.parametrize(("action", "i", "kind", "seq"), [
    ("edit_payload", 4, "content_changed", 5),
    ("edit_actor", 0, "content_changed", 1),
    ("edit_time", 10, "content_changed", 11),
    ("edit_hash", 7, "hash_mismatch", 8),
    ("edit_hash", 24, "hash_mismatch", 25),
    ("delete", 6, "missing", 7),
    ("delete", 0, "missing", 1),
    ("delete", 24, "missing", 25),
    ("swap", 3, "order_changed", 4),
    ("insert", 5, "inserted", 6),
    ("insert_linked", 5, "inserted", 6),
    ("insert_linked", 25, "inserted", 26),
    ("duplicate", 25, "duplicate", 26),
    ("edit_head", 0, "head_mismatch", 25),
])
def test_tampering_is_named(store: Any, action: str, i: int, kind: str, seq: int) -> None:
    engine, target, _ = store
    report = _verify_tampered(engine, target, action, i, j=2)
    assert not report.ok
    assert [p.case_id for p in report.problems] == [target]
    p = report.problems[0]
    assert (p.kind, p.seq) == (kind, seq), p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(ACTIONS), i=st.integers(0, 30), j=st.integers(0, 30))
def test_every_random_tampering_is_caught(store: Any, action: str, i: int, j: int) -> None:
    engine, target, bystander = store
    report = _verify_tampered(engine, target, action, i, j)
    assert not report.ok, (action, i, j)
    assert target in {p.case_id for p in report.problems}
    assert bystander not in {p.case_id for p in report.problems}
    # and the rollback left the store intact
    with engine.db.connect() as conn:
        assert verify(unit_on(conn)).ok


def test_cli_exit_codes(store: Any, cli: Any) -> None:
    engine, target, _ = store
    ok = cli("audit", "verify", "--json")
    assert ok.code == 0 and ok.json()["ok"] is True
    with engine.db.begin() as conn:
        tamper(conn, target, "edit_payload", 3)
    bad = cli("audit", "verify")
    assert bad.code == 5
    assert target in bad.out and "gebeurtenis 4" in bad.out
    assert "Traceback" not in bad.err
    js = cli("audit", "verify", "--json")
    assert js.code == 5 and js.json()["broken"][0]["kind"] == "content_changed"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(["edit_payload", "edit_actor", "edit_role", "edit_time", "edit_type",
                               "edit_hash", "edit_prev", "delete"]),
       i=st.integers(0, 24))
def test_the_first_bad_event_is_the_tampered_one(store: Any, action: str, i: int) -> None:
    engine, target, _ = store
    report = _verify_tampered(engine, target, action, i)
    (p,) = report.problems
    assert p.seq == i + 1, (action, i, p)
    expected = {"edit_hash": {"hash_mismatch"}, "edit_prev": {"link_broken"}, "delete": {"missing"}}
    assert p.kind in expected.get(action, {"content_changed", "payload_changed"}), (action, i, p)


# ---- the fast walks ---------------------------------------------------------------------------
# Text as the engine might be given it: quotes, backslashes, control characters, non-ASCII,
# U+2028 and characters outside the BMP (NUL is left out: PostgreSQL text cannot hold it).
odd_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | odd_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=8,
)
# Years from 1000: iso_utc writes earlier years unpadded ("999-..."), which neither walk (nor
# the general path, before this change either) matches against the stored "0999-...".
instants = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 30),
                        timezones=st.just(dt.UTC))
event_fields = st.fixed_dictionaries({
    "type": odd_text, "process_id": odd_text, "process_version": st.integers(0, 10**6),
    "actor": odd_text, "role": odd_text, "recorded_at": instants,
    "payload": st.dictionaries(odd_text, json_values, max_size=4),
})


def _insert_chains(conn: Any, chains: dict[str, list[dict[str, Any]]]) -> int:
    """Well-chained events written straight into the store, each case with its projection row."""
    from sqlalchemy import insert

    from workflow.adapters.store.eventstore import event_values
    from workflow.adapters.store.tables import cases, events
    from workflow.domain.events import GENESIS_HASH, make_event

    n = 0
    for cid, evs in chains.items():
        prev, rows = GENESIS_HASH, []
        for seq, f in enumerate(evs, start=1):
            ev = make_event(case_id=cid, seq=seq, prev_hash=prev, **f)
            rows.append(event_values(ev))
            prev = ev.hash
        conn.execute(insert(events), rows)
        conn.execute(insert(cases).values(
            case_id=cid, school="de-linde", state="niveau_1", level=1, process_id="passend-po",
            process_version=1, version=len(evs), head_hash=prev, opp_active=False,
            opened_at=T0, state_entered_at=T0, updated_at=T0))
        n += len(evs)
    return n


def _no_general_path(monkeypatch: Any) -> None:
    from workflow.service_layer.audit import verify as verify_module

    def boom(*args: Any, **kw: Any) -> None:
        raise AssertionError(f"the fast walk left a sound chain to the general path: {args[0]!r}")

    monkeypatch.setattr(verify_module, "diagnose", boom)
    monkeypatch.setattr(verify_module, "_head_problem", boom)


@pytest.fixture
def bare(config_path: Path) -> Any:
    engine = bootstrap(config_path, create_key=True)
    engine.init()
    yield engine
    engine.db.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chains=st.dictionaries(odd_text.filter(bool), st.lists(event_fields, min_size=1, max_size=4),
                              min_size=1, max_size=3))
def test_the_fast_walk_takes_every_event_the_engine_writes(
    bare: Any, monkeypatch: Any, chains: dict[str, list[dict[str, Any]]],
) -> None:
    """Each event's hash is recomputed by the fast walk alone, never handed to the general path:
    so its canonical bytes are those of `events.canonical_bytes`, for odd and non-ASCII text in
    every column and payload (on SQLite the bytes walk, on PostgreSQL the str walk)."""
    _no_general_path(monkeypatch)
    with bare.db.connect() as conn:
        conn.begin()
        n = _insert_chains(conn, chains)
        report = verify(unit_on(conn))
        conn.rollback()
    assert report.ok, report.problems
    assert (report.cases, report.events) == (len(chains), n)


def test_both_walks_give_the_same_verdicts(store: Any) -> None:
    """The bytes walk (SQLite) and the str walk (PostgreSQL) over the same rows, on SQLite."""
    from workflow.adapters.store import chains
    from workflow.service_layer.audit import verify as v

    engine, target, bystander = store
    if engine.db.dialect.name != "sqlite":
        pytest.skip("bytes rows come from SQLite only")
    with engine.db.connect() as conn:
        as_bytes = list(v._byte_chains(chains.fetch_batches(conn, chains.EVENTS_SQL + chains.ORDER_SQL, None,
                                                            as_bytes=True), lambda n: None))
        as_text = list(v._text_chains(chains.fetch_batches(conn, chains.EVENTS_SQL + chains.ORDER_SQL, None),
                                      lambda n: None))
        heads = {r[0]: (r[1], r[2]) for r in conn.exec_driver_sql(chains.CASES_SQL)}
        conn.begin_nested()
        tamper(conn, target, "edit_role", 3)
        broken = list(v._byte_chains(chains.fetch_batches(conn, chains.EVENTS_SQL + chains.ORDER_SQL, None,
                                                          as_bytes=True), lambda n: None))
    assert as_bytes == as_text == [(c, True, *heads[c]) for c in sorted((target, bystander))]
    assert all(type(x) is str for chain in as_bytes for x in (chain[0], chain[3]))
    assert {c: sound for c, sound, _, _ in broken} == {target: False, bystander: True}


def _set_raw(conn: Any, case_id: str, seq: int, column: str, value: Any) -> None:
    from tests.tamper import drop_append_only

    drop_append_only(conn)
    conn.exec_driver_sql(f"UPDATE events SET {column} = ? WHERE case_id = ? AND seq = ?",
                         (value, case_id, seq))


def test_unusual_stored_forms_are_judged_by_the_general_path(store: Any) -> None:
    """What the fast walk does not take (another time form, another storage class) is decided
    as before, by the general path: a text that Python reads as the same instant is sound (the
    hash covers the instant's canonical form), one it cannot read is not."""
    engine, target, _ = store
    if engine.db.dialect.name != "sqlite":
        pytest.skip("text in a time column, and storage classes, are SQLite's")

    def verdict(column: str, change: Any) -> Any:
        with engine.db.connect() as conn:
            conn.begin()
            old = conn.exec_driver_sql(f"SELECT {column} FROM events WHERE case_id = ? AND seq = 3",
                                       (target,)).scalar()
            _set_raw(conn, target, 3, column, change(old))
            report = verify(unit_on(conn))
            conn.rollback()
        return [(p.kind, p.seq) for p in report.problems]

    assert verdict("recorded_at", lambda t: t.replace(" ", "T")) == []
    assert verdict("recorded_at", lambda t: t.replace(" ", "X")) == []  # fromisoformat: any separator
    assert verdict("recorded_at", lambda t: t.replace(".", ";")) == [("content_changed", 3)]
    assert verdict("process_version", lambda v: str(v) + "x") == [("content_changed", 3)]
    assert verdict("recorded_at", lambda t: 5) == [("content_changed", 3)]  # an INTEGER time
    # The one thing the bytes walk cannot see: the same bytes stored as a BLOB. The content,
    # which is what the hash covers, has not changed.
    assert verdict("payload", lambda p: p.encode()) == []


def test_other_cursors_read_str_during_and_after_the_bytes_walk(store: Any) -> None:
    """The walk switches SQLite's text_factory only around its own fetches: the diagnosis of a
    broken case (which reads the case again) and the connection afterwards get str."""
    engine, target, _ = store
    with engine.db.connect() as conn:
        conn.begin()
        tamper(conn, target, "edit_payload", 4)
        report = verify(unit_on(conn))
        dbapi = conn.connection.dbapi_connection
        if engine.db.dialect.name == "sqlite":
            assert dbapi.text_factory is str
        assert type(conn.exec_driver_sql("SELECT actor FROM events LIMIT 1").scalar()) is str
        conn.rollback()
    ((kind, seq, case_id),) = [(p.kind, p.seq, p.case_id) for p in report.problems]
    assert (kind, seq, case_id) == ("content_changed", 5, target) and type(case_id) is str

"""The store on a real SQLite file and a real PostgreSQL: UTC timestamps, encryption at rest,
the hash chain, append-only events, migrations, and two writers that never both win."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from workflow.adapters.store import migrate
from workflow.adapters.store.eventstore import EventStore
from workflow.adapters.store.tables import cases, events
from workflow.bootstrap import bootstrap
from workflow.domain.errors import Conflict
from workflow.domain.events import GENESIS_HASH, chain_hash
from workflow.service_layer.engine import Engine

from .engine_support import adopt, dump, walk_to_niveau_4

IB, LK = "ib.jansen", "lk.devries"
AMS = ZoneInfo("Europe/Amsterdam")

# Values that must never be readable in the database: each is unique enough to grep for.
SECRETS = {
    "pupil": "LLREF-Qz81x", "name": "Zeldzaamnaam Vrolijkhart", "note": "krast-in-schrift-9311",
    "goals": "doel-avi-e7-geheim", "who": "juf-Amberlijn", "view_parents": "ouders-vinden-x4q",
    "view_pupil": "leerling-zegt-p2w", "participants": "Tante-Gerbrecht", "by": "moeder-Hildegonde",
    "reason": "reden-niet-gehoord-k5", "summary": "afspraak-geheim-z8", "notes": "evaluatie-tekst-m3",
}


def sensitive_case(engine: Engine) -> str:
    s = SECRETS
    cid = str(engine.open_case(pupil=s["pupil"], school="de-linde", actor=IB, name=s["name"], group=6)["case_id"])
    today = engine.today()
    engine.record("signal", cid, actor=LK, area="gedrag", note=s["note"])
    engine.record("plan", cid, actor=LK, start=today - dt.timedelta(days=10), end=today, goals=s["goals"],
                  who=s["who"], frequency="2x")
    engine.record("evaluation", cid, actor=LK, outcome="voldoende", notes=s["notes"])
    engine.record("consent", cid, actor=IB, scope="externe_deskundige", status="granted", by=s["by"])
    engine.record("view", cid, actor=IB, party="ouders", text=s["view_parents"])
    engine.record("view", cid, actor=IB, party="leerling", text=s["view_pupil"])
    engine.record("view", cid, actor=IB, party="leerling", reason_not_heard=s["reason"])
    engine.record("meeting", cid, actor=IB, kind="leerlingbespreking", participants=s["participants"],
                  summary=s["summary"])
    engine.record("contact", cid, actor=IB, method="gesprek", note=s["note"] + "-contact")
    return cid


# ---- time --------------------------------------------------------------------------------------

def test_timestamps_are_stored_as_utc_and_read_back_aware(config_path: Path) -> None:
    local = dt.datetime(2026, 3, 2, 10, 30, 15, 123456, tzinfo=AMS)  # 09:30:15 UTC
    engine = bootstrap(config_path, create_key=True, clock=lambda: local)
    engine.init()
    try:
        cid = str(engine.open_case(pupil="T-1", school="de-linde", actor=IB)["case_id"])
        engine.record("signal", cid, actor=LK, area="lezen", note="n")
        engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
        utc = dt.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=dt.UTC)
        with engine.db.connect() as conn:
            for row in conn.execute(select(events.c.recorded_at)):
                assert row.recorded_at == utc and row.recorded_at.utcoffset() == dt.timedelta(0)
            proj = conn.execute(select(cases)).one()
            for col in ("opened_at", "state_entered_at", "updated_at", "closed_at"):
                value = getattr(proj, col)
                assert value == utc and value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)
            if engine.db.dialect.name == "sqlite":
                raw = conn.exec_driver_sql("SELECT recorded_at FROM events").scalars().all()
                assert all(str(r).startswith("2026-03-02 09:30:15.123456") for r in raw), raw
            else:
                conn.exec_driver_sql("SET TIME ZONE 'America/New_York'")
                raw = conn.exec_driver_sql(
                    "SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM events").scalars().all()
                assert set(raw) == {"09:30:15"}
                value = conn.execute(select(events.c.recorded_at)).scalars().first()
                assert value == utc and value.tzinfo == dt.UTC
        view = engine.case(cid, actor=IB)
        assert view["opened_at"] == "2026-03-02T09:30:15.123456+00:00"
        assert view["evidence"][0]["date"] == "2026-03-02"  # the school's local date
        assert engine.list_cases(actor=IB)[0]["closed_at"] == "2026-03-02T09:30:15.123456+00:00"
    finally:
        engine.db.dispose()


def test_driver_times_are_the_text_sqlalchemy_writes() -> None:
    """The hot path binds times itself; the text must be SQLAlchemy's own, in every zone."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sqlalchemy.dialects import sqlite

    from workflow.adapters.store.eventstore import _sqlite_time

    bind = sqlite.DATETIME().bind_processor(sqlite.dialect())
    assert bind is not None
    zones = st.sampled_from([dt.UTC, AMS, ZoneInfo("UTC"), dt.timezone(dt.timedelta(hours=-5))])

    @settings(max_examples=300, deadline=None)
    @given(st.datetimes(min_value=dt.datetime(1000, 1, 2), max_value=dt.datetime(9999, 12, 30),
                        timezones=zones))
    def same(value: dt.datetime) -> None:
        assert _sqlite_time(value) == bind(value.astimezone(dt.UTC).replace(tzinfo=None))

    same()
    assert _sqlite_time(dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)) == "2026-03-02 09:30:00.000000"


def test_state_entered_at_is_the_time_of_the_move_not_of_later_evidence(config_path: Path) -> None:
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    ticks = itertools.count()
    engine = bootstrap(config_path, create_key=True,
                                clock=lambda: start + dt.timedelta(minutes=next(ticks)))
    engine.init()
    try:
        cid = str(engine.open_case(pupil="T-2", school="de-linde", actor=IB)["case_id"])
        engine.record("signal", cid, actor=LK, area="lezen", note="n")
        seq = engine.fire(cid, "escalate", actor=LK)["seq"]
        engine.record("signal", cid, actor=LK, area="rekenen", note="n")
        engine.record("contact", cid, actor=LK, method="telefoon")
        with engine.uow(write=False) as uow:
            case = uow.store.load(cid)
            proj = uow.store.projection(cid)
        assert case is not None
        moved = next(e for e in case.events if e.seq == seq)
        assert proj.state_entered_at == moved.recorded_at != case.events[-1].recorded_at
        assert proj.updated_at == case.events[-1].recorded_at
    finally:
        engine.db.dispose()


def test_a_late_evening_fact_is_dated_by_the_school_day(config_path: Path) -> None:
    late = dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC)  # 00:30 on 3 March in Amsterdam
    engine = bootstrap(config_path, create_key=True, clock=lambda: late)
    engine.init()
    try:
        cid = str(engine.open_case(pupil="T-2", school="de-linde", actor=IB)["case_id"])
        engine.record("signal", cid, actor=LK, area="lezen", note="n", date="2026-03-03")  # not future
        assert engine.case(cid, actor=IB)["evidence"][0]["date"] == "2026-03-03"
    finally:
        engine.db.dispose()


# ---- encryption at rest -----------------------------------------------------------------------

def _database_text(engine: Engine, db_url: str) -> str:
    if engine.db.dialect.name == "sqlite":
        engine.db.dispose()
        path = Path(db_url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return blob.decode("latin-1")
    with engine.db.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").scalars().all()
        assert {"events", "cases", "case_keys"} <= set(names)
        return "\n".join(str(v) for n in names
                         for v in conn.exec_driver_sql(f'SELECT t::text FROM "{n}" t').scalars())


def test_sensitive_fields_are_not_in_the_database(engine: Engine, db_url: str) -> None:
    cid = sensitive_case(engine)
    view = engine.case(cid, actor=IB)
    shown = repr(view)
    assert all(value in shown for value in SECRETS.values())  # the IB reads them all back
    stored = _database_text(engine, db_url)
    assert cid in stored and "gedrag" in stored  # the dump does contain the plain data
    for field, value in SECRETS.items():
        assert value not in stored, field
        assert value.encode("utf-8").hex() not in stored, field


def test_a_sealed_value_does_not_open_in_another_case(engine: Engine) -> None:
    a = sensitive_case(engine)
    b = str(engine.open_case(pupil="OTHER-1", school="de-linde", actor=IB)["case_id"])
    with engine.uow(write=False) as uow:
        sealed = uow.store.events_of(a)[0].payload["pupil"]
        assert engine.cipher(uow, a).open("pupil", sealed) == SECRETS["pupil"]
        assert engine.cipher(uow, b).open("pupil", sealed) == "[onleesbaar]"
        assert engine.cipher(uow, a).open("name", sealed) == "[onleesbaar]"  # bound to the field


# ---- hash chain and append-only ---------------------------------------------------------------

def test_hash_chain_links_and_seq_is_contiguous(engine: Engine) -> None:
    cid = walk_to_niveau_4(engine)
    adopt(engine, cid)
    other = sensitive_case(engine)
    with engine.uow(write=False) as uow:
        for case_id in (cid, other):
            evs = uow.store.events_of(case_id)
            assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
            prev = GENESIS_HASH
            for e in evs:
                assert e.prev_hash == prev
                assert e.hash == chain_hash(e.canonical())
                assert e.recorded_at.tzinfo is not None
                prev = e.hash
            proj = uow.store.projection(case_id)
            assert proj.version == evs[-1].seq and proj.head_hash == evs[-1].hash
            assert all(e.process_id == "passend-po" and e.process_version == 1 for e in evs)
        # The raw payload text on disk is what is hashed.
        row = uow.connection.execute(select(events).where(events.c.case_id == cid, events.c.seq == 2)).one()
        from workflow.domain.events import canonical_bytes

        recomputed = chain_hash(canonical_bytes(
            case_id=row.case_id, seq=row.seq, type=row.type, process_id=row.process_id,
            process_version=row.process_version, actor=row.actor, role=row.role,
            recorded_at=row.recorded_at, payload_json=row.payload, prev_hash=row.prev_hash))
        assert recomputed == row.hash
    assert engine.case(cid, actor=IB)["state"] == "opp_vastgesteld"


def test_events_are_append_only_in_the_database(engine: Engine) -> None:
    cid = str(engine.open_case(pupil="A-1", school="de-linde", actor=IB)["case_id"])
    before = dump(engine.db)
    for stmt in ("UPDATE events SET actor = 'x'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.db.begin() as conn:
            conn.execute(text(stmt))
    assert dump(engine.db) == before
    assert engine.case(cid, actor=IB)["version"] == 1


def test_projection_is_rebuilt_from_events(engine: Engine) -> None:
    cid = walk_to_niveau_4(engine)
    with engine.uow(write=False) as uow:
        case = uow.store.load(cid)
        proj = uow.store.projection(cid)
    assert case is not None
    assert (proj.state, proj.level, proj.version, proj.school, proj.opp_active) == (
        case.state, case.level, case.version, case.school, False)
    assert proj.state_entered_at == case.events[-1].recorded_at


# ---- migrations -------------------------------------------------------------------------------

def test_init_is_idempotent_and_upgrades_an_older_schema(config_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    engine = bootstrap(config_path, create_key=True)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
        # A case written by today's code, then the schema taken back to the first revision (the
        # code cannot write to an old schema: its projection has columns added since).
        engine.init()
        cid = str(engine.open_case(pupil="M-1", school="de-linde", actor=IB)["case_id"])
        with engine.db.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001_core")
        assert migrate.current_heads(engine.db) == ["0001_core"]
        heads = engine.init()
        assert "0001_core" not in heads and heads == migrate.current_heads(engine.db)
        assert heads == sorted(s.revision for s in _script_heads(cfg))
        snapshot = dump(engine.db)
        assert engine.init() == heads  # a second init changes nothing
        assert dump(engine.db) == snapshot
        assert engine.case(cid, actor=IB)["state"] == "niveau_1"
    finally:
        engine.db.dispose()


def _script_heads(cfg: Any) -> list[Any]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    return [script.get_revision(h) for h in script.get_heads()]


def test_sqlite_is_durable(engine: Engine) -> None:
    if engine.db.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# ---- two writers --------------------------------------------------------------------------------

def _second_engine(engine: Engine) -> Engine:
    return bootstrap(engine.config.path)


def test_two_writers_that_read_the_same_version_one_wins(engine: Engine) -> None:
    """Two engines (two connection pools), two threads, both sure the case is at version N."""
    cid = str(engine.open_case(pupil="W-1", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    other = _second_engine(engine)
    n = engine.case(cid, actor=IB)["version"]
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def writer(name: str, e: Engine, action: Any) -> None:
        barrier.wait(timeout=30)
        try:
            results[name] = action(e)
        except Conflict as exc:
            results[name] = exc
        except Exception as exc:  # pragma: no cover - reported below
            results[name] = exc

    threads = [
        threading.Thread(target=writer, args=("fire", engine, lambda e: e.fire(
            cid, "escalate", actor=LK, expected_version=n))),
        threading.Thread(target=writer, args=("record", other, lambda e: e.record(
            "contact", cid, actor=IB, method="brief", expected_version=n))),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        conflicts = [k for k, r in results.items() if isinstance(r, Conflict)]
        wins = [k for k, r in results.items() if isinstance(r, dict)]
        assert len(conflicts) == 1 and len(wins) == 1, results
        with engine.uow(write=False) as uow:
            evs = uow.store.events_of(cid)
        assert [e.seq for e in evs] == list(range(1, n + 2))
        assert evs[-1].type == ("transitioned" if wins == ["fire"] else "evidence_recorded")
        assert engine.case(cid, actor=IB)["version"] == n + 1
    finally:
        other.db.dispose()


def test_many_concurrent_writers_lose_no_update(engine: Engine) -> None:
    """Without an expected version: SQLite queues writers (BEGIN IMMEDIATE); PostgreSQL lets
    one of two colliding writers lose with Conflict. Never a lost or half-written event."""
    cid = str(engine.open_case(pupil="W-2", school="de-linde", actor=IB)["case_id"])
    other = _second_engine(engine)
    per_thread, threads_n = 5, 4
    barrier = threading.Barrier(threads_n)
    outcome: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        e = engine if i % 2 else other
        barrier.wait(timeout=30)
        for _ in range(per_thread):
            try:
                e.record("signal", cid, actor=LK, area="lezen", note=f"t{i}")
                result = "ok"
            except Conflict:
                result = "conflict"
            with lock:
                outcome.append(result)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(threads_n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(outcome) == per_thread * threads_n
        ok = outcome.count("ok")
        if engine.db.dialect.name == "sqlite":
            assert ok == per_thread * threads_n
        assert ok >= 1
        with engine.uow(write=False) as uow:
            evs = uow.store.events_of(cid)
            proj = uow.store.projection(cid)
        assert [e.seq for e in evs] == list(range(1, ok + 2))
        assert proj.version == ok + 1 and proj.head_hash == evs[-1].hash
        prev = GENESIS_HASH
        for e in evs:
            assert e.prev_hash == prev
            prev = e.hash
    finally:
        other.db.dispose()


def test_postgres_loser_gets_conflict_from_the_store(engine: Engine) -> None:
    """Two open transactions that both loaded the case; the second append is refused by the
    unique (case_id, seq) constraint or the version check, and leaves nothing behind."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("two open write transactions need PostgreSQL (SQLite queues them)")
    cid = str(engine.open_case(pupil="W-3", school="de-linde", actor=IB)["case_id"])

    def contact(case: Any, note: str) -> Any:
        ev = case.next_event(type="evidence_recorded", actor=IB, role="ib", recorded_at=engine.clock(),
                             process=engine.definition,
                             payload={"kind": "contact", "date": "2026-01-01", "level": 1,
                                      "state": "niveau_1", "fields": {"method": note}, "secret": {}})
        case.apply(ev)
        return ev

    with engine.uow() as u1:
        c1 = u1.store.load(cid)
        with pytest.raises(Conflict), engine.uow() as u2:
            c2 = u2.store.load(cid)
            assert c1 is not None and c2 is not None and c1.version == c2.version == 1
            u1.store.append(c1, [contact(c1, "one")], expected_version=1, now=engine.clock())
            u1.commit()
            before = dump(engine.db)
            u2.store.append(c2, [contact(c2, "two")], expected_version=1, now=engine.clock())
            u2.commit()
    assert dump(engine.db) == before
    assert engine.case(cid, actor=IB)["evidence"][0]["fields"]["method"] == "one"


def test_the_version_check_alone_refuses_a_stale_projection_update(engine: Engine) -> None:
    """Even if a stale writer's events did not collide, the projection update WHERE version = N
    finds no row and the whole append rolls back."""
    cid = str(engine.open_case(pupil="W-4", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    with engine.uow() as uow:
        case = uow.store.load(cid)
    assert case is not None
    before = dump(engine.db)
    ev = case.next_event(type="evidence_recorded", actor=IB, role="ib", recorded_at=engine.clock(),
                         process=engine.definition,
                         payload={"kind": "contact", "date": "2026-01-01", "level": 1,
                                  "state": "niveau_1", "fields": {}, "secret": {}})
    case.apply(ev)
    with pytest.raises(Conflict), engine.uow() as uow:
        EventStore(uow.connection).append(case, [ev], expected_version=1, now=engine.clock())
        uow.commit()
    assert dump(engine.db) == before


def test_another_master_key_does_not_open_the_cases(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow.adapters.crypto import new_master_key
    from workflow.domain.errors import ConfigError

    cid = sensitive_case(engine)
    monkeypatch.setenv("PASSEND_MASTER_KEY", new_master_key())
    stranger = bootstrap(engine.config.path)
    try:
        with pytest.raises(ConfigError, match="opent de sleutels van de casussen in deze database niet"):
            stranger.case(cid, actor=IB)
        before = dump(engine.db)
        with pytest.raises(ConfigError):
            stranger.record("signal", cid, actor=LK, area="lezen", note="n")
        assert dump(engine.db) == before
    finally:
        stranger.db.dispose()


@pytest.mark.slow
def test_two_processes_writing_one_case(engine: Engine) -> None:
    """Real OS processes, each with its own connections: no lost update, no half-written event."""
    import subprocess
    import sys

    cid = str(engine.open_case(pupil="P-PROC", school="de-linde", actor=IB)["case_id"])
    script = (
        "import sys\n"
        "from workflow.domain.errors import Conflict\n"
        "from workflow.bootstrap import bootstrap\n"
        "e = bootstrap(sys.argv[1])\n"
        "ok = conflict = 0\n"
        "for i in range(8):\n"
        "    try:\n"
        "        e.record('signal', sys.argv[2], actor='lk.devries', area='lezen', note=f'p{i}')\n"
        "        ok += 1\n"
        "    except Conflict:\n"
        "        conflict += 1\n"
        "print(ok, conflict)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(engine.config.path), cid],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1]) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        results.append(tuple(int(x) for x in out.split()))
    ok = sum(r[0] for r in results)
    if engine.db.dialect.name == "sqlite":
        assert ok == 16
    with engine.uow(write=False) as uow:
        evs = uow.store.events_of(cid)
        proj = uow.store.projection(cid)
    assert [e.seq for e in evs] == list(range(1, ok + 2))
    assert proj.version == ok + 1
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(evs))

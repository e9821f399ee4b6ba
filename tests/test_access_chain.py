"""The access log is one hash chain: a record changed, removed, put in between or moved shows in
`audit verify`; a fork cannot be written; old records are sealed by the migration."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, exc, insert, select, text, update

from tests.engine_support import in_threads
from tests.tamper import drop_append_only
from workflow.adapters import access_chain
from workflow.adapters.store.migrate import MIGRATIONS
from workflow.adapters.store.tables import access_log
from workflow.adapters.store.uow import unit_on
from workflow.bootstrap import bootstrap
from workflow.domain.events import GENESIS_HASH
from workflow.service_layer.audit.export import export
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine

IB = "ib.jansen"


def _records(conn: Connection) -> list[Any]:
    return list(conn.execute(select(access_log).order_by(access_log.c.id)))


def _reads(engine: Engine, tmp_path: Path) -> list[str]:
    """Access records from every writer: case show, a timeline, an export of two cases."""
    from workflow.service_layer.audit.timeline import timeline

    ids = [engine.open_case(pupil=f"LL-{i}", school="de-linde", actor=IB)["case_id"] for i in range(2)]
    engine.case(ids[0], actor=IB)
    engine.case(ids[1], actor="auditor", purpose="controle", on_behalf_of="Inspectie")
    timeline(engine, ids[0], actor="auditor")
    export(engine, tmp_path / "export", actor="auditor")
    return ids


def test_every_writer_appends_to_one_chain(engine: Engine, tmp_path: Path) -> None:
    _reads(engine, tmp_path)
    with engine.db.connect() as conn:
        rows = _records(conn)
        report = verify(unit_on(conn))
    assert len(rows) == 5 and report.ok and report.access.records == 5
    prev = GENESIS_HASH
    for r in rows:
        assert r.prev_hash == prev
        assert r.hash == hashlib.sha256(access_chain.canonical(r._asdict(), prev)).hexdigest()
        prev = r.hash
    assert report.access.head_hash == prev


def test_the_canonical_form_is_documented_json() -> None:
    record = {"at": dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
              "actor": "auditor", "role": "auditor", "action": "case.show", "case_id": "C-ABCD2345",
              "school": "de-linde", "purpose": "controle \"Ü\"", "on_behalf_of": None, "source": "passend"}
    assert access_chain.canonical(record, "ab" * 32) == (
        '{"action":"case.show","actor":"auditor","at":"2026-03-01T08:30:00.000000Z","case_id":"C-ABCD2345",'
        '"on_behalf_of":null,"prev_hash":"' + "ab" * 32 + '","purpose":"controle \\"Ü\\"","role":"auditor",'
        '"school":"de-linde","source":"passend","v":1}').encode("utf-8")


_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@given(record=st.fixed_dictionaries({
    "at": st.datetimes(min_value=dt.datetime(1000, 1, 1), timezones=st.just(dt.UTC)),
    "actor": _text, "role": _text, "action": _text, "case_id": st.none() | _text,
    "school": st.none() | _text, "purpose": _text, "on_behalf_of": st.none() | _text, "source": _text,
}), prev=st.text("0123456789abcdef", min_size=64, max_size=64))
def test_the_template_is_canonical_json_of_the_record(record: dict[str, Any], prev: str) -> None:
    """What docs/event-chain.md specifies (canonical JSON of the fields, prev_hash and v) is what
    the template makes, for any text: quotes, backslashes, control characters, non-ASCII."""
    from workflow.domain.events import canonical_json
    from workflow.domain.instants import iso_utc

    spec = {**record, "at": iso_utc(record["at"]), "prev_hash": prev, "v": 1}
    assert access_chain.canonical(record, prev) == canonical_json(spec).encode("utf-8")


TAMPERINGS = {
    "purpose_changed": ("record_changed", 3,
                        lambda conn, rows: conn.execute(update(access_log).where(access_log.c.id == rows[2].id)
                                                        .values(purpose="iets anders"))),
    "actor_changed": ("record_changed", 1,
                      lambda conn, rows: conn.execute(update(access_log).where(access_log.c.id == rows[0].id)
                                                      .values(actor="ib.smit"))),
    "middle_removed": ("link_broken", 4,
                       lambda conn, rows: conn.execute(delete(access_log).where(access_log.c.id == rows[2].id))),
    "time_changed": ("record_changed", 2,
                     lambda conn, rows: conn.execute(update(access_log).where(access_log.c.id == rows[1].id)
                                                     .values(at=rows[1].at + dt.timedelta(microseconds=1)))),
    "null_purpose_text": ("record_changed", 4,  # on_behalf_of was null; now a text
                          lambda conn, rows: conn.execute(update(access_log).where(access_log.c.id == rows[3].id)
                                                          .values(on_behalf_of="iemand"))),
    "hash_rewritten": ("link_broken", 3,  # a record re-sealed over new content: its successor no longer links
                       lambda conn, rows: conn.execute(
                           update(access_log).where(access_log.c.id == rows[1].id)
                           .values(purpose="x", hash=hashlib.sha256(access_chain.canonical(
                               {**rows[1]._asdict(), "purpose": "x"}, rows[1].prev_hash)).hexdigest()))),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_tampering_shows(engine: Engine, tmp_path: Path, cli: Any, name: str) -> None:
    _reads(engine, tmp_path)
    kind, position, tamper = TAMPERINGS[name]
    with engine.db.begin() as conn:
        drop_append_only(conn, "access_log")
        rows = _records(conn)
        tamper(conn, rows)
    with engine.db.connect() as conn:
        report = verify(unit_on(conn))
    assert not report.ok and report.problems == []  # the events are intact; the access log is not
    (problem,) = report.access.problems
    assert (problem.kind, problem.record_id) == (kind, rows[position - 1].id)
    assert str(problem.record_id) in problem.detail
    r = cli("audit", "verify")
    assert r.code == 5
    assert r.out.splitlines()[-2:] == [f"toegangslog NIET intact: 1 van {report.access.records} regels gebroken",
                                       f"  regel {problem.record_id}: {kind}: {problem.detail}"]
    js = cli("--json", "audit", "verify")
    assert js.code == 5 and js.json()["access_log"]["broken"][0]["kind"] == kind and not js.json()["ok"]


def test_a_record_moved_or_slipped_in_shows(engine: Engine, tmp_path: Path) -> None:
    _reads(engine, tmp_path)
    with engine.db.begin() as conn:
        drop_append_only(conn, "access_log")
        conn.execute(text("DROP INDEX ix_access_log_prev_hash"))  # else the fork could not be written
        rows = _records(conn)
        # a forged record, well sealed onto the one before the newest, then the newest moved after it
        forged = {k: getattr(rows[-1], k) for k in access_chain.FIELDS}
        forged["actor"] = "ib.smit"
        access_chain.seal([forged], rows[-2].hash)
        conn.execute(delete(access_log).where(access_log.c.id == rows[-1].id))
        conn.execute(insert(access_log), [forged, {**rows[-1]._asdict(), "id": None}])
    with engine.db.connect() as conn:
        report = verify(unit_on(conn))
    kinds = [p.kind for p in report.access.problems]
    assert kinds == ["link_broken"]  # the moved record no longer follows its predecessor


def test_removing_the_newest_records_shows_against_an_anchor(engine: Engine, tmp_path: Path, cli: Any) -> None:
    """The one thing a chain cannot show by itself: a shorter log is still a sound chain. A head
    hash kept outside the system (verify's last line, an export's manifest) is what shows it."""
    _reads(engine, tmp_path)
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text(encoding="utf-8"))
    with engine.db.connect() as conn:
        rows = _records(conn)
        head = verify(unit_on(conn)).access.head_hash
    # the export noted the log as it was before its own two records
    assert manifest["access_log"] == {"records": 3, "head_hash": rows[2].hash}
    for anchor in (head, manifest["access_log"]["head_hash"], head.upper()):
        assert cli("audit", "verify", "--access-anchor", anchor).code == 0
    with engine.db.begin() as conn:
        drop_append_only(conn, "access_log")
        conn.execute(delete(access_log).where(access_log.c.id >= rows[2].id))  # the last three
    with engine.db.connect() as conn:
        assert verify(unit_on(conn)).ok and verify(unit_on(conn)).access.head_hash != head  # sound, only shorter
        report = verify(unit_on(conn), access_anchor=manifest["access_log"]["head_hash"])
    assert [(p.kind, p.record_id) for p in report.access.problems] == [("anchor_missing", 0)]
    r = cli("audit", "verify", "--access-anchor", head)
    assert r.code == 5 and r.out.splitlines()[-2] == f"toegangslog NIET intact: 2 regels, laatste hash {rows[1].hash}"
    assert r.out.splitlines()[-1].startswith(
        f"  anchor_missing: geen toegangsregel heeft meer de eerder vastgelegde hash {head}")
    bad = cli("audit", "verify", "--access-anchor", "abc")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "--access-anchor" in bad.err


def test_a_fork_cannot_be_written(engine: Engine, tmp_path: Path) -> None:
    _reads(engine, tmp_path)
    with engine.db.connect() as conn:
        rows = _records(conn)
    twin = {k: getattr(rows[1], k) for k in access_chain.FIELDS}
    twin["purpose"] = "een tweede opvolger"
    access_chain.seal([twin], rows[0].hash)
    with pytest.raises(exc.IntegrityError), engine.db.begin() as conn:
        conn.execute(insert(access_log), [twin])


def test_concurrent_readers_keep_one_chain(config_path: Path) -> None:
    """Two engines (two pools, as two processes would have) record reads at the same time."""
    engines = [bootstrap(config_path, create_key=True) for _ in range(2)]
    engines[0].init()
    cid = engines[0].open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"]
    def read(e: Engine) -> None:
        for _ in range(40):
            e.case(cid, actor=IB)

    errors = in_threads(read, engines)
    assert errors == []
    with engines[0].db.connect() as conn:
        report = verify(unit_on(conn))
    assert report.ok and report.access.records == 80
    for e in engines:
        e.db.dispose()


def _alembic(engine: Engine, action: str, target: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.db.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, target)


def test_the_migration_seals_the_records_written_before_it(engine: Engine, cli: Any) -> None:
    """Records from before the chain are sealed in id order, a few at a time (BATCH made 3 so
    that seven records take three rounds), and the append-only triggers are back afterwards."""
    import importlib.util

    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    _alembic(engine, "downgrade", "0008_access_chain@-1")  # the access log as 0003_audit made it
    at = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    old = [{"at": at + dt.timedelta(minutes=i), "actor": "auditor", "role": "auditor", "action": "case.show",
            "case_id": f"C-AAAAAAA{i}", "school": "de-linde", "purpose": "controle", "on_behalf_of": None,
            "source": "passend"} for i in range(7)]
    with engine.db.begin() as conn:
        conn.execute(insert(access_log), old)  # only the columns 0003 knows
    stale = cli("audit", "verify")
    assert stale.code == 2 and "passend init" in stale.err and stale.err.count("\n") == 1

    path = MIGRATIONS / "versions" / "0008_access_chain.py"
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.BATCH = 3
    with engine.db.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.upgrade()
    _alembic(engine, "stamp", "0008_access_chain")
    assert "0008_access_chain" in engine.init()  # stamped: nothing left to apply

    with engine.db.connect() as conn:
        rows = _records(conn)
        report = verify(unit_on(conn))
    assert report.ok and report.access.records == 7
    assert [r.case_id for r in rows] == [o["case_id"] for o in old]
    assert rows[0].prev_hash == GENESIS_HASH and all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    with pytest.raises(exc.DBAPIError, match="append-only"), engine.db.begin() as conn:
        conn.execute(update(access_log).values(purpose="x"))
    ok = cli("audit", "verify")
    assert ok.code == 0
    assert ok.out.splitlines()[-1] == f"toegangslog intact: 7 regels, laatste hash {rows[-1].hash}"


def test_the_driver_path_and_core_path_write_the_same_rows(engine: Engine) -> None:
    """A unit of work appends through its driver connection (the case page's hot write); a
    borrowed Connection through SQLAlchemy Core. Both seal onto one chain and store `at` alike."""
    at = dt.datetime(2026, 9, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
    record = {"at": at, "actor": IB, "role": "ib", "action": "case.show", "case_id": "C-AAAAAAAA",
              "school": "de-linde", "purpose": "begeleiding leerling", "on_behalf_of": None, "source": "web"}
    with engine.uow() as uow:
        assert uow.access_log.append([dict(record)]) == 1
        uow.commit()
    with engine.db.begin() as conn:
        assert unit_on(conn).access_log.append([dict(record, source="passend")]) == 1
    with engine.db.connect() as conn:
        rows = _records(conn)
        stored = conn.execute(text("SELECT at FROM access_log ORDER BY id")).scalars().all()
    assert [r.at for r in rows[-2:]] == [at, at]
    assert stored[-1] == stored[-2]  # the same stored form, whichever path wrote it
    assert rows[-1].prev_hash == rows[-2].hash
    with engine.uow(write=False) as uow:
        assert verify(uow).ok

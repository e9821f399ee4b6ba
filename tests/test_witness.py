"""Witnessing outside the store, end to end: the service mails the day's root (a real SMTP server
catches it), the mails are saved as .eml files, and `passend audit verify --witness` holds the
store to them: an honest store that grew passes; a consistent rewrite of a case's tail and its
projection passes plain `verify` and is named with `--witness`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.reminders_support import Clock, clocked_engine, free_port, smtp_server, to_niveau_4
from tests.witness_support import PRIVACY, WITNESS, rewrite_tail, save_mails, witness_extra
from workflow.bootstrap import reminder_service
from workflow.domain.instants import SCHOOL_TZ

D0 = dt.date(2026, 10, 5)


def _at(day: dt.date, hour: int) -> Any:
    moment = dt.datetime(day.year, day.month, day.day, hour, tzinfo=SCHOOL_TZ).astimezone(dt.UTC)
    return lambda: moment


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Any:
    port = free_port()
    cfg = write_config(tmp_path, db_url, extra=witness_extra(port))
    clock = Clock(D0)
    engine = clocked_engine(cfg, clock)
    ids = [to_niveau_4(engine, pupil=f"LL-{i}") for i in range(3)]
    yield engine, cfg, port, ids, clock
    engine.db.dispose()


def _verify(cfg: Path, capsys: Any, *args: str) -> tuple[int, str]:
    from workflow.entrypoints.cli.main import main

    capsys.readouterr()
    code = main(["--config", str(cfg), "audit", "verify", *args])
    return code, capsys.readouterr().out


def test_the_root_goes_to_each_witness_once_and_holds_the_store(rig: Any, tmp_path: Path, capsys: Any) -> None:
    engine, cfg, port, ids, clock = rig
    with smtp_server(port) as (_, inbox):
        before = reminder_service(engine, now=_at(D0, 17)).tick()
        assert before["witness"] == 0 and not inbox.raw  # not before 18:00
        first = reminder_service(engine, now=_at(D0, 19)).tick()
        again = reminder_service(engine, now=_at(D0, 21)).tick()
    assert first["witness"] == 2 and first["sent"] == 2
    assert again["witness"] == 0 and again["sent"] == 0  # once a day, once per witness
    mails = inbox.messages()
    assert sorted(str(m["To"]) for m in mails) == sorted([WITNESS, PRIVACY])
    body = mails[0].get_content()
    assert "Controlewaarde van 2026-10-05" in str(mails[0]["Subject"])
    for cid in ids:  # no case id, let alone pupil data
        assert cid not in body
    assert "LL-" not in body
    saved = save_mails(inbox, tmp_path / "getuige")

    # An honest store that grew since: it extends every witnessed head.
    clock.set(D0 + dt.timedelta(days=1))
    engine.record("contact", ids[0], actor="ib.jansen", method="telefoon")
    to_niveau_4(engine, pupil="LL-99")
    code, out = _verify(cfg, capsys, "--witness", str(saved[0]))
    assert code == 0, out
    assert "getuigen: 1 controlewaarde(n) bevestigd, 3 casuskoppen nagegaan" in out
    code, out = _verify(cfg, capsys, "--witness", str(tmp_path / "getuige"), "--json")
    assert code == 0 and json.loads(out)["witness"]["ok"] is True

    # A consistent rewrite of a case's tail and its projection: invisible to verify alone.
    with engine.db.begin() as conn:
        rewrite_tail(conn, ids[1], from_seq=5)
    code, out = _verify(cfg, capsys)
    assert code == 0, out
    code, out = _verify(cfg, capsys, "--witness", str(tmp_path / "getuige"))
    assert code == 5, out
    assert f"{ids[1]}: gebeurtenis " in out and "herschreven" in out
    assert ids[0] not in out and ids[2] not in out
    assert "Traceback" not in out


def test_a_case_removed_and_a_shortened_access_log_are_named(rig: Any, tmp_path: Path, capsys: Any) -> None:
    engine, cfg, port, ids, _clock = rig
    engine.case(ids[0], actor="ib.jansen")  # an access record, witnessed with the root
    with smtp_server(port) as (_, inbox):
        reminder_service(engine, now=_at(D0, 19)).tick()
    saved = save_mails(inbox, tmp_path / "getuige")
    from sqlalchemy import delete

    from tests.tamper import drop_append_only
    from workflow.adapters.store.tables import access_log, cases, events

    with engine.db.begin() as conn:
        drop_append_only(conn)
        drop_append_only(conn, "access_log")
        conn.execute(delete(events).where(events.c.case_id == ids[2]))
        conn.execute(delete(cases).where(cases.c.case_id == ids[2]))
        conn.execute(delete(access_log))
    code, out = _verify(cfg, capsys, "--witness", str(saved[0]))
    assert code == 5
    assert f"{ids[2]}: de casus is verdwenen" in out
    assert "access_log_changed" in out


def test_a_witness_file_that_is_not_one_is_bad_input(rig: Any, tmp_path: Path, capsys: Any) -> None:
    _engine, cfg, _port, _ids, _clock = rig
    bad = tmp_path / "niets.eml"
    bad.write_text("Subject: hallo\n\ngeen controlewaarde\n", encoding="utf-8")
    code, _ = _verify(cfg, capsys, "--witness", str(bad))
    assert code == 2
    missing = tmp_path / "weg.json"
    code, _ = _verify(cfg, capsys, "--witness", str(missing))
    assert code == 2


def test_a_json_file_of_roots_and_the_memory_store(tmp_path: Path, capsys: Any) -> None:
    """The same service on the in-memory store: the root, its leaves and the check."""
    cfg = write_config(tmp_path, "memory://", extra=witness_extra(free_port(), to=()))
    engine = clocked_engine(cfg, Clock(D0))
    ids = [to_niveau_4(engine, pupil=f"LL-{i}") for i in range(2)]
    r = reminder_service(engine, now=_at(D0, 19)).tick()
    assert r["witness"] == 0  # nobody to mail, but the root is made
    from workflow.service_layer.witness import record
    from workflow.service_layer.witness.check import check

    with engine.uow(write=False) as uow:
        root = uow.witness.latest()
        assert root is not None and root.cases == 2
        report = check(uow, [record.as_record(root)])
    assert report.ok and report.leaves == 2
    forged = {**record.as_record(root), "root": "0" * 64}
    with engine.uow(write=False) as uow:
        report = check(uow, [forged])
    assert [f.kind for f in report.findings] == ["root_changed", "leaves_changed"]
    assert ids


"""`passend backup` and `passend restore` (issue 15): an online copy of a store in use, private,
that restores and verifies; a copy that does not verify, or belongs to another master key, is
refused and nothing is replaced. PostgreSQL: guidance for pg_dump, exit 2."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from workflow.entrypoints.cli.main import main as cli_main

IB = "ib.jansen"
KEY = "A" * 43


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> Any:
    from tests.conftest import CliResult

    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_MASTER_KEY", KEY)


def content(db: Path) -> list[str]:
    """The database's rows and schema, whatever SQLite's checkpoints have moved between the
    file and its WAL: a connection closing anywhere may copy committed pages into the file, so
    its bytes are no measure of "left as it was"."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def store_with_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str], n: int = 3) -> tuple[Path, Path, list[str]]:
    db = tmp_path / "passend.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    assert run(capsys, cfg, "init").code == 0
    ids = []
    for i in range(n):
        r = run(capsys, cfg, "--json", "case", "open", "--pupil", f"LL-{i}", "--school", "de-linde", "--actor", IB)
        ids.append(str(r.json()["case_id"]))
        assert run(capsys, cfg, "record", "signal", ids[-1], "--area", "lezen", "--note", f"notitie {i}",
                   "--actor", IB).code == 0
    assert run(capsys, cfg, "case", "show", ids[0], "--actor", IB).code == 0
    return cfg, db, ids


def test_backup_while_in_use_restores_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _db, ids = store_with_cases(tmp_path, capsys)
    out = tmp_path / "back-up.db"
    # a writer keeps committing while the backup is taken: the copy is one consistent snapshot
    stop = threading.Event()

    def write() -> None:
        from workflow.bootstrap import bootstrap

        e = bootstrap(cfg, existing=True)
        k = 0
        while not stop.is_set() and k < 30:
            e.record("signal", ids[1], actor=IB, area="rekenen", note=f"tijdens {k}")
            k += 1
        e.db.dispose()

    t = threading.Thread(target=write)
    t.start()
    r = run(capsys, cfg, "backup", "--out", str(out))
    stop.set()
    t.join()
    assert r.code == 0, r.err
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert not list(tmp_path.glob(".back-up.db.deel-*"))
    again = run(capsys, cfg, "backup", "--out", str(out))
    assert again.code == 2 and "bestaat al" in again.err

    # restore into a new place (the machine was lost): verified, then in use
    fresh = tmp_path / "nieuw"
    fresh.mkdir()
    cfg2 = write_config(fresh, f"sqlite:///{fresh / 'passend.db'}")
    r = run(capsys, cfg2, "--json", "restore", str(out))
    assert r.code == 0, r.err
    data = r.json()
    assert data["cases"] == 3 and data["kept_as"] is None and data["access_records"] == 1
    assert oct((fresh / "passend.db").stat().st_mode & 0o777) == "0o600"
    assert run(capsys, cfg2, "audit", "verify").code == 0
    shown = run(capsys, cfg2, "--json", "case", "show", ids[2], "--actor", IB)
    assert shown.code == 0 and "notitie 2" in shown.out
    assert run(capsys, cfg2, "record", "signal", ids[2], "--area", "lezen", "--note", "na herstel",
               "--actor", IB).code == 0

    # over an existing database: only with --replace, and the old one is kept
    r = run(capsys, cfg2, "restore", str(out))
    assert r.code == 2 and "--replace" in r.err
    r = run(capsys, cfg2, "--json", "restore", str(out), "--replace")
    assert r.code == 0, r.err
    kept = Path(r.json()["kept_as"])
    assert kept.exists() and kept.name.startswith("passend.db.voor-herstel-")
    old = sqlite3.connect(kept)
    assert old.execute("SELECT count(*) FROM events WHERE case_id = ?", (ids[2],)).fetchone()[0] == 3
    old.close()
    now = run(capsys, cfg2, "--json", "case", "show", ids[2], "--actor", IB)
    assert "na herstel" not in now.out  # the restored copy, not the replaced one


def test_a_backup_that_does_not_verify_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, db, ids = store_with_cases(tmp_path, capsys)
    out = tmp_path / "back-up.db"
    assert run(capsys, cfg, "backup", "--out", str(out)).code == 0
    conn = sqlite3.connect(out)  # tampered with after it was made
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"):
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("UPDATE events SET actor = 'iemand.anders' WHERE case_id = ? AND seq = 2", (ids[1],))
    conn.commit()
    conn.close()
    before = content(db)
    r = run(capsys, cfg, "restore", str(out), "--replace")
    assert r.code == 5, (r.code, r.err)
    assert "niet intact" in r.err and ids[1] in r.err and "er is niets teruggezet" in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    assert content(db) == before
    assert not list(tmp_path.glob(".passend.db.herstel-*")) and not list(tmp_path.glob("*.voor-herstel-*"))


def test_a_backup_of_another_master_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _db, _ids = store_with_cases(tmp_path, capsys)
    out = tmp_path / "back-up.db"
    assert run(capsys, cfg, "backup", "--out", str(out)).code == 0
    monkeypatch.setenv("PASSEND_MASTER_KEY", "B" * 43)
    fresh = tmp_path / "nieuw"
    fresh.mkdir()
    cfg2 = write_config(fresh, f"sqlite:///{fresh / 'passend.db'}")
    r = run(capsys, cfg2, "restore", str(out))
    assert r.code == 1 and "andere hoofdsleutel" in r.err, r.err
    assert not (fresh / "passend.db").exists()


def test_restore_refuses_what_is_no_backup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _db, _ids = store_with_cases(tmp_path, capsys, n=1)
    junk = tmp_path / "junk.db"
    junk.write_text("geen database")
    for source, words in ((junk, "geen SQLite-database"), (tmp_path / "weg.db", "bestaat niet"),
                          (tmp_path, "bestaat niet of is geen bestand")):
        r = run(capsys, cfg, "restore", str(source), "--replace")
        assert r.code == 2 and words in r.err, (source, r.err)


def test_postgres_backup_and_restore_say_how(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = os.environ.get("PASSEND_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
    from tests.conftest import _postgres_schema_url

    gen = _postgres_schema_url(base)
    url = next(gen)
    try:
        cfg = write_config(tmp_path, url)
        assert run(capsys, cfg, "init").code == 0
        r = run(capsys, cfg, "backup", "--out", str(tmp_path / "b.db"))
        assert r.code == 2 and "pg_dump" in r.err and not (tmp_path / "b.db").exists()
        r = run(capsys, cfg, "restore", str(tmp_path / "b.db"))
        assert r.code == 2 and "pg_restore" in r.err
    finally:
        next(gen, None)

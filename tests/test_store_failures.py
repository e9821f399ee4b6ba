"""Failures an operator meets around the store: each is one Dutch line and its documented exit
code, never "interne fout", and the store is left exactly as it was (issue 15).

The full disk and the read-only copy are real: a small tmpfs, or a read-only bind mount, in a
private mount namespace of a child process (`unshare --map-root-user --mount`), so no mount is
visible outside it; the tests skip, saying why, where user namespaces are not allowed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write_config
from workflow.entrypoints.cli.main import main as cli_main

IB = "ib.jansen"
KEY = "A" * 43
READS = [
    ("case", "list", "--actor", IB),
    ("case", "show", "C-AAAAAAAA", "--actor", IB),
    ("audit", "verify"),
    ("audit", "compliance"),
    ("audit", "timeline", "C-AAAAAAAA"),
    ("audit", "access", "C-AAAAAAAA"),
    ("reminders", "list"),
    ("reminders", "due"),
    ("user", "list"),
]


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> Any:
    from tests.conftest import CliResult

    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def one_line(r: Any, code: int, *words: str) -> None:
    assert r.code == code, (r.code, r.out, r.err)
    assert "Traceback" not in r.err and "interne fout" not in r.err, r.err
    assert r.err.startswith("passend: ") and len(r.err.strip().splitlines()) == 1, r.err
    for w in words:
        assert w in r.err, (w, r.err)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_MASTER_KEY", KEY)


def fresh(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str = "") -> tuple[Path, Path]:
    db = tmp_path / "passend.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}", extra=extra)
    assert run(capsys, cfg, "init").code == 0
    return cfg, db


def opened(capsys: pytest.CaptureFixture[str], cfg: Path, pupil: str = "LL-1") -> str:
    r = run(capsys, cfg, "--json", "case", "open", "--pupil", pupil, "--school", "de-linde", "--actor", IB)
    assert r.code == 0, r.err
    return str(r.json()["case_id"])


# ---- a store that is missing, a folder, or not a database --------------------------------------
@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a[:2]))
def test_a_read_never_creates_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
                                      ) -> None:
    db = tmp_path / "nergens.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    r = run(capsys, cfg, *args)
    one_line(r, 2, f"de database {db} bestaat niet", "passend init")
    assert not db.exists() and not Path(f"{db}-wal").exists()


def test_a_write_never_creates_a_store_either(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "nergens.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    r = run(capsys, cfg, "case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", IB)
    one_line(r, 2, "bestaat niet", "passend init")
    assert not db.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "passend.db"
    db.write_bytes(b"dit is een boodschappenlijstje, geen database\n" * 100)
    before = digest(db)
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    for args in (READS[0], ("case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", IB), ("init",)):
        r = run(capsys, cfg, *args)
        one_line(r, 1, f"de database {db} is geen SQLite-database")
    assert digest(db) == before


def test_a_folder_where_a_file_belongs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "map.db"
    folder.mkdir()
    cfg = write_config(tmp_path, f"sqlite:///{folder}")
    one_line(run(capsys, cfg, *READS[0]), 2, "database.url", "is een map")
    one_line(run(capsys, cfg, "init"), 2, "database.url", "is een map")
    # the master key file
    (tmp_path / "k").mkdir()
    cfg, _db = fresh(tmp_path / "k", capsys)
    monkeypatch.delenv("PASSEND_MASTER_KEY")
    (cfg.parent / "var" / "master.key").mkdir(parents=True)
    one_line(run(capsys, cfg, *READS[0]), 2, "security.master_key_file", "is een map")
    # the config file itself
    one_line(run(capsys, tmp_path, *READS[0]), 2, "is een map")


# ---- schema older or newer than this version ----------------------------------------------------
def _migrate_to(db: Path, revisions: list[str]) -> None:
    from alembic import command
    from alembic.config import Config

    from workflow.adapters.store.db import make_engine
    from workflow.adapters.store.migrate import MIGRATIONS

    engine = make_engine(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for rev in revisions:
            command.upgrade(cfg, rev)
    engine.dispose()


def test_an_older_schema_asks_for_init_and_changes_nothing(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from workflow.adapters.store.schema import code_heads

    db = tmp_path / "passend.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    older = [h for h in code_heads() if h != max(code_heads())]
    _migrate_to(db, older)  # every branch but the newest: a database of an earlier version
    before = digest(db)
    r = run(capsys, cfg, "case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", IB)
    one_line(r, 2, "oudere opbouw", "passend init")
    one_line(run(capsys, cfg, *READS[0]), 2, "oudere opbouw")
    assert digest(db) == before
    assert run(capsys, cfg, "init").code == 0
    opened(capsys, cfg)


@pytest.mark.parametrize("engine_kind", ["sqlite", "postgres"])
def test_a_newer_schema_stops_every_command_before_it_writes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], engine_kind: str, request: pytest.FixtureRequest) -> None:
    if engine_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'passend.db'}"
    else:
        if not os.environ.get("PASSEND_TEST_POSTGRES_URL"):
            pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
        from tests.conftest import _postgres_schema_url

        gen = _postgres_schema_url(os.environ["PASSEND_TEST_POSTGRES_URL"])
        url = next(gen)
        request.addfinalizer(lambda: next(gen, None))
    cfg = write_config(tmp_path, url)
    assert run(capsys, cfg, "init").code == 0
    cid = opened(capsys, cfg)
    from sqlalchemy import text

    from workflow.adapters.store.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:  # what a newer passend's `init` would leave: a revision this one lacks
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0099_from_the_future')"))
    try:
        for args in (("case", "open", "--pupil", "LL-2", "--school", "de-linde", "--actor", IB),
                     ("record", "signal", cid, "--area", "lezen", "--note", "x", "--actor", IB),
                     ("case", "show", cid, "--actor", IB), ("reminders", "dispatch", "--once"), ("init",),
                     ("audit", "verify")):
            one_line(run(capsys, cfg, *args), 2, "nieuwere versie van passend", "0099_from_the_future",
                     "werk passend bij")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
            assert conn.execute(text("SELECT count(*) FROM access_log")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM reminder_outbox")).scalar_one() == 0
    finally:
        engine.dispose()


# ---- a full disk, and a read-only copy: real file systems in a private mount namespace ----------
def _namespace_or_skip() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(["unshare", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no user/mount namespaces here: {probe.stderr.decode(errors='replace').strip()}")


def in_namespace(script: str, *mounts: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `script` (Python) in a private mount namespace after the shell `mounts`."""
    body = " && ".join([*mounts, f"exec {sys.executable} -c \"$0\""])
    return subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", body, textwrap.dedent(script)],
                          capture_output=True, text=True, cwd=REPO, timeout=180,
                          env={**os.environ, "PASSEND_MASTER_KEY": KEY, **(env or {})})


RUNNER = """
import json, subprocess, sys
def passend(*args):
    r = subprocess.run([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", CFG, *args],
                       capture_output=True, text=True)
    return {"code": r.returncode, "out": r.stdout, "err": r.stderr}
"""


@pytest.mark.slow
def test_a_full_disk_is_one_line_on_writes_and_on_case_show(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _namespace_or_skip()
    mnt = tmp_path / "disk"
    mnt.mkdir()
    # The store is made in the real folder first, then copied onto a 3 MB tmpfs that is then filled.
    (tmp_path / "seed").mkdir()
    cfg, db = fresh(tmp_path / "seed", capsys)
    cid = opened(capsys, cfg)
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()  # the copy is then whole
    small = write_config(mnt, f"sqlite:///{mnt / 'passend.db'}")
    seed_cfg = small.read_text()
    script = RUNNER + f"""
import os, shutil
CFG = {str(small)!r}
shutil.copy({str(db)!r}, {str(mnt / 'passend.db')!r})
open(CFG, "w").write({seed_cfg!r})
with open({str(mnt / 'filler')!r}, "wb") as f:
    try:
        while True:
            f.write(b"x" * 65536); f.flush(); os.fsync(f.fileno())
    except OSError:
        pass
before = open({str(mnt / 'passend.db')!r}, "rb").read()
out = {{"open": passend("case", "open", "--pupil", "LL-9", "--school", "de-linde", "--actor", "ib.jansen"),
       "show": passend("case", "show", {cid!r}, "--actor", "ib.jansen"),
       "record": passend("record", "signal", {cid!r}, "--area", "lezen", "--note", "x", "--actor", "ib.jansen")}}
os.remove({str(mnt / 'filler')!r})
out["unchanged"] = open({str(mnt / 'passend.db')!r}, "rb").read() == before
out["verify"] = passend("audit", "verify")
out["list"] = passend("--json", "case", "list", "--actor", "ib.jansen")
print(json.dumps(out))
"""
    r = in_namespace(script, f"mount -t tmpfs -o size=3m tmpfs {mnt}")
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads(r.stdout)
    for name in ("open", "show", "record"):
        res = out[name]
        assert res["code"] == 1, (name, res)
        assert res["err"].startswith("passend: ") and len(res["err"].strip().splitlines()) == 1, res["err"]
        assert "schijf" in res["err"] and "interne fout" not in res["err"], res["err"]
        assert "Traceback" not in res["err"] and res["out"] == "", res
    assert out["unchanged"]
    assert out["verify"]["code"] == 0, out["verify"]
    assert [c["case_id"] for c in json.loads(out["list"]["out"])] == [cid]


@pytest.mark.slow
def test_an_auditor_reads_a_read_only_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _namespace_or_skip()
    cfg, _db = fresh(tmp_path, capsys)
    cid = opened(capsys, cfg)
    assert run(capsys, cfg, "record", "signal", cid, "--area", "lezen", "--note", "geheim", "--actor", IB).code == 0
    copy = tmp_path / "kopie"
    copy.mkdir()
    assert run(capsys, cfg, "backup", "--out", str(copy / "passend.db")).code == 0
    ro_cfg = write_config(copy, f"sqlite:///{copy / 'passend.db'}")
    log = tmp_path / "inzage.jsonl"
    before = digest(copy / "passend.db")
    script = RUNNER + f"""
CFG = {str(ro_cfg)!r}
out = {{"list": passend("--json", "case", "list", "--actor", "ib.jansen"),
       "verify": passend("audit", "verify"),
       "show": passend("case", "show", {cid!r}, "--actor", "ib.jansen"),
       "timeline": passend("audit", "timeline", {cid!r}),
       "open": passend("case", "open", "--pupil", "LL-2", "--school", "de-linde", "--actor", "ib.jansen"),
       "logged": passend("--access-log", {str(log)!r}, "--json", "case", "show", {cid!r}, "--actor", "ib.jansen"),
       "logged2": passend("--access-log", {str(log)!r}, "audit", "timeline", {cid!r}),
       "check": passend("--access-log", {str(log)!r}, "audit", "verify")}}
print(json.dumps(out))
"""
    r = in_namespace(script, f"mount --bind {copy} {copy}", f"mount -o remount,bind,ro {copy}")
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads(r.stdout)
    assert out["list"]["code"] == 0 and json.loads(out["list"]["out"])[0]["case_id"] == cid
    assert out["verify"]["code"] == 0, out["verify"]
    for name in ("show", "timeline"):
        res = out[name]
        assert res["code"] == 3 and res["out"] == "", res
        assert "alleen-lezen" in res["err"] and "--access-log" in res["err"] and "geheim" not in res["err"]
    assert out["open"]["code"] == 1 and "alleen-lezen" in out["open"]["err"], out["open"]
    assert out["logged"]["code"] == 0, out["logged"]
    assert json.loads(out["logged"]["out"])["case_id"] == cid
    assert out["logged2"]["code"] == 0 and "geheim" in out["logged2"]["out"]
    assert out["check"]["code"] == 0 and "inzagelog-bestand" in out["check"]["out"], out["check"]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["n"], x["action"], x["case_id"], x["actor"]) for x in lines] == [
        (1, "case.show", cid, IB), (2, "audit.timeline", cid, "auditor")]
    assert lines[0]["prev_hash"] == "0" * 64 and lines[1]["prev_hash"] == lines[0]["hash"]
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert digest(copy / "passend.db") == before
    # the file's chain is checked like the table's: one changed line is found
    lines[0]["purpose"] = "iets anders"
    log.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in lines))
    r2 = run(capsys, cfg, "--access-log", str(log), "audit", "verify")
    assert r2.code == 5 and "inzagelog-bestand" in r2.out and "record_changed" in r2.out


def test_read_only_detection_without_namespaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same refusal where a user lacks write permission (SQLite's mode=ro); as root, whom
    permissions do not stop, the namespace test above is the real one."""
    if os.geteuid() == 0:
        pytest.skip("root may write any file; see test_an_auditor_reads_a_read_only_copy")
    cfg, db = fresh(tmp_path, capsys)
    cid = opened(capsys, cfg)
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    db.chmod(0o444)
    try:
        r = run(capsys, cfg, "case", "show", cid, "--actor", IB)
        one_line(r, 3, "alleen-lezen", "--access-log")
    finally:
        db.chmod(0o644)


# ---- PostgreSQL waits at most lock_timeout and statement_timeout --------------------------------
@pytest.fixture
def pg_url() -> Any:
    base = os.environ.get("PASSEND_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
    from tests.conftest import _postgres_schema_url

    yield from _postgres_schema_url(base)


def _with_timeouts(cfg: Path, url: str, lock: float, statement: float) -> None:
    cfg.write_text(cfg.read_text().replace(
        f'url = "{url}"', f'url = "{url}"\nlock_timeout_seconds = {lock}\nstatement_timeout_seconds = {statement}'))


def _holder(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def test_postgres_lock_timeout_is_a_conflict(tmp_path: Path, capsys: pytest.CaptureFixture[str], pg_url: str) -> None:
    cfg = write_config(tmp_path, pg_url)
    _with_timeouts(cfg, pg_url, 0.5, 60)
    assert run(capsys, cfg, "init").code == 0
    cid = opened(capsys, cfg)
    with _holder(pg_url) as other:  # a second, real session holds the case's row
        other.execute("SELECT * FROM cases WHERE case_id = %s FOR UPDATE", (cid,))
        r = run(capsys, cfg, "record", "signal", cid, "--area", "lezen", "--note", "x", "--actor", IB)
        one_line(r, 4, "lock_timeout_seconds", "er is niets opgeslagen")
        other.rollback()
        n = other.execute("SELECT count(*) FROM events WHERE case_id = %s", (cid,)).fetchone()
        assert n is not None and n[0] == 1
    assert run(capsys, cfg, "record", "signal", cid, "--area", "lezen", "--note", "x", "--actor", IB).code == 0


def test_postgres_statement_timeout_is_a_conflict(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  pg_url: str) -> None:
    cfg = write_config(tmp_path, pg_url)
    _with_timeouts(cfg, pg_url, 30, 0.3)
    assert run(capsys, cfg, "init").code == 0
    cid = opened(capsys, cfg)
    with _holder(pg_url) as other:
        other.execute("LOCK TABLE access_log IN ACCESS EXCLUSIVE MODE")
        r = run(capsys, cfg, "case", "show", cid, "--actor", IB)
        one_line(r, 4, "statement_timeout_seconds")
        assert r.out == ""  # nothing shown without its access record
        other.rollback()
        n = other.execute("SELECT count(*) FROM access_log").fetchone()
        assert n is not None and n[0] == 0
    assert run(capsys, cfg, "case", "show", cid, "--actor", IB).code == 0

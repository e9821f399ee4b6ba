"""The benchmark scripts at toy size: they run, print one JSON line of the promised shape.

CI never runs the large benchmarks (minutes, a million events); this keeps the scripts working.
No timing is asserted: the machine is shared, and only figures measured side by side mean much.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from workflow.bootstrap import bootstrap
from workflow.demo.population import populate

REPO = Path(__file__).resolve().parents[1]


def run_bench(name: str, *args: str, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", name, "--dir", str(tmp / name), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    figures = json.loads(lines[0])
    assert figures["bench"] == name
    assert figures["machine"]["nproc"] >= 1
    return figures


def positive(figures: dict[str, Any], *keys: str) -> None:
    for k in keys:
        assert isinstance(figures[k], int | float) and figures[k] > 0, (k, figures[k])


def test_population_is_valid_and_spread(tmp_path: Path, sqlite_url: str) -> None:
    """Generated cases are what the engine itself would write: chains, projections, guards."""
    from workflow.adapters.store.eventstore import _projection_values
    from workflow.domain import case as domain
    from workflow.domain.events import GENESIS_HASH, make_event

    engine = bootstrap(write_config(tmp_path, sqlite_url), create_key=True)
    engine.init()
    pop = populate(engine, pupils=400, seed=7)
    assert pop.pupils == 400 and pop.events > 1600
    assert {"niveau_1", "niveau_2", "niveau_3", "afgesloten"} <= set(pop.states)
    with engine.uow(write=False) as uow:
        ids = [r.case_id for r in uow.cases.summaries(schools=None, state=None)]
        assert len(ids) == 400
        for cid in ids:
            evs = uow.store.events_of(cid)
            prev = GENESIS_HASH
            case = None
            for ev in evs:
                again = make_event(case_id=ev.case_id, seq=ev.seq, type=ev.type, process_id=ev.process_id,
                                   process_version=ev.process_version, actor=ev.actor, role=ev.role,
                                   recorded_at=ev.recorded_at, payload=ev.payload, prev_hash=prev)
                assert (ev.prev_hash, ev.hash) == (prev, again.hash)
                prev = ev.hash
                if ev.type == "transitioned" and case is not None:
                    # Every transition was allowed, by the guards of that moment, to that role.
                    d = engine.definition_of(case)
                    decision = domain.decide(case, d, ev.payload["trigger"], ev.payload["params"], ev.role)
                    assert decision.allowed and decision.dest == ev.payload["dest"], decision.reasons
                case = domain.Case.from_events([ev]) if case is None else case
                if case.version < ev.seq:
                    case.apply(ev)
            assert case is not None
            row = uow.store.projection(cid)
            for key, value in _projection_values(case, row.updated_at).items():
                assert getattr(row, key) == value, (cid, key)
    # The engine reads a generated case, decrypts it, and can move it on.
    some = ids[0]
    view = engine.case(some, actor="auditor")
    assert view["pupil"].startswith("DEMO-")
    engine.db.dispose()


def test_demo_command_generates(cli: Any) -> None:
    r = cli("demo", "--pupils", "60", "--seed", "3", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["pupils"] == 60 and out["events"] >= 60
    assert sum(out["states"].values()) == 60
    listed = cli("case", "list", "--actor", "auditor", "--json")
    assert len(listed.json()) == 60


def test_demo_without_pupils_still_walks_one_case(cli: Any) -> None:
    r = cli("demo", "--json")
    assert r.code == 0, r.err
    assert r.json()[-1]["state"] == "opp_vastgesteld"


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_bench_fire(tmp_path: Path, database: str) -> None:
    pytest.importorskip("eventsourcing")
    extra: list[str] = []
    if database == "postgresql":
        pytest.importorskip("psycopg_pool")
        url = os.environ.get("PASSEND_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
        extra = ["--pg-url", url]
    f = run_bench("fire", "--pupils", "120", "--fires", "40", "--rounds", "2", *extra, tmp=tmp_path)
    assert f["commands"] == 40 and f["database"] == database
    positive(f, "passend_per_s", "raw_per_s", "peer_eventsourcing_per_s", "ratio_vs_raw",
             "ratio_vs_peer", "raw_vs_peer")
    assert f["raw_vs_peer"] == pytest.approx(f["raw_per_s"] / f["peer_eventsourcing_per_s"], rel=0.01)
    if database == "sqlite":
        assert f["store"]["sqlite_journal"] == "wal" and f["store"]["sqlite_synchronous"] == 2
        assert f["peer_sqlite_synchronous"] == 2
    else:
        assert f["store"]["synchronous_commit"] == "on"


@pytest.mark.slow
def test_bench_startup(tmp_path: Path) -> None:
    f = run_bench("startup", "--runs", "3", tmp=tmp_path)
    positive(f, "passend_help_s", "python_pass_s", "ratio")


@pytest.mark.slow
def test_bench_group(tmp_path: Path) -> None:
    f = run_bench("group", "--pupils", "300", "--fires", "16", "--clients", "2", "--rounds", "2", tmp=tmp_path)
    assert f["commands_per_run"] == 16 and f["failed"] == dict.fromkeys(("http_on", "http_off", "inproc_on",
                                                                          "inproc_off"), 0)
    assert f["lost"] == 0 and f["duplicated"] == 0 and f["chains_ok"] and f["replay_mismatches"] == 0
    positive(f["per_s"], "http_on", "http_off", "inproc_on", "inproc_off", "raw")


@pytest.mark.slow
def test_bench_web(tmp_path: Path) -> None:
    f = run_bench("web", "--pupils", "200", "--clients", "2", "--requests", "3", "--rounds", "1", tmp=tmp_path)
    assert f["store"]["cases"] == 200 and f["clients"] == 2
    for kind in ("static", "case", "caseload", "work"):
        assert f[kind]["n"] == 6 and f[kind]["errors"] == 0, (kind, f[kind])
        positive(f[kind], "p50_ms", "p95_ms")


@pytest.mark.slow
def test_bench_populate(tmp_path: Path) -> None:
    f = run_bench("populate", "--pupils", "300", tmp=tmp_path)
    assert f["pupils"] == 300
    positive(f, "events", "events_per_s")


@pytest.mark.slow
def test_bench_audit(tmp_path: Path) -> None:
    pytest.importorskip("eventsourcing")
    f = run_bench("audit", "--pupils", "150", tmp=tmp_path)
    assert f["store"]["events"] == f["verify"]["events"] == f["raw_read_hash"]["events"]
    assert f["peer_replay"]["events"] == f["store"]["events"]
    positive(f["verify"], "events_per_s", "peak_rss_mb")
    positive(f, "verify_vs_raw", "verify_vs_peer")
    if f["replay"] is not None:
        positive(f["replay"], "events_per_s", "peak_rss_mb")
        assert f["replay"]["cases"] == f["store"]["cases"]
    positive(f["compliance"], "events_per_s", "peak_rss_mb")
    assert f["compliance"]["cases"] == f["store"]["cases"]


@pytest.mark.slow
def test_bench_planner(tmp_path: Path) -> None:
    pytest.importorskip("holidays")
    f = run_bench("planner", "--pupils", "300", tmp=tmp_path)
    assert f["store"]["cases"] == 300 and f["due_cases"] >= 0
    positive(f, "scan_ms", "bare_query_ms", "scan_vs_bare", "tick_ms")
    assert f["tick_folded"] == f["due_cases"]
    for run in ("cold_serve_once", "digest_day_serve_once"):
        serve = f[run]
        assert serve["failed"] == 0 and serve["sent"] == serve["planned"]
        positive(serve, "peak_rss_mb")
    assert f["cold_serve_once"]["planned"] > 0


@pytest.mark.slow
def test_bench_due(tmp_path: Path) -> None:
    f = run_bench("due", "--pupils", "300", "--rounds", "1", tmp=tmp_path)
    assert f["store"]["cases"] == 300 and f["same_as_full"] is True
    positive(f, "due_ms", "tick_ms", "due_cli_s", "full_ms")


@pytest.mark.slow
def test_bench_show_and_caselist(tmp_path: Path) -> None:
    f = run_bench("show", "--pupils", "60", "--runs", "2", "--cases", "2", tmp=tmp_path)
    assert f["cases"] == 60
    # on SQLite `case show` reads through the driver (store.direct): the store's SQLAlchemy stays out
    assert not {"sqlalchemy", "sqlmodel", "fastapi", "weasyprint", "apscheduler", "authlib",
                "transitions"} & set(f["heavy_modules_imported"])
    positive(f, "case_show_s", "plain_loop_s", "ratio")
    f = run_bench("caselist", "--pupils", "60", "--runs", "1", tmp=tmp_path)
    assert f["store"]["cases"] == 60 and f["same_bytes"] is True
    positive(f, "case_list_s", "plain_loop_s", "ratio")


@pytest.mark.slow
def test_bench_dispatch(tmp_path: Path) -> None:
    """Two dispatchers on one PostgreSQL outbox: every message once, to a loopback SMTP server."""
    pytest.importorskip("aiosmtpd")
    url = os.environ.get("PASSEND_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
    f = run_bench("dispatch", "--messages", "120", "--pg-url", url, tmp=tmp_path)
    assert [r["processes"] for r in f["runs"]] == [1, 2]
    for r in f["runs"]:
        assert r["duplicates"] == 0 and r["missing"] == 0 and r["received"] == 120
        positive(r, "messages_per_s")
    assert f["duplicates_total"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_bench_writers(tmp_path: Path, database: str) -> None:
    """1 and 2 writer processes on disjoint cases: every command's event stored exactly once."""
    extra: list[str] = []
    if database == "postgresql":
        url = os.environ.get("PASSEND_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
        extra = ["--pg-url", url, "--no-sqlite"]
    f = run_bench("writers", "--pupils", "200", "--fires", "40", "--writers", "1,2", *extra, tmp=tmp_path)
    assert f["commands_per_run"] == 40 and f["writers"] == [1, 2]
    assert list(f["databases"]) == [database]
    runs = f["databases"][database]["runs"]
    assert [r["writers"] for r in runs] == [1, 2]
    for r in runs:
        assert r["attempted"] == 40 and r["commands"] + r["conflicts"] + r["refused"] + r["errors"] == 40
        assert r["refused"] == 0 and r["errors"] == 0, r["error_samples"]
        assert r["lost"] == 0 and r["duplicated"] == 0
        assert r["store_events_added"] == r["commands"]
        positive(r, "seconds", "per_s", "speedup_vs_1")
    assert f["single_process_per_s"][database] == runs[0]["per_s"]
    assert f["totals"]["lost"] == 0 and f["totals"]["duplicated"] == 0
    settings = f["databases"][database]["settings"]
    if database == "sqlite":
        assert settings["sqlite_journal"] == "wal" and settings["sqlite_synchronous"] == 2
        assert settings["sqlite_busy_timeout_ms"] == 15000
    else:
        assert settings["synchronous_commit"] == "on"


@pytest.mark.slow
def test_bench_cpu(tmp_path: Path) -> None:
    """Instructions per command under callgrind: positive for every engine, passend above the raw loop.

    passend does strictly more per command than the raw loop writing its rows (load and fold the
    case, decide the guards, hash the event), and instruction counts do not depend on the machine's
    load, so that order is asserted; no ratio to the peer is (it is what the benchmark measures).
    """
    import shutil

    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    pytest.importorskip("eventsourcing")
    f = run_bench("cpu", "--pupils", "100", "--commands", "3", tmp=tmp_path)
    assert f["commands"] == 3 and f["warmup_commands"] == 1 and f["valgrind"].startswith("valgrind-")
    assert sum(f["triggers"].values()) == 3
    positive(f, "passend_instr_per_command", "raw_instr_per_command", "peer_instr_per_command",
             "instr_passend_vs_raw", "instr_passend_vs_peer", "cpu_ratio_vs_raw", "cpu_ratio_vs_peer")
    assert f["passend_instr_per_command"] > f["raw_instr_per_command"]
    for engine in ("passend", "raw", "peer"):
        run = f["runs"][engine]
        assert run["instructions_k"] > run["instructions_0"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("args", [("writers", "--writers", "0,x"), ("planner", "--pupils", "-3"),
                                  ("fire", "--pupils", "0"), ("group", "--fires", "-2"), ("web", "--kinds", "case,pdf"),
                                  ("nonsense",)])
def test_bench_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "bench", *args, "--dir", str(tmp_path / "b")]
                          if args[0] != "nonsense" else [sys.executable, "-m", "bench", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""

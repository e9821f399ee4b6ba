"""Health and metrics (issue 15): `passend serve` answers /healthz and Prometheus /metrics on a
local port while it runs; the web app answers /healthz to anyone and /metrics only on loopback
or with the token."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import REPO, write_config
from tests.reminders_support import Clock, clocked_engine, free_port, to_niveau_4
from tests.web_support import Clock as WebClock
from tests.web_support import make_app, make_engine
from workflow.entrypoints.health import ServiceHealth

D0 = dt.date(2026, 9, 7)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.slow
def test_serve_exposes_healthz_and_metrics_on_a_local_port(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    cfg = write_config(tmp_path, sqlite_url, extra=(
        f'\n[serve]\nhealth_port = {port}\n\n[reminders]\nsend_time = "07:00"\ndigest = false\n'
        '\n[notifier]\nbackend = "file"\nfolder = "out"\nfrom = "passend@de-linde.school.example"\n'))
    engine = clocked_engine(cfg, Clock(D0))
    for i in range(2):
        to_niveau_4(engine, pupil=f"LL-{i}")
    events = engine.store.events_appended()
    engine.db.dispose()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), "serve",
                             "--now", (D0 + dt.timedelta(days=28)).isoformat() + "T09:00"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
                if status == 200 and json.loads(body)["last_tick"]:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert status == 200, body
        health = json.loads(body)
        assert health["status"] == "ok" and health["last_tick_ok"] is True
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        got = samples(text)
        assert got[("passend_outbox_messages", (("status", "sent"),))] == 2
        assert got[("passend_outbox_messages", (("status", "failed"),))] == 0
        assert got[("passend_outbox_failed_messages", ())] == 0
        assert got[("passend_events_appended", ())] == events
        assert got[("passend_store_up", ())] == 1
        assert got[("passend_reminders_last_tick_ok", ())] == 1
        assert got[("passend_reminders_last_tick_timestamp_seconds", ())] > time.time() - 60
        assert got[("passend_reminders_last_tick_duration_seconds", ())] > 0
        assert got[("passend_reminders_ticks_total", (("outcome", "ok"),))] >= 1
        assert got[("passend_reminders_messages_total", (("result", "sent"),))] == 2
        assert get(f"http://127.0.0.1:{port}/anders")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err


def test_the_service_health_says_what_is_wrong(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url)
    engine = clocked_engine(cfg, Clock(D0))
    now = [1_000_000.0]
    health = ServiceHealth(engine.store, tick_seconds=60, clock=lambda: now[0])
    assert health.status()[0] == 200  # just started: no tick yet, that is fine
    health.record(now[0], {"sent": 1})
    assert health.status()[0] == 200
    now[0] += 60
    health.record(now[0] - 2, None)  # the tick failed
    status, body = health.status()
    assert status == 503 and "mislukt" in body["problems"][0]
    health.record(now[0], {"sent": 0})
    now[0] += 3 * 60 + 61  # the scheduler stalled
    status, body = health.status()
    assert status == 503 and "geen tik" in body["problems"][0]
    engine.db.dispose()
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    db.write_bytes(b"kapot" * 1000)  # the store no longer answers
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    health.record(now[0], {"sent": 0})
    status, body = health.status()
    assert status == 503 and "database" in body["problems"][0]
    assert samples(health.metrics().decode())[("passend_store_up", ())] == 0


def test_a_taken_health_port_stops_the_start_with_one_line(tmp_path: Path, sqlite_url: str) -> None:
    import socket

    from workflow.domain.errors import ConfigError
    from workflow.entrypoints.health import HealthServer

    cfg = write_config(tmp_path, sqlite_url)
    engine = clocked_engine(cfg, Clock(D0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ConfigError, match="health_port"):
            HealthServer(ServiceHealth(engine.store, 60), "127.0.0.1", s.getsockname()[1])
    engine.db.dispose()


def test_web_healthz_is_public_and_metrics_only_local_or_with_the_token(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, sqlite_url, WebClock())
    app = make_app(engine)
    outside = TestClient(app, client=("203.0.113.9", 40000))
    local = TestClient(app, client=("127.0.0.1", 40000))
    r = outside.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert outside.get("/metrics").status_code == 404
    r = local.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert samples(r.text)[("passend_store_up", ())] == 1
    assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404  # via a proxy
    monkeypatch.setenv("PASSEND_METRICS_TOKEN", "s3cret-token")
    app = make_app(engine, {"metrics_token_env": "PASSEND_METRICS_TOKEN"})
    outside = TestClient(app, client=("203.0.113.9", 40000))
    assert outside.get("/metrics").status_code == 404
    assert outside.get("/metrics", headers={"Authorization": "Bearer fout"}).status_code == 404
    r = outside.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 200 and "passend_outbox_messages" in r.text
    engine.db.dispose()
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    db.write_bytes(b"kapot" * 1000)
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    assert outside.get("/healthz").status_code == 503


def test_web_metrics_token_variable_must_be_set() -> None:
    from workflow.adapters.web_settings import parse_web
    from workflow.domain.errors import ConfigError

    with pytest.raises(ConfigError, match=r"web\.metrics_token_env"):
        parse_web({"metrics_token_env": "NIET_GEZET"}, "config.toml", env={})



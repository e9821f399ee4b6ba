"""`passend web --workers N`: several processes behind one port, each building the app from the
same config file; the sign-in and a page work whichever process answers, and SIGTERM stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, write_config
from tests.reminders_support import free_port
from tests.test_web_browser import _wait_until_up

pytestmark = pytest.mark.slow


def test_two_workers_serve_the_same_app_and_stop_together(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}",
                       extra=f'\n[web]\nbase_url = "{base}"\n[notifier]\nbackend = "file"\nfolder = "out"\n'
                             'from = "passend@test.example"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg)]
    subprocess.run([*cmd, "init"], check=True, capture_output=True, env=env)
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        _wait_until_up(base, proc)
        with httpx.Client(base_url=base) as client:
            for _ in range(6):  # whichever worker takes it: the page, and a redirect to sign in
                assert client.get("/inloggen").status_code == 200
                assert client.get("/leerlingen").status_code in (302, 303)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2, children  # the workers (and uvicorn's own helper, if any)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-500:]
    assert b"Traceback" not in err


def test_a_serving_process_freezes_what_it_made_to_start(tmp_path: Path) -> None:
    """`passend web`'s factory (each worker's app) leaves its start-up heap frozen (settle_heap),
    so the collector's full passes skip it; creating an app in process (the tests' way) does not
    freeze anything."""
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}",
                       extra='\n[web]\nbase_url = "http://127.0.0.1:9"\n[notifier]\nbackend = "file"\nfolder = "out"\n'
                             'from = "passend@test.example"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), "init"],
                   check=True, capture_output=True, env=env)
    probe = ("import gc, sys\n"
             "from workflow.entrypoints.web import app\n"
             "from workflow.bootstrap import bootstrap, make_notifier\n"
             "from workflow.adapters.web_settings import parse_web\n"
             "engine = bootstrap(sys.argv[1], existing=True)\n"
             "app.create_app(engine, parse_web(engine.config.raw.get('web'), 'config.toml'), make_notifier(engine))\n"
             "print(gc.get_freeze_count())\n"
             "app.app_from_config(sys.argv[1])\n"
             "print(gc.get_freeze_count())\n")
    out = subprocess.run([sys.executable, "-c", probe, str(cfg)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    before, after = (int(n) for n in out.stdout.split()[-2:])
    assert before == 0 and after > 10_000, (before, after)

"""`passend serve` as a real process: the file notifier, SIGTERM, catch-up after downtime; CLI errors."""

from __future__ import annotations

import datetime as dt
import email
import os
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest

from tests.conftest import REPO, write_config
from tests.reminders_support import Clock, clocked_engine, to_niveau_4

D0 = dt.date(2026, 9, 7)
FILE_NOTIFIER = """
[reminders]
tick_seconds = 1
send_time = "07:00"
digest = false

[notifier]
backend = "file"
folder = "out"
from = "passend@test.example"
"""


def passend(cfg: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def serve_until(cfg: Path, folder: Path, count: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Start `passend serve`, wait until `count` .eml files exist, then stop it with SIGTERM."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), "serve",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(folder.glob("*.eml"))) < count:
        time.sleep(0.1)
    time.sleep(1.5)  # a tick or two more: nothing further may arrive
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
def test_serve_writes_eml_files_stops_on_sigterm_and_catches_up_after_downtime(
    tmp_path: Path, sqlite_url: str,
) -> None:
    cfg = write_config(tmp_path, sqlite_url, extra=FILE_NOTIFIER)
    engine = clocked_engine(cfg, Clock(D0))
    cid = to_niveau_4(engine)
    engine.db.dispose()
    out = tmp_path / "out"
    first = serve_until(cfg, out, 1, "--now", (D0 + dt.timedelta(days=28)).isoformat() + "T08:00")
    assert first.returncode == 0, first.stderr[-500:]
    assert "Traceback" not in first.stderr
    (eml,) = out.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    # due 19 October by the rule, in the autumn holiday: given as Friday 16 October
    assert cid in str(msg["Subject"]) and "16-10-2026" in str(msg["Subject"])
    # Down from day 28 until day 37: the 3-day reminder (day 36) goes out on the first tick.
    second = serve_until(cfg, out, 2, "--now", (D0 + dt.timedelta(days=37)).isoformat() + "T08:00")
    assert second.returncode == 0
    assert len(list(out.glob("*.eml"))) == 2
    listed = passend(cfg, "reminders", "list")
    assert listed.stdout.count("sent") == 2


@pytest.mark.slow
def test_serve_once_and_due(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url, extra=FILE_NOTIFIER)
    engine = clocked_engine(cfg, Clock(D0))
    to_niveau_4(engine)
    engine.db.dispose()
    moment = (D0 + dt.timedelta(days=28)).isoformat() + "T08:00"
    due = passend(cfg, "reminders", "due", "--now", moment, "--json")
    assert due.returncode == 0
    import json

    (item,) = json.loads(due.stdout)
    assert (item["kind"], item["deadline"], item["outbox"]) == ("reminder", "opp_vaststellen", "new")
    assert not (tmp_path / "out").exists()  # `due` sends nothing
    once = passend(cfg, "serve", "--once", "--now", moment)
    assert once.returncode == 0 and "verstuurd 1" in once.stdout and str(tmp_path / "out") in once.stdout
    assert passend(cfg, "reminders", "due", "--now", moment, "--json").stdout.count('"sent"') == 1


@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url, extra=FILE_NOTIFIER)
    assert passend(cfg, "init").returncode == 0
    r = passend(cfg, "reminders", "due", "--now", "gisteren")
    assert r.returncode == 2 and "--now" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    bad = cfg
    bad.write_text(bad.read_text().replace("tick_seconds = 1", "tick_seconds = 0"))
    r = passend(bad, "reminders", "due")
    assert r.returncode == 2 and "reminders.tick_seconds" in r.stderr
    bad.write_text(bad.read_text().replace('backend = "file"', 'backend = "duif"'))
    bad.write_text(bad.read_text().replace("tick_seconds = 0", "tick_seconds = 1"))
    r = passend(bad, "serve", "--once")
    assert r.returncode == 2 and "notifier.backend" in r.stderr and "Traceback" not in r.stderr


def test_help_is_light() -> None:
    code = ("import sys; from workflow.entrypoints.cli.main import main; main(['--help']); "
            "print([m for m in ('apscheduler', 'holidays', 'sqlalchemy', 'jinja2', 'notifiers') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert "reminders" in r.stdout and "serve" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_a_bad_day_off_stops_the_start_with_file_and_key(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url, extra=FILE_NOTIFIER)
    assert passend(cfg, "init").returncode == 0
    cfg.write_text(cfg.read_text().replace('days_off = ["2026-10-02"]', 'days_off = ["2026-10-32"]'))
    r = passend(cfg, "serve", "--once")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "config.toml, regel 19: schools[0].days_off[0]: '2026-10-32' is geen datum" in r.stderr

"""The mail channel as an operator meets it (issue 15): checked when the service starts; an
outage spends no attempt, however long; a permanent refusal (5xx) fails the message at once with
the server's answer; a restarted service releases the claims its killed run left, instead of
waiting for the lease. Real aiosmtpd servers on loopback, a port with nothing listening, real
processes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write_config
from tests.reminders_support import Clock, Inbox, clocked_engine, free_port, smtp_extra, smtp_server, to_niveau_4
from workflow.adapters.store import outbox
from workflow.bootstrap import reminder_service
from workflow.entrypoints.cli.main import main as cli_main

D0 = dt.date(2026, 9, 7)
DAY = D0 + dt.timedelta(days=28)  # every case's 2-week reminder is due


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    from tests.reminders_support import AMS

    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(dt.UTC)


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> Any:
    from tests.conftest import CliResult

    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def setup(tmp_path: Path, url: str, port: int, cases: int = 3, **settings: Any) -> tuple[Path, Any]:
    cfg = write_config(tmp_path, url, extra=smtp_extra(port, **settings))
    engine = clocked_engine(cfg, Clock(D0))
    for i in range(cases):
        to_niveau_4(engine, pupil=f"LL-{i}")
    return cfg, engine


def statuses(engine: Any) -> list[tuple[str, int]]:
    return sorted((r.status, r.attempts) for r in outbox.rows(engine.db))


# ---- checked at start-up ----------------------------------------------------------------------
def test_a_missing_smtp_password_stops_the_start_not_every_message(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_SMTP_WACHTWOORD", raising=False)
    port = free_port()
    cfg, engine = setup(tmp_path, sqlite_url, port)
    cfg.write_text(cfg.read_text().replace('security = "none"', 'security = "starttls"\nusername = "passend"\n'
                                           'password_env = "PASSEND_SMTP_WACHTWOORD"'))
    for args in (("serve", "--once"), ("reminders", "dispatch", "--once")):
        r = run(capsys, cfg, *args, "--now", DAY.isoformat() + "T09:00")
        assert r.code == 2 and "PASSEND_SMTP_WACHTWOORD" in r.err and "niet gezet" in r.err, r.err
        lines = [line for line in r.err.splitlines() if line.startswith("passend: ")]  # not the log's
        assert len(lines) == 1 and "Traceback" not in r.err
    assert statuses(engine) == []  # nothing planned, so no attempt spent on anything
    # `none` with a login would send the password in plain text: refused, naming the line
    cfg.write_text(cfg.read_text().replace('security = "starttls"', 'security = "none"'))
    r = run(capsys, cfg, "serve", "--once")
    assert r.code == 2 and "notifier.security" in r.err and "onversleuteld" in r.err and "regel" in r.err
    engine.db.dispose()


# ---- an outage spends nothing ------------------------------------------------------------------
def test_nothing_listening_spends_no_attempt_however_long(tmp_path: Path, db_url: str) -> None:
    port = free_port()  # nothing listens here
    _cfg, engine = setup(tmp_path, db_url, port, max_attempts=2)
    service = reminder_service(engine, lambda: at(DAY))
    for _ in range(5):  # five ticks of outage with max_attempts = 2: nothing may fail
        r = service.tick()
        assert (r["sent"], r["retrying"], r["failed"], r["deferred"]) == (0, 0, 0, 3)
    assert statuses(engine) == [("pending", 0)] * 3
    with smtp_server(port) as (_, inbox):
        assert service.tick()["sent"] == 3
    assert len(set(inbox.message_ids())) == 3 and statuses(engine) == [("sent", 1)] * 3
    engine.db.dispose()


class Dropping(Inbox):
    """A server that accepts the connection and the greeting, then drops it at MAIL."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = True

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.drop:
            server.transport.close()
            return "250 OK"
        envelope.mail_from = address
        return "250 OK"


def test_a_server_that_drops_connections_spends_no_attempt(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    _cfg, engine = setup(tmp_path, sqlite_url, port, max_attempts=1)
    service = reminder_service(engine, lambda: at(DAY))
    inbox = Dropping()
    with smtp_server(port, inbox):
        for _ in range(3):
            r = service.tick()
            assert (r["sent"], r["failed"], r["deferred"]) == (0, 0, 3), r
        assert statuses(engine) == [("pending", 0)] * 3
        inbox.drop = False
        assert service.tick()["sent"] == 3
    assert len(inbox.messages()) == 3
    engine.db.dispose()


# ---- a permanent refusal fails at once, with the server's answer --------------------------------
class Refusing(Inbox):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("ib@het-anker"):
            return "554 5.7.1 ontvanger geweigerd door beleid"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_554_fails_the_message_at_once_and_list_failed_says_why(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    cfg, engine = setup(tmp_path, db_url, port, cases=1, max_attempts=8)
    to_niveau_4(engine, pupil="LL-anker", school="het-anker", ib="ib.smit", lk="ib.smit")
    service = reminder_service(engine, lambda: at(DAY))
    with smtp_server(port, Refusing()) as (_, inbox):
        r = service.tick()
        assert (r["sent"], r["failed"], r["retrying"]) == (1, 1, 0)
        assert service.tick()["failed"] == 0  # not tried again
    assert len(inbox.messages()) == 1
    r = run(capsys, cfg, "--json", "reminders", "list", "--failed")
    (row,) = r.json()
    assert row["attempts"] == 1 and row["recipient"] == "ib.smit"
    assert row["last_error"].startswith("SMTP 554 5.7.1 ontvanger geweigerd door beleid bij RCPT aan 127.0.0.1")
    text = run(capsys, cfg, "reminders", "list", "--failed")
    assert text.code == 0 and "554 5.7.1 ontvanger geweigerd door beleid" in text.out
    engine.db.dispose()


class RefusingData(Inbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "554 5.6.0 bericht geweigerd"


def test_a_554_after_data_fails_at_once_too(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    _cfg, engine = setup(tmp_path, sqlite_url, port, cases=2, max_attempts=8)
    service = reminder_service(engine, lambda: at(DAY))
    with smtp_server(port, RefusingData()):
        r = service.tick()
    assert (r["failed"], r["retrying"]) == (2, 0)
    assert statuses(engine) == [("failed", 1)] * 2
    assert all("554 5.6.0 bericht geweigerd bij DATA" in (row.last_error or "") for row in outbox.rows(engine.db))
    engine.db.dispose()


# ---- a restart releases the claims of its killed run --------------------------------------------
CLAIM_AND_DIE = """
import datetime as dt, os, signal, sys
from workflow.bootstrap import bootstrap
engine = bootstrap(sys.argv[1], existing=True)
claim = engine.store.outbox.claim(now=dt.datetime.now(dt.UTC), batch=50, lease=dt.timedelta(seconds=300))
print(len(claim.rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # dies holding the claim, as a service killed mid-send
"""


@pytest.mark.slow
def test_a_restart_sends_the_killed_runs_claims_without_waiting_for_the_lease(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    cfg, engine = setup(tmp_path, sqlite_url, port, lease_seconds=300)
    service = reminder_service(engine, lambda: at(DAY))
    assert service.plan() == 3
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(CLAIM_AND_DIE), str(cfg)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert died.returncode == -signal.SIGKILL and died.stdout.strip() == "3", died.stderr
    assert statuses(engine) == [("sending", 1)] * 3
    # A living service's claims are left alone: a process that still runs holds them.
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        from workflow.adapters.host import this_host

        row = outbox.rows(engine.db)[0]
        with engine.db.begin() as conn:
            conn.execute(outbox.outbox.update().where(outbox.outbox.c.id == row.id).values(claim_pid=alive.pid))
        with smtp_server(port) as (_, inbox):
            r = run(capsys, cfg, "--json", "serve", "--once", "--now", DAY.isoformat() + "T09:00")
            assert r.code == 0, r.err
            assert r.json()["sent"] == 2  # at once: the lease (300 s) has not run out
            assert sorted(s for s, _ in statuses(engine)) == ["sending", "sent", "sent"]
        with engine.db.connect() as conn:
            held = conn.execute(outbox.outbox.select().where(outbox.outbox.c.status == "sending")).one()
        assert (held.claim_host, held.claim_pid) == (this_host(), alive.pid)
    finally:
        alive.kill()
        alive.wait()
    with smtp_server(port) as (_, inbox2):  # that service is gone now too: the next start sends it
        r = run(capsys, cfg, "--json", "reminders", "dispatch", "--once", "--no-plan")
        assert r.code == 0 and r.json()["sent"] == 1
    assert len(inbox.messages()) + len(inbox2.messages()) == 3
    assert statuses(engine) == [("sent", 2)] * 3  # each sent once; the killed attempt counted
    engine.db.dispose()

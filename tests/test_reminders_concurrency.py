"""Two dispatching services, as real OS processes, on one database: each reminder exactly once.

On PostgreSQL (when PASSEND_TEST_POSTGRES_URL is set) a few thousand due reminders; on SQLite,
where one service is the norm, a few hundred, to show a second one causes no duplicates either.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_config
from tests.reminders_support import Inbox, free_port, smtp_extra, smtp_server
from workflow.adapters.store import outbox
from workflow.bootstrap import bootstrap
from workflow.service_layer.reminders.messages import message_id

pytestmark = pytest.mark.slow  # several OS processes on one store


def _due_rows(n: int) -> list[dict]:
    day = dt.date(2026, 10, 5)
    return [
        {
            "key": f"reminder:C-LOAD{i:05d}:opp_vaststellen:e14:2026-10-19:2w:ib.jansen", "kind": "reminder",
            "case_id": f"C-LOAD{i:05d}", "deadline": "opp_vaststellen", "school": "de-linde",
            "recipient": "ib.jansen", "to_addrs": "ib@de-linde.school.example", "send_on": day,
            "due_on": dt.date(2026, 10, 19), "subject": f"[passend] Herinnering voor casus C-LOAD{i:05d}",
            "body_text": "Beste intern begeleider,\n", "body_html": None, "ics": None,
            "message_id": message_id(f"load-{i}", "test.example"),
        }
        for i in range(n)
    ]


def test_two_dispatch_processes_deliver_each_reminder_exactly_once(tmp_path: Path, db_url: str) -> None:
    url = db_url
    count = 3000 if url.startswith("postgresql") else 400  # SQLite queues its writers: fewer
    port = free_port()
    cfg = write_config(tmp_path, url, extra=smtp_extra(port, batch_size=25))
    engine = bootstrap(cfg, create_key=True)
    engine.init()
    now = dt.datetime.now(dt.UTC)
    assert outbox.insert_new(engine.db, _due_rows(count), now) == count
    inbox = Inbox()
    inbox.refuse = 10  # a few transient refusals on the way, retried by whichever process
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), "reminders", "dispatch",
           "--once", "--no-plan", "--json"]
    with smtp_server(port, inbox):
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
        results = [json.loads(o[0]) for o in outs]
        # The refused ones wait for their (zero) backoff; one more round sends them.
        left = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        results.append(json.loads(left.stdout))
    ids = inbox.message_ids()
    assert len(ids) == count, results
    assert len(set(ids)) == count  # nothing twice
    assert sum(r["sent"] for r in results) == count
    assert all(r["sent"] > 0 for r in results[:2]), results  # both processes really took part
    assert outbox.counts(engine.db) == {"sent": count}
    engine.db.dispose()


def test_two_serve_processes_plan_and_send_each_reminder_once(tmp_path: Path, db_url: str) -> None:
    from tests.reminders_support import Clock, clocked_engine, to_niveau_4

    url = db_url
    port = free_port()
    cfg = write_config(tmp_path, url, extra=smtp_extra(port, batch_size=3))
    d0 = dt.date(2026, 9, 7)
    engine = clocked_engine(cfg, Clock(d0))
    cases = [to_niveau_4(engine, pupil=f"LL-{i}") for i in range(12)]
    engine.db.dispose()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    moment = (d0 + dt.timedelta(days=28)).isoformat() + "T08:00"
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), "serve", "--once",
           "--now", moment, "--json"]
    with smtp_server(port) as (_, inbox):
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    results = [json.loads(o[0]) for o in outs]
    assert sum(r["planned"] for r in results) == 12  # each reminder planned by one of the two
    assert sum(r["sent"] for r in results) == 12
    ids = inbox.message_ids()
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sorted(str(m["Subject"]).split("casus ")[1].split()[0] for m in inbox.messages()) == sorted(cases)


def test_two_serve_processes_send_the_day_s_witness_root_once(tmp_path: Path, db_url: str) -> None:
    """`[witness]`: two `serve --once` processes at once, then two more: one root for the day,
    each witness mailed once, whichever process won."""
    from tests.reminders_support import Clock, clocked_engine, to_niveau_4
    from tests.witness_support import PRIVACY, WITNESS, witness_extra

    port = free_port()
    cfg = write_config(tmp_path, db_url, extra=witness_extra(port, batch_size=3))
    d0 = dt.date(2026, 9, 7)
    engine = clocked_engine(cfg, Clock(d0))
    for i in range(5):
        to_niveau_4(engine, pupil=f"LL-{i}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), "serve", "--once",
           "--now", f"{d0.isoformat()}T19:00", "--json"]
    results = []
    with smtp_server(port) as (_, inbox):
        for _round in range(2):
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                     for _ in range(2)]
            outs = [p.communicate(timeout=120) for p in procs]
            assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
            results += [json.loads(o[0]) for o in outs]
    assert sum(r["witness"] for r in results) == 2, results
    assert sorted(str(m["To"]) for m in inbox.messages()) == sorted([WITNESS, PRIVACY])
    assert len(set(inbox.message_ids())) == 2
    with engine.uow(write=False) as uow:
        root = uow.witness.of_day(d0)
        assert root is not None and root.cases == 5
        assert uow.witness.of_day(d0 + dt.timedelta(days=1)) is None
    assert all(root.root in m.get_content() for m in inbox.messages())
    engine.db.dispose()

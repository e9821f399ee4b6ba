"""Reminder dispatch on PostgreSQL with 1 and 2 processes: messages/s and duplicates (must be 0).

An outbox of N pending messages (the planner's row shape, made-up text) on a fresh PostgreSQL
schema, a real SMTP server on loopback (aiosmtpd) counting every Message-ID it receives, and
K `passend reminders dispatch --once --no-plan` processes started together, each claiming
batches with FOR UPDATE SKIP LOCKED until the outbox is empty. Rate = N / wall clock of the
slowest process (start-up included). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import email
import os
import secrets
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import common

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BODY = (
    "Beste intern begeleider,\n\nVoor casus {case} (groep {group}) loopt de termijn 'OPP vastgesteld' "
    "af op {due}. Nog nodig: een OOGO-overleg met ouders, instemming van ouders met het "
    "handelingsdeel, de mening van ouders en van de leerling.\n\nBekijk de casus met: passend case show "
    "{case}\n\nDit bericht is automatisch verstuurd door passend.\n"
)


class Inbox:
    """aiosmtpd handler: counts Message-IDs; nothing is stored but the ids."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, _class=email.message.Message)
        with self.lock:
            self.ids[str(msg.get("Message-ID", ""))] += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill_outbox(engine: Any, run: str, n: int) -> list[str]:
    from workflow.adapters.store import outbox
    from workflow.service_layer.reminders import messages

    now = dt.datetime.now(dt.UTC)
    today = now.date()
    rows, ids = [], []
    for i in range(n):
        key = f"reminder:bench-{run}-{i}:opp_vastgesteld:2026-01-01:2w:ib.000"
        mid = messages.message_id(key, "bench.example")
        ids.append(mid)
        case = f"C-BENCH{i:05d}"
        text = BODY.format(case=case, group=1 + i % 8, due="12 december 2026")
        rows.append({
            "key": key, "kind": "reminder", "case_id": case, "deadline": "opp_vastgesteld",
            "school": "school-000", "recipient": "ib.000", "to_addrs": "ib@school-000.example",
            "send_on": today, "due_on": today + dt.timedelta(days=14),
            "subject": f"Herinnering: OPP vaststellen voor casus {case}", "body_text": text,
            "body_html": "<p>" + text.replace("\n\n", "</p><p>") + "</p>", "ics": None, "message_id": mid,
        })
    inserted = 0
    for i in range(0, n, 1000):
        inserted += outbox.insert_new(engine.db, rows[i:i + 1000], now)
    if inserted != n:
        raise RuntimeError(f"outbox: {inserted} of {n} rows inserted")
    return ids


def run_dispatchers(k: int, env: dict[str, str]) -> tuple[float, list[int]]:
    cmd = [*common.passend_cmd(), "reminders", "dispatch", "--once", "--no-plan", "--json"]
    t = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(k)]
    codes = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"dispatch exited {p.returncode}: {err.decode()[-500:]}")
        codes.append(p.returncode)
    return time.perf_counter() - t, codes


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=3000)
    p.add_argument("--pg-url", default=os.environ.get("PASSEND_TEST_POSTGRES_URL") or DEFAULT_PG)
    p.add_argument("--processes", default="1,2", help="comma-separated process counts to measure")
    args = p.parse_args(argv)
    return common.in_workdir(args, _run)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    import psycopg
    from aiosmtpd.controller import Controller

    base = args.pg_url
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    schema = "bench_" + secrets.token_hex(5)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        server_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-csearch_path%3D{schema}"
        extra = (f'\n[notifier]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                 'from = "passend@bench.example"\n\n[reminders]\nbatch_size = 50\n')
        config = common.write_config(folder, url, extra=extra)
        engine = common.open_engine(config)
        env = {**os.environ, "PASSEND_CONFIG": str(config)}
        env.pop("PASSEND_DATABASE_URL", None)
        runs = []
        for k in (int(x) for x in args.processes.split(",")):
            ids = fill_outbox(engine, f"p{k}", args.messages)
            wall, _ = run_dispatchers(k, env)
            with inbox.lock:
                got = {i: inbox.ids[i] for i in ids}
            runs.append({
                "processes": k, "messages": args.messages, "wall_s": round(wall, 3),
                "messages_per_s": common.rate(args.messages, wall),
                "received": sum(1 for c in got.values() if c > 0),
                "duplicates": sum(c - 1 for c in got.values() if c > 1),
                "missing": sum(1 for c in got.values() if c == 0),
            })
        engine.db.dispose()
    finally:
        controller.stop()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    out: dict[str, Any] = {"bench": "dispatch", "machine": {**common.machine(), "postgresql": server_version},
                           "smtp": "aiosmtpd on 127.0.0.1", "runs": runs}
    if len(runs) >= 2:
        out["speedup_2_vs_1"] = common.ratio(runs[1]["messages_per_s"], runs[0]["messages_per_s"])
    out["duplicates_total"] = sum(r["duplicates"] for r in runs)
    return out

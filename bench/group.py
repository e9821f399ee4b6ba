"""Durable commands per second from 8 concurrent clients through one web app process, with and
without group commit, against the raw single-commit loop (issue 17).

- store: a generated population on SQLite (WAL, synchronous=FULL); the commands are chosen before
  any clock starts (bench.fire.choose_commands: distinct open cases, each allowed now) and dealt
  to the runs, so no two runs touch one case;
- `http_on` / `http_off`: `passend web` as its own process (uvicorn, one worker), `[database]
  group_commit` true / false, and `--clients` threads (8) that each send their share of the
  commands as `POST /api/v1/cases/{id}/steps` with a bearer token (role ib, every school); every
  answer 200 is a command made durable before the answer was sent;
- `inproc_on` / `inproc_off`: the same `--clients` threads calling the service layer
  (`Engine.fire`) in this process, with and without group commit: what the web app's request
  threads do, without HTTP;
- `raw`: a plain sqlite3 loop writing, one BEGIN IMMEDIATE ... COMMIT per command, the very rows
  passend wrote (the event and passend's own projection UPDATE; bench/fire.py's loop), into a
  copy of the store taken before any command: the single-commit floor of this disk.
Runs alternate in rounds so that noise hits them alike; rates are commands / summed wall time.
Afterwards: every command's event is there exactly once (lost, duplicated), the chains verify
and every case replays to its projection. Target (issue 17): `http_on` >= 3x `raw`.
"""

from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import common
from .fire import EVENT_COLUMNS, choose_commands, raw_connection, single_commits
from .web import common_wait

KINDS = ("http_on", "http_off", "inproc_on", "inproc_off")
Command = tuple[str, str, dict[str, str], str, int]  # case, trigger, params, actor, version


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(folder: Path, config: Path, group: bool) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`passend web` on a config of its own (the same store), group commit on or off."""
    port = _port()
    text = config.read_text(encoding="utf-8").replace(
        "[database]\n", f"[database]\ngroup_commit = {'true' if group else 'false'}\n", 1)
    text = re.sub(r'base_url = "[^"]*"', f'base_url = "http://127.0.0.1:{port}"', text)
    own = folder / f"config-{'on' if group else 'off'}.toml"
    own.write_text(text, encoding="utf-8")
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(own)]
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}", own


def _token(config: Path) -> str:
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(config), "--json",
           "token", "add", f"bench-{random.randrange(10**9)}", "--role", "ib", "--school", "*"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    import json

    return str(json.loads(out.stdout)["secret"])


def _in_threads(clients: int, commands: list[Command], one: Any) -> tuple[float, int]:
    """Deal `commands` to `clients` threads, release them together; (wall seconds, failures)."""
    failures = 0
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    shares = [commands[k::clients] for k in range(clients)]

    def client(k: int) -> None:
        nonlocal failures
        state = one(None)
        start.wait()
        for c in shares[k]:
            if not one(state, c):
                with lock:
                    failures += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, failures


def _http(base: str, token: str) -> Any:
    import httpx

    def one(client: Any, c: Command | None = None) -> Any:
        if c is None:
            return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        case_id, trigger, params, _, version = c
        r = client.post(f"/api/v1/cases/{case_id}/steps",
                        json={"trigger": trigger, "expected_version": version, "params": params})
        return r.status_code == 200
    return one


def _inproc(engine: Any) -> Any:
    def one(_state: Any, c: Command | None = None) -> Any:
        if c is None:
            return None
        case_id, trigger, params, actor, version = c
        engine.fire(case_id, trigger, actor=actor, params=params, expected_version=version)
        return True
    return one


def bench(args: Any, folder: Path) -> dict[str, Any]:
    from workflow.adapters.store.eventstore import UPDATED_ON_MOVE, update_case_sql
    from workflow.demo.population import populate

    db = folder / "passend.db"
    config = common.write_config(folder, f"sqlite:///{db}", extra='\n[web]\nbase_url = "http://127.0.0.1:1"\n')
    engine = common.open_engine(config)
    pop = populate(engine, pupils=args.pupils, seed=args.seed)
    chosen = choose_commands(engine, args.fires * len(KINDS), random.Random(args.seed))
    with engine.uow(write=False) as uow:
        versions = {cid: uow.store.load(cid).version for cid, *_ in chosen}
    commands: list[Command] = [(cid, t, p, a, versions[cid]) for cid, t, p, a in chosen]
    per_kind = {k: commands[i::len(KINDS)] for i, k in enumerate(KINDS)}
    token = _token(config)
    engine.db.dispose()
    common.sqlite_checkpoint(db)
    shutil.copyfile(db, folder / "raw.db")
    raw = raw_connection(folder / "raw.db")
    source = raw_connection(db)
    insert_sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
    update_sql = update_case_sql(UPDATED_ON_MOVE)
    last_id = source.execute("SELECT max(id) FROM events").fetchone()[0]

    servers = {k: _server(folder, config, k == "http_on") for k in ("http_on", "http_off")}
    engine = common.open_engine(config)  # after the copy; its own group commit toggled per run
    store = engine.store
    seconds = dict.fromkeys((*KINDS, "raw"), 0.0)
    failed = dict.fromkeys(KINDS, 0)
    raw_rows = 0
    try:
        for _, base, _cfg in servers.values():
            common_wait(base)
        for r in range(args.rounds):
            for kind in KINDS:
                chunk = per_kind[kind][r::args.rounds]
                if kind.startswith("http"):
                    one = _http(servers[kind][1], token)
                else:
                    store.group = None
                    if kind == "inproc_on":
                        store.group_commit()
                    one = _inproc(engine)
                wall, bad = _in_threads(args.clients, chunk, one)
                seconds[kind] += wall
                failed[kind] += bad
            # The rows passend wrote in this round, replayed by the raw loop (one commit each).
            rows = source.execute(f"SELECT {', '.join(EVENT_COLUMNS)}, id FROM events WHERE id > ? ORDER BY id",
                                  (last_id,)).fetchall()
            work = []
            for row in rows:
                case = source.execute(f"SELECT {', '.join(UPDATED_ON_MOVE)} FROM cases WHERE case_id = ?",
                                      (row[0],)).fetchone()
                work.append((tuple(row[:-1]), (*case, row[0], row[1] - 1)))
            last_id = rows[-1][-1] if rows else last_id
            t0 = time.perf_counter()
            single_commits(raw, work, insert_sql, update_sql)
            seconds["raw"] += time.perf_counter() - t0
            raw_rows += len(work)
    finally:
        for proc, _base, _cfg in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    checks = _check(engine, source, commands, failed)
    engine.db.dispose()
    raw.close()
    source.close()
    n = args.fires
    rates = {k: common.rate(n - failed[k], seconds[k]) for k in KINDS}
    rates["raw"] = common.rate(raw_rows, seconds["raw"])
    return {
        "bench": "group", "machine": common.machine(),
        "store": {"pupils": pop.pupils, "events": pop.events},
        "clients": args.clients, "commands_per_run": n, "rounds": args.rounds,
        "per_s": rates, "failed": failed,
        "http_on_vs_raw": common.ratio(rates["http_on"], rates["raw"]),
        "http_on_vs_http_off": common.ratio(rates["http_on"], rates["http_off"]),
        "inproc_on_vs_raw": common.ratio(rates["inproc_on"], rates["raw"]),
        "inproc_on_vs_inproc_off": common.ratio(rates["inproc_on"], rates["inproc_off"]),
        "target_http_on_vs_raw": 3.0, **checks,
    }


def _check(engine: Any, source: Any, commands: list[Command], failed: dict[str, int]) -> dict[str, Any]:
    """Every command done is stored once; the chains verify; every case replays to its projection."""
    from workflow.service_layer.audit.replay import replay_all
    from workflow.service_layer.audit.verify import verify

    lost = duplicated = 0
    for case_id, _trigger, _p, _a, version in commands:
        got = source.execute("SELECT count(*) FROM events WHERE case_id = ? AND seq = ? AND type = 'transitioned'",
                             (case_id, version + 1)).fetchone()[0]
        beyond = source.execute("SELECT count(*) FROM events WHERE case_id = ? AND seq > ?",
                                (case_id, version + 1)).fetchone()[0]
        lost += got == 0
        duplicated += beyond
    with engine.uow(write=False) as uow:
        report = verify(uow)
    replay_bad = sum(1 for r in replay_all(engine, actor="auditor") if not r.ok)
    return {"lost": lost - sum(failed.values()), "duplicated": duplicated, "chains_ok": report.ok,
            "replay_mismatches": replay_bad}


def main(argv: list[str]) -> dict[str, Any]:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--pupils", type=int, default=3000)
    ap.add_argument("--fires", type=int, default=400, help="commands per run kind")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    for name in ("pupils", "fires", "clients", "rounds"):
        if getattr(args, name) < 1:
            from workflow.domain.errors import BadInput

            raise BadInput(f"--{name}: ten minste 1")
    return common.in_workdir(args, bench)

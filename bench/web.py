"""The web app's pages under load: p50 and p95 latency of the case page, the caseload (filtered)
and Mijn werk at a region's size, with 20 concurrent clients, beside a static file from the same
server in the same run.

- store: `--pupils` generated cases (default 100 000) over `--schools` schools (12), built once
  (`--dir D --keep`, later `--reuse`);
- server: `passend web` as its own process (uvicorn, one worker) on a loopback port;
- clients: `--clients` threads (20), each with the session of the IB of the first school (signed
  in by a real link and a real TOTP code), each sending `--requests` requests per kind, kinds in
  alternating rounds so that noise hits them alike: `static` (/static/passend.css), `case` (a
  case page of the IB's school, a different case each time: every view also writes an access
  record, NEN 7513, which on SQLite is one durable write each), `caseload` (Leerlingen, filtered
  five ways: overdue, level and group, a state, a pupil reference, and a second page), `work`
  (Mijn werk); `--kinds` runs some of them alone (`--kinds case`: the case page only).

The clients are Python threads in one process (httpx), on the same two cores as the server, each
with its own connection for the whole run, as a browser keeps one: `cpu_s` in the JSON line says
what they and the server spent.

Targets (issue 12 and 17): case page p95 < 150 ms and <= 3x the static file's p95; the filtered
caseload page p95 < 150 ms. The JSON line: `store`, per kind `p50_ms`, `p95_ms`, `n`, `errors`,
the ratios `case_p95_vs_static`, `cpu_s` (the clients' and the server's), and `targets`.
"""

from __future__ import annotations

import random
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import common

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OTPAUTH = re.compile(r'href="(otpauth://[^"]+)"')


def build(folder: Path, pupils: int, schools: int, port: int, reuse: bool) -> Path:
    config = folder / "config.toml"
    if reuse and config.exists():
        return config
    common.write_config(folder, f"sqlite:///{folder / 'passend.db'}", schools=schools,
                        extra=f'\n[web]\nbase_url = "http://127.0.0.1:{port}"\n'
                              f'\n[notifier]\nbackend = "file"\nfolder = "{folder / "outbox"}"\n')
    from workflow.bootstrap import bootstrap
    from workflow.demo.population import populate

    engine = bootstrap(config, create_key=True)
    engine.init()
    populate(engine, pupils=pupils, seed=12)
    engine.store.dispose()
    return config


def sign_in(engine: Any, base: str, user_id: str) -> Any:
    """A real session for `user_id`: a link from the link service, used over HTTP, then a code."""
    from urllib.parse import parse_qs, urlsplit

    import httpx
    import pyotp

    from workflow.service_layer.signin.links import Links

    user = engine.config.users[user_id]
    with engine.db.begin() as conn:  # runs one after another ask for more links than a person may
        conn.exec_driver_sql("DELETE FROM signin_throttle")
    issued = Links(engine).request(user.email, ip="bench")
    assert issued is not None, "no link for the bench user"
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get(f"/inloggen/link/{issued.token}")
    client.post(f"/inloggen/link/{issued.token}", data={"csrf": CSRF.search(page.text).group(1)})  # type: ignore[union-attr]
    page = client.get("/inloggen/code")
    found = OTPAUTH.search(page.text)
    assert found, "the bench user has an authenticator app already (use a fresh store)"
    secret = parse_qs(urlsplit(found.group(1).replace("&amp;", "&")).query)["secret"][0]
    r = client.post("/inloggen/code", data={"code": pyotp.TOTP(secret).now(),
                                            "csrf": CSRF.search(page.text).group(1)})  # type: ignore[union-attr]
    assert r.status_code in (200, 303) and "Mijn werk" in client.get("/").text, "sign-in failed"
    return client


def urls(engine: Any, school: str, rng: random.Random) -> dict[str, list[str]]:
    from workflow.service_layer import worklist

    with engine.uow(write=False) as uow:
        rows = [p for p in uow.cases.projections([school])]
    open_ids = [p.case_id for p in rows if p.closed_at is None]
    rng.shuffle(open_ids)
    first = worklist.caseload(engine, actor="auditor", school=school)
    return {
        "static": ["/static/passend.css"],
        "case": [f"/casus/{cid}" for cid in open_ids[:400]],
        "caseload": ["/leerlingen?termijn=overdue", "/leerlingen?niveau=3&groep=5",
                     "/leerlingen?status=opp_vastgesteld", "/leerlingen?leerling=DEMO-NIETBEKEND",
                     f"/leerlingen?na={first.next}" if first.next else "/leerlingen?groep=2"],
        "work": ["/"],
    }


def open_clients(base: str, cookies: Any, clients: int) -> list[Any]:
    """One HTTP client a person, kept for the whole run as a browser keeps its connection (a new
    client a round made each round start with twenty TLS contexts built and twenty connections
    opened at once, which the first requests of the round waited for)."""
    import httpx

    return [httpx.Client(base_url=base, cookies=cookies, timeout=60) for _ in range(clients)]


def run_clients(sessions: list[Any], paths: list[str], requests: int) -> tuple[list[float], int]:
    times: list[float] = []
    errors = 0
    lock = threading.Lock()
    start = threading.Barrier(len(sessions))

    def client(k: int) -> None:
        nonlocal errors
        c = sessions[k]
        start.wait()
        for i in range(requests):
            path = paths[(k * requests + i) % len(paths)]
            t = time.perf_counter()
            r = c.get(path)
            dt_ms = (time.perf_counter() - t) * 1000
            with lock:
                times.append(dt_ms)
                if r.status_code != 200:
                    errors += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def p(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1], 1) if len(values) > 1 else round(values[0], 1)


def bench(args: Any, folder: Path) -> dict[str, Any]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = build(folder, args.pupils, args.schools, port, args.reuse)
    text = config.read_text(encoding="utf-8")
    # `[database] group_commit` as asked (workflow.adapters.store.group): on, the default; off, as before it.
    text = re.sub(r"\ngroup_commit = \w+\n", "\n", text).replace(
        "[database]\n", f"[database]\ngroup_commit = {'true' if args.group_commit == 'on' else 'false'}\n", 1)
    config.write_text(text, encoding="utf-8")
    port = int(re.search(r'base_url = "http://127\.0\.0\.1:(\d+)"', text).group(1))  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    from workflow.bootstrap import bootstrap

    engine = bootstrap(config)
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(config)]
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        common_wait(base)
        # A reused store: the bench user sets up its authenticator app afresh.
        reset = subprocess.run([*cmd, "user", "reset-code", "ib.000"], capture_output=True)
        assert reset.returncode == 0, reset.stderr
        session = sign_in(engine, base, "ib.000")
        rng = random.Random(3)
        kinds = {k: v for k, v in urls(engine, "school-000", rng).items() if k in args.kinds}
        for path in {u for v in kinds.values() for u in v[:5]}:  # warm up: imports, caches, connections
            session.get(path)
        clients = open_clients(base, session.cookies, args.clients)
        # Each person's connection opened and every kind asked once through it before the first
        # round: with --workers N the connections land on all N processes, and each compiles its
        # templates and imports what a page needs on its first pages, which a long-running
        # server did long before (the sign-in's warm-up above reaches one process only).
        for k, c in enumerate(clients):
            for paths in kinds.values():
                c.get(paths[k % len(paths)])
        me = resource.getrusage(resource.RUSAGE_SELF)
        result: dict[str, list[float]] = {k: [] for k in kinds}
        errors = dict.fromkeys(kinds, 0)
        for _ in range(args.rounds):
            for kind, paths in kinds.items():
                t, e = run_clients(clients, paths, args.requests)
                result[kind] += t
                errors[kind] += e
        mine = resource.getrusage(resource.RUSAGE_SELF)
        for c in clients:
            c.close()
        with engine.uow(write=False) as uow:
            cases = sum(1 for _ in uow.cases.projections(None))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        engine.store.dispose()
    server = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server's whole life, start included
    out: dict[str, Any] = {"store": {"cases": cases, "schools": args.schools,
                                     "sqlite_mb": round((folder / "passend.db").stat().st_size / 2**20, 1)},
                           "clients": args.clients, "workers": args.workers, "group_commit": args.group_commit,
                           # CPU seconds: the client threads' during the measured rounds; the server
                           # process's (and its workers') over its whole run, start-up included
                           "cpu_s": {"clients": round(mine.ru_utime + mine.ru_stime - me.ru_utime - me.ru_stime, 1),
                                     "server": round(server.ru_utime + server.ru_stime, 1)}}
    for kind, times in result.items():
        out[kind] = {"p50_ms": p(times, 50), "p95_ms": p(times, 95), "n": len(times), "errors": errors[kind]}
    if "case" in out and "static" in out:
        out["case_p95_vs_static"] = round(out["case"]["p95_ms"] / max(out["static"]["p95_ms"], 0.1), 2)
    out["targets"] = {"case_p95_ms": 150, "case_p95_vs_static": 3.0, "caseload_p95_ms": 150}
    return out


def common_wait(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/gezond", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("passend web did not start")


def main(argv: list[str]) -> dict[str, Any]:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--pupils", type=int, default=100_000)
    ap.add_argument("--schools", type=int, default=12)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1, help="passend web --workers")
    ap.add_argument("--requests", type=int, default=10, help="per client, per kind, per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="use the store an earlier run left in --dir")
    ap.add_argument("--kinds", default="static,case,caseload,work",
                    help="which kinds to run, comma-separated (the JSON line has those alone)")
    ap.add_argument("--group-commit", choices=("on", "off"), default="on",
                    help="[database] group_commit of the server (off: one commit per command, as before)")
    args = ap.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(args.kinds) - {"static", "case", "caseload", "work"}
    if unknown or not args.kinds:
        from workflow.domain.errors import BadInput

        raise BadInput(f"--kinds: kies uit static, case, caseload, work (niet: {', '.join(sorted(unknown)) or 'geen'})")
    figures = common.in_workdir(args, bench)
    return {"bench": "web", "machine": common.machine(), **figures}

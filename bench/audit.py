"""`audit verify`, `audit replay --all` and `audit compliance`: events per second over a large store, and peak RSS.

- passend: the real commands, each a fresh `passend` process (start-up included), timed by wall
  clock; peak RSS from wait4. Replay is measured when `passend audit replay` exists. Compliance
  (`--json`, every case judged, the report streamed to a file) has no peer: it is here for its
  memory, which must not grow with the store.
- raw: a plain sqlite3 loop that reads every event row in (case, seq) order and SHA-256s the
  stored columns, checking only the prev-hash link: the floor of "read and hash everything".
- peer: the `eventsourcing` library replaying every aggregate of the same cases
  (`repository.get` per case) from its own SQLite file.

Targets (issue 5): verify >= 100k events/s and >= 4x the peer's replay; both under 150 MB RSS.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from . import common


def raw_read_and_hash(db: Path) -> tuple[int, float]:
    """Every event row, hashed as stored; returns (events, seconds)."""
    t = time.perf_counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cur = conn.execute(
        "SELECT case_id, seq, type, process_id, process_version, actor, role, recorded_at, payload,"
        " prev_hash, hash FROM events ORDER BY case_id, seq"
    )
    n = 0
    prev_case, prev_hash = None, ""
    sha = hashlib.sha256
    while rows := cur.fetchmany(10_000):
        for cid, seq, typ, pid, pver, actor, role, at, payload, prev, _h in rows:
            if cid == prev_case and prev != prev_hash:
                raise RuntimeError(f"raw loop: broken link in {cid} at {seq}")
            sha(f"{cid}|{seq}|{typ}|{pid}|{pver}|{actor}|{role}|{at}|{prev}|{payload}".encode()).hexdigest()
            prev_case, prev_hash = cid, _h
            n += 1
    conn.close()
    return n, time.perf_counter() - t


def peer_replay(folder: Path, case_ids: list[str]) -> tuple[int, float]:
    from . import peer

    app = peer.open_peer(folder / "peer.db")
    t = time.perf_counter()
    n = 0
    for cid in case_ids:
        agg = app.repository.get(peer.peer_id(cid))
        n += agg.version
    seconds = time.perf_counter() - t
    app.close()
    return n, seconds


def _replayed_cases(report: Path) -> int:
    """The case count at the end of replay's streamed JSON report (read from its tail only)."""
    import re

    with open(report, "rb") as f:
        f.seek(max(0, report.stat().st_size - 4096))
        tail = f.read().decode("utf-8", errors="replace")
    m = re.search(r'"count":\s*(\d+),\s*"ok":\s*true', tail)
    if m is None:
        raise RuntimeError(f"audit replay --all: no 'ok' summary at the end of {report}")
    return int(m.group(1))


def _judged_cases(report: Path) -> int:
    """The cases in compliance's streamed JSON report: one line each, counted without parsing it whole."""
    with open(report, "rb") as f:
        return sum(1 for line in f if line.startswith((b'{"case_id"', b',{"case_id"')))


def has_command(cmd: list[str], env: dict[str, str]) -> bool:
    import subprocess

    return subprocess.run([*cmd, "--help"], env=env, capture_output=True).returncode == 0


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=165_000,
                   help="generated cases (about 6 events each: 165k gives about 1M events)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--reuse", action="store_true",
                   help="use the stores already in --dir (made by an earlier run with --keep)")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--rounds", type=int, default=1, help="repeat the four measurements, alternating")
    args = p.parse_args(argv)
    return common.in_workdir(args, _run)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    db = folder / "passend.db"
    config = folder / "config.toml"
    build: dict[str, Any] = {}
    if args.reuse and db.exists():
        common.open_engine(config).db.dispose()  # bring a kept store up to the current schema
    else:
        from workflow.demo.population import populate

        for f in folder.glob("*.db*"):
            f.unlink()
        engine = common.open_engine(common.write_config(folder, f"sqlite:///{db}"))
        pop = populate(engine, pupils=args.pupils, seed=args.seed, batch=5000)
        build["populate_events_per_s"] = pop.as_dict()["events_per_s"]
        if not args.no_peer:
            from . import fire, peer

            app = peer.open_peer(folder / "peer.db")
            t = time.perf_counter()
            n = peer.mirror(app, fire.histories(engine), batch=2000)
            build["peer_write_events_per_s"] = common.rate(n, time.perf_counter() - t)
            app.close()
        engine.db.dispose()
        common.sqlite_checkpoint(db)
    with sqlite3.connect(db) as conn:
        n_events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        case_ids = [r[0] for r in conn.execute("SELECT case_id FROM cases ORDER BY case_id")]

    env = {**os.environ, "PASSEND_CONFIG": str(config)}
    env.pop("PASSEND_DATABASE_URL", None)
    passend = common.passend_cmd()
    out: dict[str, Any] = {"bench": "audit", "machine": common.machine(),
                           "store": {"cases": len(case_ids), "events": n_events,
                                     "sqlite_mb": round(db.stat().st_size / 2**20, 1)},
                           "build": build}

    has_replay = has_command([*passend, "audit", "replay"], env)
    peer_ok = not args.no_peer and (folder / "peer.db").exists()
    # Each round runs all four one after another; totals over the rounds even out some drift.
    secs = {"verify": 0.0, "replay": 0.0, "raw": 0.0, "peer": 0.0, "compliance": 0.0}
    rss = {"verify": 0.0, "replay": 0.0, "compliance": 0.0}
    own_timer: list[Any] = []
    replayed = judged = n_raw = n_peer = 0

    def measured(command: str, options: list[str], count: Any) -> int:
        """`passend audit COMMAND OPTIONS` timed, with its peak RSS; `count` reads its report."""
        report = folder / f"{command}.json"
        run = common.run_measured([*passend, "audit", command, *options], env=env, stdout=report)
        if run["exit_code"] != 0:
            raise RuntimeError(f"audit {command} failed: {run}")
        secs[command] += run["seconds"]
        rss[command] = max(rss[command], run["peak_rss_mb"])
        return int(count(report))

    for _ in range(args.rounds):
        verify = common.run_measured([*passend, "audit", "verify", "--json"], env=env,
                                     stdout=folder / "verify.json")
        report = json.loads((folder / "verify.json").read_text())
        if verify["exit_code"] != 0 or not report.get("ok") or report["events"] != n_events:
            raise RuntimeError(f"audit verify failed: {verify} {str(report)[:500]}")
        secs["verify"] += verify["seconds"]
        rss["verify"] = max(rss["verify"], verify["peak_rss_mb"])
        own_timer.append(report.get("events_per_second"))
        n_raw, s = raw_read_and_hash(db)
        secs["raw"] += s
        if peer_ok:
            n_peer, s = peer_replay(folder, case_ids)
            secs["peer"] += s
        if has_replay:
            replayed = measured("replay", ["--all", "--json"], _replayed_cases)
        judged = measured("compliance", ["--json"], _judged_cases)
    r = args.rounds
    out["rounds"] = r
    out["verify"] = {
        "events": n_events, "wall_s": round(secs["verify"] / r, 3),
        "events_per_s": common.rate(n_events * r, secs["verify"]),
        "events_per_s_own_timer": own_timer, "peak_rss_mb": rss["verify"],
    }
    out["replay"] = {
        "cases": replayed, "events": n_events, "wall_s": round(secs["replay"] / r, 3),
        "events_per_s": common.rate(n_events * r, secs["replay"]), "peak_rss_mb": rss["replay"],
    } if has_replay else None
    out["compliance"] = {
        "cases": judged, "events": n_events, "wall_s": round(secs["compliance"] / r, 3),
        "events_per_s": common.rate(n_events * r, secs["compliance"]), "peak_rss_mb": rss["compliance"],
    }
    out["raw_read_hash"] = {"events": n_raw, "events_per_s": common.rate(n_raw * r, secs["raw"])}
    v = out["verify"]["events_per_s"]
    out["verify_vs_raw"] = common.ratio(v, out["raw_read_hash"]["events_per_s"])
    if peer_ok:
        out["peer_replay"] = {"events": n_peer, "events_per_s": common.rate(n_peer * r, secs["peer"])}
        out["verify_vs_peer"] = common.ratio(v, out["peer_replay"]["events_per_s"])
        if out["replay"]:
            out["replay_vs_peer"] = common.ratio(out["replay"]["events_per_s"],
                                                 out["peer_replay"]["events_per_s"])
    out["targets"] = {"verify_events_per_s": 100_000, "verify_vs_peer": 4.0, "peak_rss_mb_max": 150}
    return out

"""`passend reminders due` over a large store, against the planner's indexed scan in the same run.

`reminders due` lists what is due now, planned or not (Planner.listed_chunks): it folds the cases
of the tick's due-work scan (`next_action_on`, `planned_on`: an index range) and those with a
planned reminder or escalation whose window may still be open, not every open case.

- a store of `--pupils` pupils (about as many cases), every open case to be looked at now, then
  one tick at T1 (08:00 on the next weekday; `serve --once` as its own process), as a service
  that runs every day would have done;
- at T2 = T1 + 7 days, 10:00 (a week of reminders come due, after digest_time), alternated
  `--rounds` times in this process:
  - `due`: what the command does, in process (Planner.listed_chunks and the outbox's status of
    each item), the digests included;
  - `tick`: the planner's indexed work of a tick at T2 with the digest off (Planner.work: the
    scan, folding and planning the cases it found), and `scan`: the scan's pages alone;
- `due_cli`: `passend reminders due --now T2 --json` as its own process (start-up included), once;
- `full`: the old way, every open case folded (Planner.due_chunks), once, unless `--no-full`;
  its items must be exactly `due`'s.

The JSON line: `store`, `t1`, `t2`, `due_items` (by kind), `due_ms`, `tick_ms`, `scan_ms`,
`due_vs_tick` (tick_ms / due_ms: 0.5 is twice as slow as the tick), `due_cli_s`, `full_ms`,
`full_vs_due`, `same_as_full`, `targets`.

Targets (issue 17): `reminders due` at 100k cases < 1 s, and no slower than 2x the planner's
indexed scan (due_vs_tick >= 0.5).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from . import common
from .planner import NOTIFIER, next_school_morning, outbox_table, planner_tz, serve_once, tick_scan


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-full", action="store_true", help="skip the old full fold (slow at 100k)")
    p.add_argument("--reuse", action="store_true", help="use the store already in --dir")
    args = p.parse_args(argv)
    return common.in_workdir(args, _run)


def _listed(service: Any, now: dt.datetime) -> list[dict[str, Any]]:
    """What `reminders due --json` prints, built the way the command builds it."""
    outbox = service.engine.store.outbox
    rows: list[dict[str, Any]] = []
    for chunk in service.planner().listed_chunks(now):
        have = outbox.existing_keys([i.key for i in chunk])
        rows.extend({**i.summary(), "outbox": have.get(i.key, "new")} for i in chunk)
    return rows


def _run(args: Any, folder: Path) -> dict[str, Any]:
    from workflow.bootstrap import reminder_service
    from workflow.demo.population import populate
    from workflow.service_layer.reminders.planner import Planner

    db = folder / "passend.db"
    config = common.write_config(folder, f"sqlite:///{db}", extra=NOTIFIER.format(folder=folder / "outbox"))
    engine = common.open_engine(config)
    if not (args.reuse and engine.list_cases(actor="auditor")[:1]):
        populate(engine, pupils=args.pupils, seed=args.seed, batch=5000)
    with sqlite3.connect(db) as conn:
        n_cases, n_open = conn.execute("SELECT count(*), sum(closed_at IS NULL) FROM cases").fetchone()
        conn.execute(f"DELETE FROM {outbox_table()}")
        conn.execute("UPDATE cases SET next_action_on = '1970-01-01', planned_on = NULL WHERE closed_at IS NULL")
    engine.db.dispose()
    t1 = next_school_morning(engine.clock())
    t2 = t1 + dt.timedelta(days=7, hours=2)
    cold = serve_once(config, folder, t1, "cold")
    service = reminder_service(engine, lambda: t2)
    tick_planner = Planner(engine, dataclasses.replace(service.settings, digest=False))
    today = t2.astimezone(planner_tz()).date()
    due = common.Stopwatch()
    tick = common.Stopwatch()
    scan = common.Stopwatch()
    rows: list[dict[str, Any]] = []
    folded = 0
    for _ in range(args.rounds):
        with due:
            rows = _listed(service, t2)
        with tick:
            folded = tick_planner.work(t2).folded
        with scan:
            tick_scan(engine, today)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    env = {**os.environ, "PASSEND_CONFIG": str(config)}
    env.pop("PASSEND_DATABASE_URL", None)
    cli = common.run_measured([*common.passend_cmd(), "--json", "reminders", "due", "--now",
                               t2.astimezone(planner_tz()).strftime("%Y-%m-%dT%H:%M")],
                              env=env, stdout=folder / "due.json")
    if cli["exit_code"] != 0:
        raise RuntimeError(f"reminders due failed: {cli}")
    out: dict[str, Any] = {
        "bench": "due", "machine": common.machine(),
        "store": {"cases": n_cases, "open_cases": n_open, "sqlite_mb": round(db.stat().st_size / 2**20, 1)},
        "t1": t1.isoformat(), "t2": t2.isoformat(), "cold_serve_once_s": cold["wall_s"],
        "due_items": kinds, "tick_folded": folded,
        "due_ms": round(due.seconds / args.rounds * 1000, 1),
        "tick_ms": round(tick.seconds / args.rounds * 1000, 1),
        "scan_ms": round(scan.seconds / args.rounds * 1000, 1),
        "due_vs_tick": common.ratio(tick.seconds, due.seconds),
        "due_cli_s": cli["seconds"], "due_cli_peak_rss_mb": cli["peak_rss_mb"],
    }
    if not args.no_full:
        t = time.perf_counter()
        full = [i.summary() for chunk in service.planner().due_chunks(t2) for i in chunk]
        seconds = time.perf_counter() - t
        out.update({"full_ms": round(seconds * 1000, 1), "full_vs_due": common.ratio(seconds * args.rounds,
                                                                                      due.seconds),
                    "same_as_full": full == [{k: v for k, v in r.items() if k != "outbox"} for r in rows]})
        if not out["same_as_full"]:
            raise RuntimeError("reminders due lists other items than the full fold")
    engine.db.dispose()
    out["targets"] = {"due_cli_s_max": 1.0, "due_vs_tick_min": 0.5}
    return out

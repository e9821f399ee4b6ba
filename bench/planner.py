"""The reminder planner's due-work scan over a large store, and the peak RSS of a serve tick.

- passend: `Planner.due(now)` (what every `passend serve` tick runs before rendering): every
  open case folded from its events, its running deadlines computed, reminder days moved onto
  school days.
- bare: the same SQL the planner streams (the events of every open case, in case order, through
  the (case_id, seq) index) executed with plain sqlite3 and fetched to the end, with no Python
  work per row: the floor of this design.
- memory: `passend serve --once --now T` (plan, render, send to .eml files) as its own process,
  peak RSS from wait4.

Targets (issue 5): scan < 200 ms over 1M cases and >= 0.5x the bare query; serve < 150 MB.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from . import common

NOTIFIER = '\n[notifier]\nbackend = "file"\nfolder = "{folder}"\nfrom = "passend@bench.example"\n'
BARE_SQL = (
    "SELECT e.case_id, e.seq, e.type, e.process_id, e.process_version, e.actor, e.role,"
    " e.recorded_at, e.payload, e.prev_hash, e.hash FROM events e JOIN cases c ON c.case_id = e.case_id"
    " WHERE c.closed_at IS NULL ORDER BY e.case_id, e.seq"
)


def next_school_morning(now: dt.datetime) -> dt.datetime:
    """08:00 school time on the next weekday after `now`: a tick that plans reminders and digests."""
    from workflow.clock import SCHOOL_TZ

    day = now.astimezone(SCHOOL_TZ).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8, 0), SCHOOL_TZ)


def bare_scan(db: Path) -> tuple[int, float]:
    t = time.perf_counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = 0
    cur = conn.execute(BARE_SQL)
    while rows := cur.fetchmany(10_000):
        n += len(rows)
    conn.close()
    return n, time.perf_counter() - t


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--reuse", action="store_true", help="use the store already in --dir")
    p.add_argument("--no-serve", action="store_true", help="skip the serve --once memory run")
    args = p.parse_args(argv)
    folder = common.workdir(args.dir)
    try:
        return _run(args, folder)
    finally:
        common.cleanup(folder, args.keep, args.dir)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    from workflow.population import populate

    db = folder / "passend.db"
    extra = NOTIFIER.format(folder=folder / "outbox")
    config = common.write_config(folder, f"sqlite:///{db}", extra=extra)
    engine = common.open_engine(config)
    build: dict[str, Any] = {}
    if not (args.reuse and db.exists() and engine.list_cases(actor="auditor")[:1]):
        pop = populate(engine, pupils=args.pupils, seed=args.seed, batch=5000)
        build = {"populate_events_per_s": pop.as_dict()["events_per_s"], "seconds": round(pop.seconds, 1)}
    with sqlite3.connect(db) as conn:
        n_cases, n_open = conn.execute(
            "SELECT count(*), sum(closed_at IS NULL) FROM cases").fetchone()
        n_events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    from workflow.reminders.bootstrap import ReminderService

    now = next_school_morning(engine.clock())
    planner = ReminderService.from_engine(engine).planner()
    # Alternate the two, twice, so drift on the machine hits both.
    t_plan = t_bare = 0.0
    bare_rows = 0
    due: list[Any] = []
    for _ in range(2):
        t = time.perf_counter()
        due = planner.due(now)
        t_plan += time.perf_counter() - t
        bare_rows, s = bare_scan(db)
        t_bare += s
    kinds: dict[str, int] = {}
    for item in due:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    out: dict[str, Any] = {
        "bench": "planner", "machine": common.machine(),
        "store": {"cases": n_cases, "open_cases": n_open, "events": n_events,
                  "sqlite_mb": round(db.stat().st_size / 2**20, 1)},
        "build": build, "now": now.isoformat(), "due": kinds,
        "scan_ms": round(t_plan / 2 * 1000, 1), "bare_query_ms": round(t_bare / 2 * 1000, 1),
        "bare_rows": bare_rows,
        "scan_vs_bare": common.ratio(t_bare, t_plan),
        "open_cases_per_s": common.rate(n_open * 2, t_plan),
    }
    engine.db.dispose()
    if not args.no_serve:
        env = {**os.environ, "PASSEND_CONFIG": str(config)}
        env.pop("PASSEND_DATABASE_URL", None)
        serve = common.run_measured([*common.passend_cmd(), "serve", "--once", "--now",
                                     now.strftime("%Y-%m-%dT%H:%M"), "--json"], env=env,
                                    stdout=folder / "serve.json")
        if serve["exit_code"] != 0:
            raise RuntimeError(f"serve --once failed: {serve}")
        import json

        out["serve_once"] = {"wall_s": serve["seconds"], "peak_rss_mb": serve["peak_rss_mb"],
                             **json.loads((folder / "serve.json").read_text())}
    out["targets"] = {"scan_ms_max": 200, "scan_vs_bare_min": 0.5, "peak_rss_mb_max": 150}
    return out

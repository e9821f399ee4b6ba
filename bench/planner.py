"""The reminder planner over a large store: the due-work scan of a tick, and serve's peak RSS.

A tick (`Planner.work`) does not fold every open case: the `cases` row carries the day each case
next needs the planner (`next_action_on`, `planned_on`; workflow/reminders/work.py), and a tick
folds only the cases whose day has come. Every write (and a bulk import) sets that day to
"now", so the first tick after loading a store folds everything once.

- cold: `passend serve --once --now T1` (T1 = 08:00 school time on the next weekday) as its own
  process: the first tick folds every open case, plans reminders, escalations and the IBs'
  digests, sends them to .eml files, and stores each case's next action day. Wall time, peak RSS.
- scan: at T2 = T1 + 7 days, 10:00 (a week of reminders has come due), `due_case_ids` (the two
  index ranges a tick reads) against the same two queries run with plain sqlite3: the bare
  indexed SQL. Alternated 3 times.
- tick: `Planner.work(T2)` with the digest off: the scan plus folding and planning the cases it
  found, which is what every tick but the day's first digest tick does.
- digest day: `passend serve --once --now T2` as its own process: the first tick of that day,
  which gathers the IBs' digests and so folds every open case again. Wall time, peak RSS.

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
# The two index ranges of a tick (closed cases carry NULL in both columns).
BARE_SQL = (
    "SELECT case_id FROM cases WHERE next_action_on <= ?",
    "SELECT case_id FROM cases WHERE planned_on > ?",
)


def next_school_morning(now: dt.datetime) -> dt.datetime:
    """08:00 school time on the next weekday after `now`: a tick that plans reminders and digests."""
    from workflow.clock import SCHOOL_TZ

    day = now.astimezone(SCHOOL_TZ).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8, 0), SCHOOL_TZ)


def bare_scan(db: Path, today: dt.date) -> tuple[int, float]:
    """The two index ranges of a tick, with plain sqlite3 (dates are stored as ISO text)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    t = time.perf_counter()
    ids: set[str] = set()
    for sql in BARE_SQL:
        ids.update(r[0] for r in conn.execute(sql, (today.isoformat(),)))
    found = sorted(ids)
    seconds = time.perf_counter() - t
    conn.close()
    return len(found), seconds


def serve_once(config: Path, folder: Path, now: dt.datetime, name: str) -> dict[str, Any]:
    import json

    env = {**os.environ, "PASSEND_CONFIG": str(config)}
    env.pop("PASSEND_DATABASE_URL", None)
    run = common.run_measured([*common.passend_cmd(), "serve", "--once", "--now",
                               now.strftime("%Y-%m-%dT%H:%M"), "--json"], env=env,
                              stdout=folder / f"{name}.json")
    if run["exit_code"] != 0:
        raise RuntimeError(f"serve --once failed: {run}")
    return {"wall_s": run["seconds"], "peak_rss_mb": run["peak_rss_mb"],
            **json.loads((folder / f"{name}.json").read_text())}


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--reuse", action="store_true", help="use the store already in --dir")
    args = p.parse_args(argv)
    return common.in_workdir(args, _run)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    from workflow.population import populate

    db = folder / "passend.db"
    config = common.write_config(folder, f"sqlite:///{db}", extra=NOTIFIER.format(folder=folder / "outbox"))
    engine = common.open_engine(config)
    build: dict[str, Any] = {}
    if not (args.reuse and engine.list_cases(actor="auditor")[:1]):
        pop = populate(engine, pupils=args.pupils, seed=args.seed, batch=5000)
        build = {"populate_events_per_s": pop.as_dict()["events_per_s"], "seconds": round(pop.seconds, 1)}
    with sqlite3.connect(db) as conn:
        n_cases, n_open = conn.execute("SELECT count(*), sum(closed_at IS NULL) FROM cases").fetchone()
        n_events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        # A reused store starts where a fresh import does: every open case to be looked at now.
        conn.execute("UPDATE cases SET next_action_on = '1970-01-01', planned_on = NULL"
                     " WHERE closed_at IS NULL")
    engine.db.dispose()
    t1 = next_school_morning(engine.clock())
    t2 = t1 + dt.timedelta(days=7, hours=2)
    out: dict[str, Any] = {
        "bench": "planner", "machine": common.machine(),
        "store": {"cases": n_cases, "open_cases": n_open, "events": n_events,
                  "sqlite_mb": round(db.stat().st_size / 2**20, 1)},
        "build": build, "t1": t1.isoformat(), "t2": t2.isoformat(),
        "cold_serve_once": serve_once(config, folder, t1, "cold"),
    }

    import dataclasses

    from workflow.reminders.bootstrap import ReminderService
    from workflow.reminders.planner import Planner
    from workflow.reminders.work import due_case_ids

    service = ReminderService.from_engine(engine)
    planner = Planner(engine, dataclasses.replace(service.settings, digest=False))
    today = t2.astimezone(planner_tz()).date()
    t_scan = t_bare = 0.0
    n_scan = n_bare = 0
    rounds = 3
    for _ in range(rounds):
        t = time.perf_counter()
        with engine.db.connect() as conn:
            n_scan = len(due_case_ids(conn, today))
        t_scan += time.perf_counter() - t
        n_bare, s = bare_scan(db, today)
        t_bare += s
    if n_scan != n_bare:
        raise RuntimeError(f"scan found {n_scan} cases, the bare query {n_bare}")
    t = time.perf_counter()
    work = planner.work(t2)
    t_work = time.perf_counter() - t
    kinds: dict[str, int] = {}
    for item in work.items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    out.update({
        "due_cases": n_scan,
        "scan_ms": round(t_scan / rounds * 1000, 1), "bare_query_ms": round(t_bare / rounds * 1000, 1),
        "scan_vs_bare": common.ratio(t_bare, t_scan),
        "tick_ms": round(t_work * 1000, 1), "tick_folded": work.folded, "tick_due": kinds,
    })
    engine.db.dispose()
    out["digest_day_serve_once"] = serve_once(config, folder, t2, "digest-day")
    out["targets"] = {"scan_ms_max": 200, "scan_vs_bare_min": 0.5, "peak_rss_mb_max": 150}
    return out


def planner_tz() -> Any:
    from workflow.clock import SCHOOL_TZ

    return SCHOOL_TZ

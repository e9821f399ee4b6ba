"""The reminder planner over a large store: the due-work scan of a tick, and serve's peak RSS.

A tick (`Planner.work`) does not fold every open case: the `cases` row carries the day each case
next needs the planner (`next_action_on`, `planned_on`; workflow/service_layer/reminders/work.py), and a tick
folds only the cases whose day has come. Every write (and a bulk import) sets that day to
"now", so the first tick after loading a store folds everything once.

- cold: `passend serve --once --now T1` (T1 = 08:00 school time on the next weekday) as its own
  process: the first tick folds every open case, plans reminders, escalations and the IBs'
  digests, sends them to .eml files, and stores each case's next action day. Wall time, peak RSS.
- scan: at T2 = T1 + 7 days, 10:00 (a week of reminders has come due), what a tick reads to find
  its cases: every page of `work.due_case_pages` (the two index ranges, keyset-paged, a pooled
  connection per page), against the bare indexed SQL: the same two ranges as two plain sqlite3
  queries, unpaged. Alternated 3 times. The same pages read with plain sqlite3 on one connection
  are timed too (`bare_paged_ms`), so the cost of paging and of the engine can be told apart.
- tick: `Planner.work(T2)` with the digest off: the scan plus folding and planning the cases it
  found, which is what every tick but the day's first digest tick does.
- digest day: `passend serve --once --now T2` as its own process: the first tick of that day,
  which gathers the IBs' digests and so folds every open case again. Wall time, peak RSS.

With `--reuse`, the store of an earlier run starts where a fresh import does: the outbox (and
the .eml folder) emptied, every open case to be looked at now.

The JSON line: `store` (cases, open_cases, events, sqlite_mb), `build` (empty with --reuse),
`t1`, `t2`, `cold_serve_once` and `digest_day_serve_once` (wall_s, peak_rss_mb and serve's own
counts: planned, sent, failed, ...), `due_cases` (cases the scan found at T2), `scan_pages`,
`scan_ms` (all pages of the tick's scan), `bare_query_ms` (the two unpaged queries),
`bare_paged_ms`, `scan_vs_bare` (bare_query_ms / scan_ms: 1.0 is as fast as the bare SQL),
`tick_ms`, `tick_folded`, `tick_due` (messages by kind), `targets`.

Targets (issue 5): scan < 200 ms over 1M cases and >= 0.5x the bare query; serve < 150 MB.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
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
    from workflow.domain.instants import SCHOOL_TZ

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


def bare_paged_scan(db: Path, today: dt.date, size: int) -> tuple[int, float]:
    """The pages of `due_case_pages` (its own SQL, through = today) with plain sqlite3 on one
    connection: what the paging itself costs over the two bare ranges."""
    from workflow.adapters.store.cases import _PAGE_SQL

    day = today.isoformat()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    t = time.perf_counter()
    n = 0
    for sql, fixed, floor in ((_PAGE_SQL[0], (day,), "0001-01-01"), (_PAGE_SQL[1], (day, day), day)):
        last = (floor, "")
        while True:
            rows = conn.execute(sql, (*fixed, last[0], last[1], size)).fetchall()
            n += len(rows)
            if len(rows) < size:
                break
            last = (rows[-1][0], rows[-1][1])
    seconds = time.perf_counter() - t
    conn.close()
    return n, seconds


def tick_scan(engine: Any, today: dt.date) -> tuple[int, int, float]:
    """What a tick at `today` (after send_time) reads to find its cases: every page of
    `due_case_pages`. Without the tick's write-back between pages, the keyset still moves on,
    so the pages are the same. (cases, pages, seconds)"""
    from workflow.service_layer.reminders.work import due_case_pages

    t = time.perf_counter()
    ids: list[str] = []
    pages = 0
    for page in due_case_pages(engine.store, today, today):
        ids.extend(page)
        pages += 1
    seconds = time.perf_counter() - t
    if len(set(ids)) != len(ids):
        raise RuntimeError("the paged scan returned a case twice")
    return len(ids), pages, seconds


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
    from workflow.demo.population import populate

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
        # A reused store starts where a fresh import does: nothing planned or sent yet, every
        # open case to be looked at now.
        conn.execute(f"DELETE FROM {outbox_table()}")
        conn.execute("UPDATE cases SET next_action_on = '1970-01-01', planned_on = NULL"
                     " WHERE closed_at IS NULL")
    shutil.rmtree(folder / "outbox", ignore_errors=True)
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

    from workflow.bootstrap import reminder_service
    from workflow.service_layer.reminders import work as reminder_work
    from workflow.service_layer.reminders.planner import Planner

    service = reminder_service(engine)
    planner = Planner(engine, dataclasses.replace(service.settings, digest=False))
    today = t2.astimezone(planner_tz()).date()
    if t2.astimezone(planner_tz()).time() < service.settings.send_time:
        raise RuntimeError("T2 is before send_time: a tick would scan through yesterday")
    t_scan = t_bare = t_paged = 0.0
    n_scan = n_bare = n_paged = pages = 0
    rounds = 3
    for _ in range(rounds):
        n_scan, pages, s = tick_scan(engine, today)
        t_scan += s
        n_bare, s = bare_scan(db, today)
        t_bare += s
        n_paged, s = bare_paged_scan(db, today, reminder_work.SCAN_CHUNK)
        t_paged += s
    if not n_scan == n_bare == n_paged:
        raise RuntimeError(f"scan found {n_scan} cases, the bare query {n_bare}, bare pages {n_paged}")
    t = time.perf_counter()
    work = planner.work(t2)
    t_work = time.perf_counter() - t
    kinds: dict[str, int] = {}
    for item in work.items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    out.update({
        "due_cases": n_scan, "scan_pages": pages,
        "scan_ms": round(t_scan / rounds * 1000, 1), "bare_query_ms": round(t_bare / rounds * 1000, 1),
        "bare_paged_ms": round(t_paged / rounds * 1000, 1),
        "scan_vs_bare": common.ratio(t_bare, t_scan),
        "tick_ms": round(t_work * 1000, 1), "tick_folded": work.folded, "tick_due": kinds,
    })
    engine.db.dispose()
    out["digest_day_serve_once"] = serve_once(config, folder, t2, "digest-day")
    out["targets"] = {"scan_ms_max": 200, "scan_vs_bare_min": 0.5, "peak_rss_mb_max": 150}
    return out


def outbox_table() -> str:
    from workflow.adapters.store.tables import reminder_outbox as outbox

    return outbox.name


def planner_tz() -> Any:
    from workflow.domain.instants import SCHOOL_TZ

    return SCHOOL_TZ

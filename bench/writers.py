"""Durable `fire` per second with K writer processes at once: SQLite against PostgreSQL.

Issue 5 asks what one machine carries and where PostgreSQL takes over from SQLite. One writer is
measured by bench/fire.py; this measures K concurrent OS processes (default K = 1, 2, 4, 8), each
with its own Engine and its own disjoint list of commands (distinct cases, chosen before any clock
starts with bench.fire.choose_commands, split round-robin), released together by one
multiprocessing Event once all K have started, imported everything and warmed up. The rate is
the commands done by all K divided by the wall time from the first writer's start to the last
writer's finish (CLOCK_MONOTONIC, which every process on the machine shares).

- SQLite: the engine's own settings (WAL, synchronous=FULL, every writing unit of work begins
  IMMEDIATE, busy_timeout 15 s), so one writer holds the lock at a time and the others wait in
  SQLite's busy handler, which sleeps and retries (1 ms steps growing to 100 ms).
- PostgreSQL (`--pg-url`): a fresh schema per store, dropped afterwards, as bench/fire.py's
  PostgresSide does; row locks only, so disjoint cases never wait on each other, and concurrent
  commits can share one WAL flush.

Every (database, K) run gets its own store, generated with the same seed and moment (the same
cases and histories, so the same commands are allowed in each), and the databases take turns per
K so that load from other work hits both alike. Afterwards every command's event is looked up:
`lost` = commands reported done whose `transitioned` event (case, seq, trigger) is not stored,
`duplicated` = new events beyond exactly one per done command. `conflicts` counts
workflow.domain.errors.Conflict (a writer that lost the lock after the busy timeout, or a version
conflict): with disjoint cases there must be none, but it is counted, not assumed.

The machine these figures come from has 2 cores, shared with other work. K writers are K Python
processes (plus, for PostgreSQL, K server backends) on those 2 cores, so beyond K = 2 more
writers cannot add CPU, only overlap waiting (fsync, WAL flush). `single_process_per_s` (K = 1)
is reported next to every K so that the crossover, the first K at which PostgreSQL's aggregate
rate passes SQLite's, is visible, or visibly absent on this machine.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import secrets
import shutil
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import common

Command = tuple[str, str, dict[str, str], str]
START_TIMEOUT_S = 300.0


def _clock() -> float:
    # System-wide on Linux, so starts and finishes of different processes compare.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def _writer(config: str, commands: list[Command], ready: Any, go: Any, results: Any) -> None:
    """One writer process: open an engine, warm up, wait for the start signal, fire its list.

    Runs in a spawned interpreter (a forked copy of the parent's SQLAlchemy pools and SQLite
    handles would not be a fair, or safe, separate writer). Each command is its own durable
    transaction; a Conflict or any other failure is counted and the next command goes on, so
    one bad command cannot hide what the others did.
    """
    try:
        from workflow.bootstrap import bootstrap
        from workflow.domain.errors import Conflict, Refused
        from workflow.domain.machine import shared_machine

        common.quiet_logs()
        engine = bootstrap(config)
        # Warm-up outside the clock: imports, the pool's connection, the state graph, a decision.
        shared_machine(engine.definition)
        case_id, trigger, params, actor = commands[0]
        engine.fire(case_id, trigger, actor=actor, params=params, dry_run=True)
    except BaseException:
        ready.put(("failed", os.getpid(), traceback.format_exc()[-2000:]))
        return
    ready.put(("ready", os.getpid(), ""))
    go.wait()
    done: list[tuple[str, str, int]] = []
    conflicts = refused = 0
    errors: list[str] = []
    cpu0 = time.process_time()
    t0 = _clock()
    for case_id, trigger, params, actor in commands:
        try:
            result = engine.fire(case_id, trigger, actor=actor, params=params)
        except Conflict:
            conflicts += 1
        except Refused:
            refused += 1
        except Exception as exc:  # counted and reported: the run must show it, not stop on it
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        else:
            done.append((case_id, trigger, int(result["seq"])))
    t1 = _clock()
    cpu = time.process_time() - cpu0
    engine.db.dispose()
    results.put({"pid": os.getpid(), "start": t0, "end": t1, "cpu_s": cpu, "done": done,
                 "conflicts": conflicts, "refused": refused, "errors": errors})


@dataclass
class Store:
    """One generated store for one (database, K) run: its config, its engine, how to drop it."""

    database: str
    config: Path
    engine: Any
    drop: Any
    populate_s: float
    pupils: int = 0
    events: int = 0
    states: dict[str, int] = field(default_factory=dict)


class SqliteStores:
    """A fresh SQLite file per run in its own folder, sharing the run's master key."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def url(self, tag: str) -> tuple[str, Any]:
        db = self.folder / tag / "passend.db"

        def drop() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{db}", drop

    def settings(self, engine: Any) -> dict[str, Any]:
        with engine.db.connect() as conn:
            get = conn.exec_driver_sql
            return {"sqlite": get("SELECT sqlite_version()").scalar_one(),
                    "sqlite_journal": get("PRAGMA journal_mode").scalar_one(),
                    "sqlite_synchronous": get("PRAGMA synchronous").scalar_one(),
                    "sqlite_busy_timeout_ms": get("PRAGMA busy_timeout").scalar_one(),
                    "writer_begin": "IMMEDIATE"}

    def close(self) -> None:
        pass


class PostgresStores:
    """A fresh schema per run on one server; every schema made here is dropped by close()."""

    name = "postgresql"

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.plain = base_url.replace("postgresql+psycopg://", "postgresql://")
        self.tag = secrets.token_hex(4)
        self.schemas: list[str] = []

    def url(self, tag: str) -> tuple[str, Any]:
        import psycopg

        schema = f"bench_writers_{tag}_{self.tag}"
        with psycopg.connect(self.plain, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        sep = "&" if "?" in self.base else "?"

        def drop() -> None:
            with psycopg.connect(self.plain, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.schemas.remove(schema)

        return f"{self.base}{sep}options=-csearch_path%3D{schema}", drop

    def settings(self, engine: Any) -> dict[str, Any]:
        names = ("server_version", "synchronous_commit", "fsync", "commit_delay", "max_connections",
                 "shared_buffers")
        with engine.db.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).one()
        return {("postgresql" if n == "server_version" else n): v for n, v in zip(names, row, strict=True)}

    def close(self) -> None:
        for schema in list(self.schemas):
            import psycopg

            with psycopg.connect(self.plain, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.schemas.remove(schema)


def build_store(side: SqliteStores | PostgresStores, folder: Path, tag: str, args: Any, now: Any) -> Store:
    """Generate the run's store: same seed, same moment, same master key as every other run."""
    from workflow.demo.population import populate

    sub = folder / tag
    sub.mkdir(parents=True, exist_ok=True)
    url, drop = side.url(tag)
    config = common.write_config(sub, url)
    key = folder / "master.key"
    if key.exists():
        shutil.copyfile(key, sub / "master.key")
    engine = common.open_engine(config)
    if not key.exists():
        shutil.copyfile(sub / "master.key", key)
    t = time.perf_counter()
    pop = populate(engine, pupils=args.pupils, seed=args.seed, now=now)
    return Store(side.name, config, engine, drop, round(time.perf_counter() - t, 1),
                 pop.pupils, pop.events, dict(sorted(pop.states.items())))


def run_writers(config: Path, slices: list[list[Command]]) -> list[dict[str, Any]]:
    """Start one process per slice, wait until all are warm, release them together, collect."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(config), s, ready, go, results), daemon=True)
             for s in slices]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        for _ in procs:
            status, pid, detail = ready.get(timeout=max(1.0, deadline - time.monotonic()))
            if status != "ready":
                raise RuntimeError(f"writer {pid} did not start:\n{detail}")
        go.set()
        out = []
        for _ in procs:
            out.append(results.get(timeout=3600))
        for p in procs:
            p.join(timeout=60)
        return out
    except queue.Empty:
        raise RuntimeError("a writer process neither started nor reported in time") from None
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()


def check_store(engine: Any, before_id: int, before_count: int, done: list[tuple[str, str, int]]) -> dict[str, int]:
    """Every done command's event stored exactly once, and no other event written."""
    import json

    with engine.db.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT case_id, seq, type, payload FROM events WHERE id > %s ORDER BY id"
            .replace("%s", "?" if engine.db.dialect.name == "sqlite" else "%s"), (before_id,)).all()
        total = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
    stored: Counter[tuple[str, str, int]] = Counter()
    for case_id, seq, type_, payload in rows:
        trigger = json.loads(payload).get("trigger") if type_ == "transitioned" else None
        stored[(case_id, trigger or f"<{type_}>", int(seq))] += 1
    lost = sum(1 for c in done if stored[c] == 0)
    matched = len(done) - lost
    return {"lost": lost, "duplicated": len(rows) - matched,
            "store_events_added": total - before_count}


def measure(store: Store, writers: int, commands: list[Command]) -> dict[str, Any]:
    with store.engine.db.connect() as conn:
        before_id = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM events").scalar_one()
        before_count = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
    store.engine.db.dispose()  # the parent holds no connection while the writers run
    slices = [commands[i::writers] for i in range(writers)]
    load = os.getloadavg()[0]
    reports = run_writers(store.config, slices)
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    done = [c for r in reports for c in r["done"]]
    errors = [e for r in reports for e in r["errors"]]
    checked = check_store(store.engine, before_id, before_count, done)
    return {
        "writers": writers,
        "attempted": len(commands),
        "commands": len(done),
        "seconds": round(seconds, 3),
        "per_s": common.rate(len(done), seconds),
        "per_writer_per_s": common.rate(len(done), seconds * writers),
        "conflicts": sum(r["conflicts"] for r in reports),
        "refused": sum(r["refused"] for r in reports),
        "errors": len(errors),
        "error_samples": errors[:3],
        **checked,
        "writers_cpu_s": round(sum(r["cpu_s"] for r in reports), 2),
        "slowest_writer_s": round(max(r["end"] - r["start"] for r in reports), 3),
        "start_spread_ms": round(1000 * (max(r["start"] for r in reports) - min(r["start"] for r in reports)), 1),
        "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
        "populate_s": store.populate_s,
    }


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=3000, help="generated cases in each store")
    p.add_argument("--fires", type=int, default=1200, help="commands per run, split over the K writers")
    p.add_argument("--writers", default="1,2,4,8", help="comma-separated writer process counts")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--pg-url", default=None,
                   help="also run on PostgreSQL (a fresh schema per run on this server), side by side")
    p.add_argument("--no-sqlite", action="store_true", help="with --pg-url: PostgreSQL only")
    args = p.parse_args(argv)
    try:
        ks = [int(x) for x in args.writers.split(",") if x.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        p.error("--writers: positive counts, e.g. 1,2,4")
    if args.no_sqlite and not args.pg_url:
        p.error("--no-sqlite needs --pg-url")
    args.ks = ks

    folder = common.workdir(args.dir)
    sides: list[SqliteStores | PostgresStores] = []
    if not args.no_sqlite:
        sides.append(SqliteStores(folder))
    if args.pg_url:
        sides.append(PostgresStores(args.pg_url))
    try:
        return _run(args, folder, sides)
    finally:
        for side in sides:
            side.close()
        common.cleanup(folder, args.keep, args.dir)


def _run(args: Any, folder: Path, sides: list[SqliteStores | PostgresStores]) -> dict[str, Any]:
    import random

    from workflow.adapters.clock import utcnow

    from .fire import choose_commands

    now = utcnow()
    commands: list[Command] = []
    first: Store | None = None
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sides}
    settings: dict[str, dict[str, Any]] = {}
    for k in args.ks:
        for side in sides:
            store = build_store(side, folder, f"{side.name}-k{k}", args, now)
            try:
                if first is None:
                    first = store
                    commands = choose_commands(store.engine, args.fires, random.Random(args.seed))
                elif (store.pupils, store.events, store.states) != (first.pupils, first.events, first.states):
                    raise RuntimeError(f"{store.database} K={k}: the generator made another store "
                                       f"({store.events} events, not {first.events})")
                if side.name not in settings:
                    settings[side.name] = side.settings(store.engine)
                runs[side.name].append(measure(store, k, commands))
            finally:
                store.engine.db.dispose()
                store.drop()

    assert first is not None
    databases: dict[str, Any] = {}
    single: dict[str, float | None] = {}
    for name, rs in runs.items():
        one = next((r["per_s"] for r in rs if r["writers"] == 1), None)
        single[name] = one
        for r in rs:
            r["speedup_vs_1"] = common.ratio(r["per_s"], one) if one else None
        databases[name] = {"settings": settings[name], "runs": rs}
    out: dict[str, Any] = {
        "bench": "writers",
        "machine": common.machine(),
        "store": {"pupils": first.pupils, "events": first.events, "states": first.states},
        "commands_per_run": len(commands),
        "writers": args.ks,
        "triggers": dict(sorted(Counter(t for _, t, _, _ in commands).items())),
        "single_process_per_s": single,
        "databases": databases,
    }
    if "sqlite" in runs and "postgresql" in runs:
        pairs = [(a["writers"], a["per_s"], b["per_s"])
                 for a, b in zip(runs["sqlite"], runs["postgresql"], strict=True)]
        out["pg_vs_sqlite"] = {str(k): common.ratio(pg, lite) for k, lite, pg in pairs}
        passed = [k for k, lite, pg in pairs if pg > lite]
        out["crossover_writers"] = passed[0] if passed else None
        out["crossover_note"] = (
            f"PostgreSQL's aggregate rate passes SQLite's from K = {passed[0]}" if passed else
            f"PostgreSQL's aggregate rate does not pass SQLite's at any K measured "
            f"({', '.join(map(str, args.ks))}) on {os.cpu_count()} cores")
    every = [r for rs in runs.values() for r in rs]
    out["totals"] = {key: sum(r[key] for r in every)
                     for key in ("conflicts", "refused", "errors", "lost", "duplicated")}
    return out

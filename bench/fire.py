"""Durable `fire` per second on SQLite (WAL, synchronous=FULL), against two baselines.

- passend: `Engine.fire` (load the case's events, fold, decide every guard, append the event,
  update the projection, commit), on a generated population, each command its own transaction.
- raw: a plain `sqlite3` loop writing the very rows passend wrote (one event INSERT and passend's own
  projection UPDATE, per BEGIN IMMEDIATE ... COMMIT) into a copy of the same store: the floor set by
  SQLite and the disk's fsync.
- peer: the `eventsourcing` library's load-append-save of an aggregate holding the same history
  (bench/peer.py), on its own SQLite file.

The three run interleaved in rounds so that noise from other work on the machine hits all of
them alike. Targets (issue 5): passend >= 0.5x raw and >= 2x peer. `raw_vs_peer` is the raw loop's
own rate over the peer's: no engine on this store and disk can exceed it, since each command pays
at least the raw loop's work (the same rows, the same fsync).

With `--pg-url` the same runs on PostgreSQL: passend and the peer (its `eventsourcing.postgres`
module) each in a fresh schema, and the raw loop (psycopg, BEGIN/INSERT/UPDATE/COMMIT) in a
twin schema generated with the same seed and moment, so it holds the same cases.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from . import common

EVENT_COLUMNS = ("case_id", "seq", "type", "process_id", "process_version", "actor", "role",
                 "recorded_at", "payload", "prev_hash", "hash")


def choose_commands(engine: Any, n: int, rng: random.Random) -> list[tuple[str, str, dict[str, str], str]]:
    """(case, trigger, params, actor) for `n` distinct open cases, each allowed right now.

    A guarded trigger (escalate, start_opp, ...) where one is allowed, else `close`, which every
    IB may fire: realistic work, decided by the real guards, chosen before the clock starts.
    """
    from workflow.domain import case as domain

    ib_of = {s: next(u.id for u in engine.config.users.values() if u.role == "ib" and s in u.schools)
             for s in engine.config.schools}
    open_rows = [r for r in engine.list_cases(actor="auditor") if r["closed_at"] is None]
    rng.shuffle(open_rows)
    out = []
    with engine.uow(write=False) as uow:
        for r in open_rows:
            if len(out) == n:
                break
            case = uow.store.load(r["case_id"])
            allowed = [o for o in domain.options(case, engine.definition_of(case), "ib") if o.allowed]
            guarded = [o for o in allowed if o.trigger != "close"]
            pick = rng.choice(guarded or allowed)
            params = dict(pick.params)
            for name, spec in engine.definition.triggers[pick.trigger].params.items():
                if spec.required and name not in params:
                    params[name] = "verhuisd" if pick.trigger == "close" else (spec.choices or ("?",))[0]
            out.append((r["case_id"], pick.trigger, params, ib_of[r["school"]]))
    return out


def histories(engine: Any) -> Any:
    """Every stored case as (case id, [(type, payload), ...]), streamed for the peer's copy."""
    with engine.uow(write=False) as uow:
        current: str | None = None
        events: list[tuple[str, dict[str, Any]]] = []
        for row in uow.store.stream():
            if row.case_id != current:
                if current is not None:
                    yield current, events
                current, events = row.case_id, []
            events.append((row.type, json.loads(row.payload)))
        if current is not None:
            yield current, events


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=15000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


Work = list[tuple[tuple[Any, ...], tuple[Any, ...]]]


def single_commits(raw: sqlite3.Connection, work: Work, insert_sql: str, update_sql: str) -> None:
    """The raw loop on SQLite: each command's event and projection row in a transaction of its own."""
    for ev, upd in work:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(insert_sql, ev)
        if raw.execute(update_sql, upd).rowcount != 1:
            raise RuntimeError("raw loop: projection row not at the expected version")
        raw.execute("COMMIT")


class SqliteSide:
    """passend's SQLite file, and a byte copy of it (taken after generation) for the raw loop."""

    name = "sqlite"
    mark = "?"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = folder / "passend.db"
        self.url = f"sqlite:///{self.db}"

    def prepare_raw(self, engine: Any, pupils: int, seed: int, now: Any) -> None:
        engine.db.dispose()
        common.sqlite_checkpoint(self.db)
        shutil.copyfile(self.db, self.folder / "raw.db")
        self.raw = raw_connection(self.folder / "raw.db")
        self.source = sqlite3.connect(self.db)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self.source.execute(sql, params).fetchall()

    def raw_loop(self, work: Work, insert_sql: str, update_sql: str) -> None:
        single_commits(self.raw, work, insert_sql, update_sql)

    def settings(self) -> dict[str, Any]:
        return {"sqlite_journal": self.raw.execute("PRAGMA journal_mode").fetchone()[0],
                "sqlite_synchronous": self.raw.execute("PRAGMA synchronous").fetchone()[0]}

    def open_peer(self) -> Any:
        from . import peer

        return peer.open_peer(self.folder / "peer.db")

    def close(self) -> None:
        for conn in (getattr(self, "raw", None), getattr(self, "source", None)):
            if conn is not None:
                conn.close()


class PostgresSide:
    """Three fresh schemas on one server: passend, the raw loop's twin store, and the peer."""

    name = "postgresql"
    mark = "%s"

    def __init__(self, base_url: str) -> None:
        import secrets

        import psycopg
        from sqlalchemy.engine import make_url

        self.plain = base_url.replace("postgresql+psycopg://", "postgresql://")
        tag = secrets.token_hex(4)
        self.schemas = {k: f"bench_{k}_{tag}" for k in ("passend", "raw", "peer")}
        with psycopg.connect(self.plain, autocommit=True) as conn:
            for schema in self.schemas.values():
                conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{sep}options=-csearch_path%3D{self.schemas['passend']}"
        self.raw_url = f"{base_url}{sep}options=-csearch_path%3D{self.schemas['raw']}"
        u = make_url(self.plain)
        self.peer_env = {
            "POSTGRES_DBNAME": u.database or "postgres", "POSTGRES_HOST": u.host or "127.0.0.1",
            "POSTGRES_PORT": str(u.port or 5432), "POSTGRES_USER": u.username or "postgres",
            "POSTGRES_PASSWORD": u.password or "", "POSTGRES_SCHEMA": self.schemas["peer"],
        }

    def prepare_raw(self, engine: Any, pupils: int, seed: int, now: Any) -> None:
        """The twin store: the same generator, seed and moment give the same cases and histories."""
        import psycopg

        from workflow.demo.population import populate

        folder = engine.config.base / "twin"
        folder.mkdir(exist_ok=True)
        twin = common.open_engine(common.write_config(folder, self.raw_url))
        populate(twin, pupils=pupils, seed=seed, now=now)
        twin.db.dispose()
        self.raw = psycopg.connect(self.plain, autocommit=True,
                                   options=f"-csearch_path={self.schemas['raw']}")
        self.source = psycopg.connect(self.plain, autocommit=True,
                                      options=f"-csearch_path={self.schemas['passend']}")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self.source.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]

    def raw_loop(self, work: Work, insert_sql: str, update_sql: str) -> None:
        raw = self.raw
        insert_sql, update_sql = insert_sql.replace("?", "%s"), update_sql.replace("?", "%s")
        for ev, upd in work:
            raw.execute("BEGIN")
            raw.execute(insert_sql, ev)  # type: ignore[arg-type]
            if raw.execute(update_sql, upd).rowcount != 1:  # type: ignore[arg-type]
                raise RuntimeError("raw loop: projection row not at the expected version")
            raw.execute("COMMIT")

    def settings(self) -> dict[str, Any]:
        row = self.raw.execute("SELECT current_setting('server_version'), current_setting('synchronous_commit'),"
                               " current_setting('fsync')").fetchone()
        assert row is not None
        return {"postgresql": row[0], "synchronous_commit": row[1], "fsync": row[2]}

    def open_peer(self) -> Any:
        from . import peer

        return peer.open_peer(postgres=self.peer_env)

    def close(self) -> None:
        import psycopg

        for conn in (getattr(self, "raw", None), getattr(self, "source", None)):
            if conn is not None:
                conn.close()
        with psycopg.connect(self.plain, autocommit=True) as conn:
            for schema in self.schemas.values():
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=3000, help="generated cases in the store")
    p.add_argument("--fires", type=int, default=1500, help="commands measured per engine")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--pg-url", default=None,
                   help="run on PostgreSQL (fresh schemas on this server) instead of SQLite files")
    p.add_argument("--no-peer", action="store_true", help="skip the eventsourcing baseline")
    args = p.parse_args(argv)

    folder = common.workdir(args.dir)
    side: SqliteSide | PostgresSide = PostgresSide(args.pg_url) if args.pg_url else SqliteSide(folder)
    try:
        return _run(args, folder, side)
    finally:
        side.close()
        common.cleanup(folder, args.keep, args.dir)


def _run(args: Any, folder: Path, side: SqliteSide | PostgresSide) -> dict[str, Any]:
    from workflow.adapters.store.eventstore import UPDATED_ON_MOVE, update_case_sql
    from workflow.demo.population import populate

    rng = random.Random(args.seed)
    engine = common.open_engine(common.write_config(folder, side.url))
    now = engine.clock()
    pop = populate(engine, pupils=args.pupils, seed=args.seed, now=now)
    commands = choose_commands(engine, args.fires, rng)

    peer = None
    peer_events = 0
    if not args.no_peer:
        from . import peer as peer_mod

        peer = side.open_peer()
        peer_events = peer_mod.mirror(peer, histories(engine))

    side.prepare_raw(engine, args.pupils, args.seed, now)
    insert_sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
    # The raw loop sends passend's own projection UPDATE (same columns, same values, read back
    # from passend's store): every command here is a transition.
    update_sql = update_case_sql(UPDATED_ON_MOVE)

    t_passend, t_raw, t_peer = common.Stopwatch(), common.Stopwatch(), common.Stopwatch()
    cpu_passend, cpu_raw = CpuClock(), CpuClock()
    rounds = max(1, min(args.rounds, len(commands)))
    size = -(-len(commands) // rounds)
    last_id = side.query("SELECT max(id) FROM events")[0][0]
    done_peer = 0
    for r in range(rounds):
        chunk = commands[r * size:(r + 1) * size]
        if not chunk:
            break
        with t_passend, cpu_passend:
            for case_id, trigger, params, actor in chunk:
                engine.fire(case_id, trigger, actor=actor, params=params)
        # The rows passend just wrote, for the raw loop and the peer (read outside the clocks).
        rows = side.query(f"SELECT {', '.join(EVENT_COLUMNS)}, id FROM events WHERE id > ? ORDER BY id",
                          (last_id,))
        last_id = rows[-1][-1]
        work = []
        for row in rows:
            case = side.query(f"SELECT {', '.join(UPDATED_ON_MOVE)} FROM cases WHERE case_id = ?", (row[0],))[0]
            work.append((tuple(row[:-1]), (*case, row[0], row[1] - 1)))
        with t_raw, cpu_raw:
            side.raw_loop(work, insert_sql, update_sql)
        if peer is not None:
            payloads = [(row[0], json.loads(row[8])) for row in rows]
            with t_peer:
                for case_id, payload in payloads:
                    peer_mod.fire(peer, case_id, payload)
            done_peer += len(payloads)

    n = len(commands)
    passend_rate = common.rate(n, t_passend.seconds)
    raw_rate = common.rate(n, t_raw.seconds)
    out: dict[str, Any] = {
        "bench": "fire",
        "machine": common.machine(),
        "database": side.name,
        "store": {"pupils": pop.pupils, "events": pop.events, **side.settings()},
        "commands": n,
        "rounds": rounds,
        "triggers": dict(sorted(_count(t for _, t, _, _ in commands).items())),
        "passend_per_s": passend_rate,
        "raw_per_s": raw_rate,
        "ratio_vs_raw": common.ratio(passend_rate, raw_rate),
        "target_vs_raw": 0.5,
        # This process's CPU time a command (the client's own work; the server's is not in it).
        "client_cpu_ms": {"passend": cpu_passend.per(n), "raw": cpu_raw.per(n)},
    }
    if peer is not None:
        peer_rate = common.rate(done_peer, t_peer.seconds)
        out.update({
            "peer_eventsourcing_per_s": peer_rate,
            "peer_events_in_store": peer_events,
            "ratio_vs_peer": common.ratio(passend_rate, peer_rate),
            "target_vs_peer": 2.0,
            # The ceiling of ratio_vs_peer: an engine that added nothing to the raw loop.
            "raw_vs_peer": common.ratio(raw_rate, peer_rate),
        })
        if isinstance(side, SqliteSide):
            out["peer_sqlite_synchronous"] = peer_mod.peer_synchronous(peer)
        peer.close()
    engine.db.dispose()
    return out


class CpuClock:
    """Accumulates this process's CPU time (time.process_time) over several rounds."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t = 0.0

    def __enter__(self) -> CpuClock:
        self._t = time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds += time.process_time() - self._t

    def per(self, n: int) -> float:
        """Milliseconds a command."""
        return round(1000 * self.seconds / n, 3) if n else 0.0


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out

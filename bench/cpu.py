"""CPU work per durable command in instructions (valgrind callgrind), for the three engines of bench fire.

Why: `bench fire` measures wall time, and on this shared 2-core machine its ratios swing a lot,
because the fsync at each COMMIT dominates and its cost varies tenfold with other work on the disk.
Instructions executed by the process do not depend on what else the machine does (the fsync is
the kernel's, and callgrind counts user-space instructions only), so the same tree gives the same
figure on every run, and a change to passend's Python shows as a change in this number.

The same three engines and the same work as bench fire:

- passend: `Engine.fire` on a copy of a generated store;
- raw: plain `sqlite3`, per command BEGIN IMMEDIATE, INSERT of the event row passend wrote, passend's
  own projection UPDATE (`update_case_sql(UPDATED_ON_MOVE)`, with the values read back from passend's
  store), COMMIT, on a copy of the same store;
- peer: `bench.peer.fire` (the eventsourcing library's load-append-save) on a mirror of the store.

How: natively, generate the store, keep a pristine copy of its file, choose 1 + K commands with
`bench.fire.choose_commands`, mirror the peer's store, and fire the commands once with passend on
the generated store to record the rows it writes (those past the largest event id before). Then,
per engine, a child Python process runs under `valgrind --tool=callgrind` twice, each time on a
fresh copy of its store: one warm-up command (imports, statement caches, first connection) and
then 0 more, and the warm-up plus the K commands. Everything else (start-up, imports, opening the
store, loading the list of work) is the same in both runs, so

    instructions per command = (total with K - total with 0) / K.

The children get PYTHONHASHSEED=0 so that the two runs differ only by the K commands. passend's
clock is frozen at `--now` (a fixed school-day moment by default), natively and in the children:
the generator writes histories up to "now" and the guards read it, so with the wall clock each
run would build a slightly different store, choose different commands and count 1-5% apart;
frozen, the same tree gives the same store, commands and figures on any day. Runs go two
at a time (`--jobs`): the counts do not depend on it, only the wall time does.

Ratios: `instr_passend_vs_raw` and `instr_passend_vs_peer` are passend's instructions over the
baseline's (how much more CPU passend spends per command); `cpu_ratio_vs_raw` and `cpu_ratio_vs_peer`
are their inverses, the rate ratios the CPU work alone implies (read like bench fire's
`ratio_vs_raw` and `ratio_vs_peer`: above 1 means passend would be the faster one if no command
ever waited on the disk).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import common

ENGINES = ("passend", "raw", "peer")
WARMUP = 1
DEFAULT_NOW = "2025-11-26T10:00:00+00:00"  # a Wednesday in term time, 11:00 in the Netherlands
_COLLECTED = re.compile(rb"Collected\s*:\s*(\d+)")
_TOTALS = re.compile(rb"^(?:totals|summary):\s*(\d+)", re.MULTILINE)


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=3000, help="generated cases in the store")
    p.add_argument("--commands", type=int, default=200, help="K: commands counted per engine (after 1 warm-up)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma-separated subset of passend,raw,peer (the peer needs eventsourcing)")
    p.add_argument("--now", default=DEFAULT_NOW, help="passend's frozen clock, an ISO instant with its offset")
    p.add_argument("--jobs", type=int, default=2, help="callgrind runs at a time (the counts do not depend on it)")
    args = p.parse_args(argv)
    engines = tuple(e for e in ENGINES if e in set(args.engines.split(",")))
    if not engines or set(args.engines.split(",")) - set(ENGINES):
        p.error(f"--engines: a comma-separated subset of {','.join(ENGINES)}")
    if args.pupils < 1 or args.commands < 1 or args.jobs < 1:
        p.error("--pupils, --commands and --jobs must be positive")
    now: dt.datetime | None
    try:
        now = dt.datetime.fromisoformat(args.now)
    except ValueError:
        now = None
    if now is None or now.tzinfo is None:
        p.error("--now: an ISO instant with its offset, e.g. 2025-11-26T10:00:00+00:00")
    args.now = now.astimezone(dt.UTC)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        p.exit(2, "bench cpu: valgrind is not on PATH (e.g. apt-get install valgrind); nothing measured\n")
    args.engines = engines
    args.valgrind = valgrind
    return common.in_workdir(args, _run)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    version = subprocess.run([args.valgrind, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    prepared = _prepare(args, folder)
    runs = [(engine, n) for engine in args.engines for n in (0, args.commands)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = dict(zip(runs, pool.map(lambda r: _callgrind(args, folder, prepared, *r), runs), strict=True))

    per_command: dict[str, float] = {}
    detail: dict[str, Any] = {}
    for engine in args.engines:
        zero, k = results[(engine, 0)], results[(engine, args.commands)]
        per_command[engine] = round((k["instructions"] - zero["instructions"]) / args.commands)
        detail[engine] = {"instructions_0": zero["instructions"], "instructions_k": k["instructions"],
                          "seconds_0": zero["seconds"], "seconds_k": k["seconds"]}

    out: dict[str, Any] = {
        "bench": "cpu",
        "machine": common.machine(),
        "valgrind": version,
        "store": {"pupils": prepared["pupils"], "events": prepared["events"]},
        "commands": args.commands,
        "warmup_commands": WARMUP,
        "triggers": dict(sorted(Counter(t for _, t, _, _ in prepared["commands"][WARMUP:]).items())),
        **{f"{e}_instr_per_command": per_command[e] for e in args.engines},
    }
    passend = per_command.get("passend")
    for base in ("raw", "peer"):
        if passend and base in per_command:
            out[f"instr_passend_vs_{base}"] = common.ratio(passend, per_command[base])
            out[f"cpu_ratio_vs_{base}"] = common.ratio(per_command[base], passend)
    out["runs"] = detail
    return out


def _prepare(args: Any, folder: Path) -> dict[str, Any]:
    """Natively: the pristine stores, the commands, and the rows passend writes for them.

    The commands are fired once here, on the generated store itself (its pristine copy is taken
    first), so that the raw loop and the peer get the very rows passend writes; every callgrind
    run starts from a fresh copy of a pristine file.
    """
    from workflow.adapters.store.eventstore import UPDATED_ON_MOVE, update_case_sql
    from workflow.demo.population import populate

    from . import fire

    scratch = folder / "scratch"
    scratch.mkdir(exist_ok=True)
    db = scratch / "passend.db"
    engine = common.open_engine(common.write_config(scratch, f"sqlite:///{db}"))
    engine.clock = _frozen(args.now)
    pop = populate(engine, pupils=args.pupils, seed=args.seed, now=engine.clock())
    commands = fire.choose_commands(engine, WARMUP + args.commands, random.Random(args.seed))
    if len(commands) < WARMUP + args.commands:
        raise SystemExit(f"bench cpu: only {len(commands)} open cases allow a command; "
                         f"use more --pupils or fewer --commands")
    if "peer" in args.engines:
        from . import peer

        app = peer.open_peer(folder / "peer.db")
        peer.mirror(app, fire.histories(engine))
        app.close()
        common.sqlite_checkpoint(folder / "peer.db")
    engine.db.dispose()
    common.sqlite_checkpoint(db)
    shutil.copyfile(db, folder / "pristine.db")
    shutil.copyfile(scratch / "master.key", folder / "master.key")

    source = fire.raw_connection(db)
    try:
        top = source.execute("SELECT max(id) FROM events").fetchone()[0]
        for case_id, trigger, params, actor in commands:
            engine.fire(case_id, trigger, actor=actor, params=params)
        engine.db.dispose()
        rows = source.execute(f"SELECT {', '.join(fire.EVENT_COLUMNS)} FROM events WHERE id > ? ORDER BY id",
                              (top,)).fetchall()
        if [r[0] for r in rows] != [c[0] for c in commands]:
            raise RuntimeError("bench cpu: passend did not write exactly one event per command, in order")
        raw_work = []
        for row in rows:
            case = source.execute(f"SELECT {', '.join(UPDATED_ON_MOVE)} FROM cases WHERE case_id = ?",
                                  (row[0],)).fetchone()
            raw_work.append((tuple(row), (*case, row[0], row[1] - 1)))
    finally:
        source.close()

    insert_sql = (f"INSERT INTO events ({', '.join(fire.EVENT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(fire.EVENT_COLUMNS))})")
    # The work each child reads, all of it in both runs (so loading it cancels out); the peer's
    # payloads decoded here, as bench fire decodes them outside its clock.
    work = {
        "passend": commands,
        "raw": {"insert": insert_sql, "update": update_case_sql(UPDATED_ON_MOVE), "rows": raw_work},
        "peer": [(row[0], json.loads(row[8])) for row, _ in raw_work],
    }
    for engine_name in args.engines:
        with open(folder / f"work.{engine_name}.pickle", "wb") as f:
            pickle.dump(work[engine_name], f)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"pupils": pop.pupils, "events": pop.events, "commands": commands}


def _callgrind(args: Any, folder: Path, prepared: dict[str, Any], engine: str, n: int) -> dict[str, Any]:
    """One child under callgrind on a fresh copy of its store: its total instructions and wall time."""
    run = folder / f"run.{engine}.{n}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    if engine == "peer":
        store = run / "peer.db"
        shutil.copyfile(folder / "peer.db", store)
    else:
        store = run / "passend.db"
        shutil.copyfile(folder / "pristine.db", store)
        if engine == "passend":
            shutil.copyfile(folder / "master.key", run / "master.key")
            store = common.write_config(run, f"sqlite:///{store}")
    out_file = folder / f"callgrind.{engine}.{n}.out"
    env = {**os.environ, "PYTHONHASHSEED": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(common.REPO), os.environ.get("PYTHONPATH")]))}
    cmd = [args.valgrind, "--tool=callgrind", f"--callgrind-out-file={out_file}",
           sys.executable, "-m", "bench.cpu", engine, str(folder / f"work.{engine}.pickle"), str(store), str(n),
           args.now.isoformat()]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=common.REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = round(time.perf_counter() - t, 1)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-1500:]
        raise RuntimeError(f"bench cpu: the {engine} child ({n} commands) exited {proc.returncode}:\n{tail}")
    found = _TOTALS.search(out_file.read_bytes()) if out_file.exists() else None
    found = found or _COLLECTED.search(proc.stderr)
    if found is None:
        raise RuntimeError(f"bench cpu: no instruction total from callgrind for {engine} ({n} commands)")
    shutil.rmtree(run, ignore_errors=True)
    return {"instructions": int(found.group(1)), "seconds": seconds}


def _frozen(now: dt.datetime) -> Any:
    """A clock that always says `now` (Engine takes any callable returning an aware datetime)."""
    return lambda: now


def child(engine: str, work_file: str, store: str, n: int, now: str) -> None:
    """The measured process: 1 warm-up command, then `n` more, on the store it is given.

    Imports stay inside the branches so that each engine pays only for its own; whatever it pays
    before the first command is paid equally by the run with 0 commands and cancels out.
    """
    with open(work_file, "rb") as f:
        work = pickle.load(f)  # written by this benchmark's own parent process
    if engine == "passend":
        engine_ = common.open_engine(Path(store))
        engine_.clock = _frozen(dt.datetime.fromisoformat(now))
        for case_id, trigger, params, actor in work[:WARMUP + n]:
            engine_.fire(case_id, trigger, actor=actor, params=params)
        engine_.db.dispose()
    elif engine == "raw":
        from .fire import raw_connection

        conn = raw_connection(Path(store))
        insert_sql, update_sql = work["insert"], work["update"]
        for ev, upd in work["rows"][:WARMUP + n]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert_sql, ev)
            if conn.execute(update_sql, upd).rowcount != 1:
                raise RuntimeError("raw loop: projection row not at the expected version")
            conn.execute("COMMIT")
        conn.close()
    elif engine == "peer":
        from . import peer

        app = peer.open_peer(Path(store))
        for case_id, payload in work[:WARMUP + n]:
            peer.fire(app, case_id, payload)
        app.close()
    else:
        raise SystemExit(f"bench cpu child: unknown engine {engine!r}")


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])

"""`passend case show` wall time, start-up included, against a plain sqlite3 loop reading the same rows.

Each run is a fresh process, as a person at a terminal starts it: `passend case show ID --actor
IB --json` (config, store check, the actor, the case's events folded, its key to open the
personal data, the read kept in the access log, the view printed) against `python -c` with a
plain sqlite3 loop that reads the same rows (the case's projection row, its events, its key row,
the actor's user row) and prints them as JSON. The two alternate, on `--cases` different cases
in turn, `--runs` times each; the medians are compared. Also `python -c pass` (the floor), and
the modules `case show` imports that it does not need (`heavy_modules_imported`).

Target (issue 17): case show <= 3x the plain loop.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import common

PLAIN = r"""
import json, sqlite3, sys
db, case_id, actor = sys.argv[1:4]
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
out = {"case": conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone(),
       "user": conn.execute("SELECT * FROM users WHERE id = ?", (actor,)).fetchone(),
       "key": conn.execute("SELECT case_id, wrapped FROM case_keys WHERE case_id = ?", (case_id,)).fetchone(),
       "events": [[*r[:-1], json.loads(r[-1])] for r in conn.execute(
           "SELECT seq, type, actor, recorded_at, payload FROM events WHERE case_id = ? ORDER BY seq", (case_id,))]}
print(json.dumps(out, default=lambda b: b.hex() if isinstance(b, bytes) else str(b)))
"""
HEAVY = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "uvicorn", "weasyprint", "apscheduler", "authlib",
         "jinja2", "alembic", "psycopg", "aiosmtpd", "httpx", "rich", "holidays", "transitions", "cryptography")


def _time(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {r.stderr.decode(errors='replace')[-300:]}")
    return seconds


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=2000)
    p.add_argument("--cases", type=int, default=5)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--reuse", action="store_true", help="use the store already in --dir")
    args = p.parse_args(argv)
    return common.in_workdir(args, _run)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    from workflow.demo.population import populate

    db = folder / "passend.db"
    config = common.write_config(folder, f"sqlite:///{db}")
    engine = common.open_engine(config)
    if not (args.reuse and engine.list_cases(actor="auditor")[:1]):
        populate(engine, pupils=args.pupils, seed=args.seed, batch=5000)
    engine.db.dispose()
    with sqlite3.connect(db) as conn:
        n_cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        picks = conn.execute("SELECT case_id, school FROM cases ORDER BY case_id LIMIT ?",
                             (args.cases,)).fetchall()
    env = {**os.environ, "PASSEND_CONFIG": str(config)}
    env.pop("PASSEND_DATABASE_URL", None)
    # As an installed program runs: its modules compiled once (here into the store's folder,
    # not the repository), not from source on every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    targets = [(cid, "ib." + school.rsplit("-", 1)[1]) for cid, school in picks]
    show = [[*common.passend_cmd(), "--json", "case", "show", cid, "--actor", actor] for cid, actor in targets]
    plain = [[sys.executable, "-c", PLAIN, str(db), cid, actor] for cid, actor in targets]
    bare = [sys.executable, "-c", "pass"]
    for cmd in (show[0], plain[0], bare):  # warm the page cache and .pyc files
        _time(cmd, env)
    ours: list[float] = []
    base: list[float] = []
    floor: list[float] = []
    for i in range(args.runs):
        k = i % len(targets)
        ours.append(_time(show[k], env))
        base.append(_time(plain[k], env))
        floor.append(_time(bare, env))
    imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "workflow.entrypoints.cli.main", *show[0][
        len(common.passend_cmd()):]], capture_output=True, text=True, env=env).stderr
    heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines()[1:] if "|" in line}
                   & set(HEAVY))
    m_ours, m_base, m_floor = (statistics.median(x) for x in (ours, base, floor))
    return {
        "bench": "show", "machine": common.machine(), "cases": n_cases, "runs": args.runs,
        "case_show_s": round(m_ours, 4), "plain_loop_s": round(m_base, 4), "python_pass_s": round(m_floor, 4),
        "case_show_min_s": round(min(ours), 4), "plain_loop_min_s": round(min(base), 4),
        "ratio": common.ratio(m_ours, m_base), "heavy_modules_imported": heavy, "target_ratio_max": 3.0,
    }

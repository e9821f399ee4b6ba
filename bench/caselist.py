"""`passend case list --json` over a large store, against a plain loop printing the same rows.

`case list` reads the list a page at a time from the index on (school, opened_at, case_id)
(CaseReadModel.case_page: a keyset seek per page, no case folded, no read-model object per row)
and prints each row as it comes. The baseline is a plain Python loop over the same table with
sqlite3: the same columns, in the same order, turned into the same dicts and printed as the same
JSON text (`json.dumps(..., indent=2)` per row). Each is run as its own process, start-up
included, its standard output to a file; the two files must be byte for byte the same. Alternated
`--runs` times; the medians are compared.

The JSON line: `store` (cases, sqlite_mb), `case_list_s`, `plain_loop_s`, `ratio` (plain /
passend: 1.0 is as fast as the plain loop), `rows_per_s`, `peak_rss_mb` (case list's, the
largest), `same_bytes`, `targets`.

Target (issue 17): >= 0.5x the plain loop (at 1M cases; `--pupils 1000000`).
"""

from __future__ import annotations

import filecmp
import os
import sqlite3
import statistics
import sys
from pathlib import Path
from typing import Any

from . import common

PLAIN = r"""
import datetime as dt, json, sqlite3, sys
db = sys.argv[1]
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
def iso(t):
    return None if t is None else dt.datetime.fromisoformat(t + "+00:00").isoformat()
f = sys.stdout
n = 0
for r in conn.execute("SELECT case_id, school, school_group, state, level, version, opened_at, closed_at,"
                      " close_reason, process_id, process_version FROM cases ORDER BY school, opened_at, case_id"):
    n += 1
    d = {"case_id": r[0], "school": r[1], "group": r[2], "state": r[3], "level": r[4], "version": r[5],
         "opened_at": iso(r[6]), "closed_at": iso(r[7]), "close_reason": r[8], "process": f"{r[9]}@{r[10]}"}
    f.write(("[\n  " if n == 1 else ",\n  ") + json.dumps(d, ensure_ascii=False, indent=2).replace("\n", "\n  "))
f.write("\n]\n" if n else "[]\n")
"""


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--reuse", action="store_true", help="use the store already in --dir")
    args = p.parse_args(argv)
    return common.in_workdir(args, _run)


def _run(args: Any, folder: Path) -> dict[str, Any]:
    from workflow.demo.population import populate

    db = folder / "passend.db"
    config = folder / "config.toml"
    if not (args.reuse and config.exists()):
        config = common.write_config(folder, f"sqlite:///{db}")
    engine = common.open_engine(config)
    with sqlite3.connect(db) as conn:
        has_cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0] > 0
    if not (args.reuse and has_cases):
        populate(engine, pupils=args.pupils, seed=args.seed, batch=5000)
    engine.db.dispose()
    common.sqlite_checkpoint(db)
    with sqlite3.connect(db) as conn:
        n_cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    env = {**os.environ, "PASSEND_CONFIG": str(config)}
    env.pop("PASSEND_DATABASE_URL", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled once, not on every start
    env.pop("PYTHONUNBUFFERED", None)  # output to a file is block-buffered, as a program normally runs
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    ours_out, plain_out = folder / "case-list.json", folder / "plain.json"
    ours_cmd = [*common.passend_cmd(), "--json", "case", "list", "--actor", "auditor"]
    plain_cmd = [sys.executable, "-c", PLAIN, str(db)]
    ours: list[float] = []
    base: list[float] = []
    rss = 0.0
    for _ in range(args.runs + 1):  # the first pair warms the page cache and the .pyc files
        r = common.run_measured(ours_cmd, env=env, stdout=ours_out)
        if r["exit_code"] != 0:
            raise RuntimeError(f"case list failed: {r}")
        b = common.run_measured(plain_cmd, env=env, stdout=plain_out)
        if b["exit_code"] != 0:
            raise RuntimeError(f"the plain loop failed: {b}")
        ours.append(r["seconds"])
        base.append(b["seconds"])
        rss = max(rss, r["peak_rss_mb"])
    same = filecmp.cmp(ours_out, plain_out, shallow=False)
    if not same:
        raise RuntimeError("case list --json printed other bytes than the plain loop")
    m_ours, m_base = statistics.median(ours[1:]), statistics.median(base[1:])
    return {
        "bench": "caselist", "machine": common.machine(),
        "store": {"cases": n_cases, "sqlite_mb": round(db.stat().st_size / 2**20, 1)}, "runs": args.runs,
        "case_list_s": round(m_ours, 3), "plain_loop_s": round(m_base, 3), "ratio": common.ratio(m_base, m_ours),
        "rows_per_s": common.rate(n_cases, m_ours), "peak_rss_mb": rss, "same_bytes": same,
        "targets": {"ratio_min": 0.5},
    }

"""Start-up: `passend --help` against a bare `python -c pass`, each run as a fresh process.

A CLI that imports SQLAlchemy, cryptography and transitions before it knows the command feels
slow on every call; sub-commands are imported lazily (workflow/entrypoints/cli/main.py). The two commands
alternate, and the medians are compared. Target (issue 5): at most 4x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from . import common


def _time(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    args = p.parse_args(argv)
    passend = [*common.passend_cmd(), "--help"]
    bare = [sys.executable, "-c", "pass"]
    _time(passend), _time(bare)  # warm the page cache and .pyc files
    ours, base = [], []
    for _ in range(args.runs):
        ours.append(_time(passend))
        base.append(_time(bare))
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from workflow.entrypoints.cli.app import cli"],
        capture_output=True, text=True, check=True,
    ).stderr
    heavy = sorted(
        {line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines()[1:] if "|" in line}
        & {"sqlalchemy", "sqlmodel", "cryptography", "transitions", "structlog", "alembic", "jinja2",
           "apscheduler", "holidays", "psycopg", "eventsourcing"}
    )
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    return {
        "bench": "startup", "machine": common.machine(), "runs": args.runs,
        "command": " ".join(passend),
        "passend_help_s": round(m_ours, 4), "python_pass_s": round(m_base, 4),
        "ratio": common.ratio(m_ours, m_base), "target_ratio_max": 4.0,
        "heavy_modules_imported_for_help": heavy,
    }

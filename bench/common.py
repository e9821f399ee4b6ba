"""What every benchmark needs: a throw-away store, a config with many schools, timing, peak RSS.

Stores live in a fresh folder under the system temp dir unless `--dir` says otherwise, never in
the repository. Logs go to /dev/null at the engine's normal level (info), so their cost is
counted but they do not mix with the JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STATES = REPO / "states"
REGIONS = ("noord", "midden", "zuid")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dir", default=None, help="folder for the stores (default: a new temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    return p


def workdir(path: str | None) -> Path:
    if path:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return Path(tempfile.mkdtemp(prefix="passend-bench-"))


def cleanup(folder: Path, keep: bool, given: str | None) -> None:
    if not keep and not given:
        shutil.rmtree(folder, ignore_errors=True)


def in_workdir(args: Any, run: Callable[[Any, Path], dict[str, Any]]) -> dict[str, Any]:
    """Run a benchmark in its store folder, removed afterwards unless --keep or --dir keeps it."""
    folder = workdir(args.dir)
    try:
        return run(args, folder)
    finally:
        cleanup(folder, args.keep, args.dir)


def write_config(folder: Path, url: str, *, schools: int = 12, extra: str = "") -> Path:
    """A region-sized config: `schools` schools, each with an IB, a leerkracht and a directeur; an auditor."""
    lines = [
        f'[database]\nurl = "{url}"\n',
        f'[security]\nmaster_key_file = "{folder / "master.key"}"\n',
        f'[process]\ndefinition = "{STATES / "passend_po_v1.toml"}"\nfolder = "{STATES}"\n',
        '[logging]\nlevel = "info"\n',
    ]
    for i in range(schools):
        lines.append(f'[[schools]]\nid = "school-{i:03d}"\nname = "Basisschool {i:03d}"\n'
                     f'region = "{REGIONS[i % 3]}"\n')
    for i in range(schools):
        lines.append(f'[[users]]\nid = "ib.{i:03d}"\nrole = "ib"\nschools = ["school-{i:03d}"]\n'
                     f'email = "ib@school-{i:03d}.example"\n')
        lines.append(f'[[users]]\nid = "lk.{i:03d}"\nrole = "leerkracht"\nschools = ["school-{i:03d}"]\n'
                     f'email = "lk@school-{i:03d}.example"\n')
        lines.append(f'[[users]]\nid = "dir.{i:03d}"\nrole = "directeur"\nschools = ["school-{i:03d}"]\n'
                     f'email = "directie@school-{i:03d}.example"\n')
    lines.append('[[users]]\nid = "auditor"\nrole = "auditor"\nschools = ["*"]\n')
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + extra, encoding="utf-8")
    return path


def quiet_logs() -> None:
    """Engine logs at info, as in production, but into /dev/null (stdout is for the JSON line)."""
    from workflow.adapters.logs import configure

    configure("info", json=True, stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


def open_engine(config: Path) -> Any:
    from workflow.bootstrap import bootstrap

    quiet_logs()
    engine = bootstrap(config, create_key=True)
    engine.init()
    return engine


def sqlite_checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so that the file can be copied as a whole store."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


class Stopwatch:
    """Accumulates wall time over several rounds: `with sw: ...`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t = 0.0

    def __enter__(self) -> Stopwatch:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._t


def run_measured(cmd: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, stdout: Path | None = None) -> dict[str, Any]:
    """Run a command; its exit code, wall seconds and peak RSS (MB) from wait4, not a poll.

    stdout goes to the file `stdout` (or nowhere), so a large report does not sit in our memory.
    """
    out = open(stdout, "wb") if stdout is not None else subprocess.DEVNULL  # noqa: SIM115
    with tempfile.NamedTemporaryFile("r", suffix=".json") as figures:
        # Linux carries a parent's peak RSS into a child across fork+exec (exec_mmap keeps the
        # old mm's high-water mark), so a command started straight from this large process would
        # report our peak, not its own. A small fresh interpreter starts it and reports wait4.
        proc = subprocess.Popen([sys.executable, "-S", "-c", _RSS_WRAPPER, figures.name, *cmd],
                                env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.wait()
        if stdout is not None:
            out.close()  # type: ignore[union-attr]
        result = json.loads(figures.read())
    result["stderr_tail"] = err.decode(errors="replace")[-300:]
    return result


_RSS_WRAPPER = """
import json, os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
seconds = time.perf_counter() - t
with open(sys.argv[1], "w") as f:
    json.dump({"exit_code": os.waitstatus_to_exitcode(status), "seconds": round(seconds, 3),
               "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}, f)
"""


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(), "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(terse=True),
    }


def passend_cmd() -> list[str]:
    """The installed `passend` script next to this interpreter, else `python -m workflow.entrypoints.cli.main`."""
    script = Path(sys.executable).with_name("passend")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "workflow.entrypoints.cli.main"]

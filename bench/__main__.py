"""`python -m bench NAME [options]`: run one benchmark and print its JSON line."""

from __future__ import annotations

import importlib
import json
import sys

from workflow.domain.errors import PassendError

BENCHMARKS = {
    "fire": "durable fire/s on SQLite vs a raw sqlite3 loop and the eventsourcing library",
    "startup": "`passend --help` start-up time vs a bare `python -c pass`",
    "audit": "audit verify / replay --all events/s and peak RSS vs a raw read-and-hash loop and the peer's replay",
    "planner": "the reminder planner's due-work scan vs the bare SQL it streams; serve --once peak RSS",
    "dispatch": "reminder dispatch on PostgreSQL, 1 and 2 processes, to a loopback SMTP server: msg/s, duplicates",
    "writers": "durable fire/s with 1-8 concurrent writer processes, SQLite vs PostgreSQL: rate, conflicts, lost",
    "cpu": "instructions per durable fire (valgrind callgrind) vs the raw sqlite3 loop and the eventsourcing peer",
    "due": "`reminders due` at 100k cases vs the planner's indexed scan and work of a tick, same run",
    "show": "`case show` wall time, start-up included, vs a plain sqlite3 loop reading the same rows",
    "caselist": "`case list --json` at 100k (or 1M) cases vs a plain sqlite3 loop printing the same bytes",
    "populate": "the population generator (`passend demo --pupils N`): events/s",
    "group": "durable commands/s from 8 clients through one web app, group commit on and off, vs raw single commits",
    "web": "p50/p95 of the case page, the filtered caseload and Mijn werk with 20 clients vs a static file",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print("usage: python -m bench NAME [options]   (NAME --help for its options)\n", file=sys.stderr)
        for name, what in BENCHMARKS.items():
            print(f"  {name:<10} {what}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(f"bench.{argv[0]}")
    try:
        figures = module.main(argv[1:])
    except PassendError as exc:  # bad input the engine refused (e.g. --pupils 0): one line
        print(f"bench {argv[0]}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"bench {argv[0]}: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(figures, sort_keys=False, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

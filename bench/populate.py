"""The population generator (`passend demo --pupils N`): cases and events written per second.

It decides every transition with the real guards and writes in batches of whole cases; this is
how the large stores for the other benchmarks are made.
"""

from __future__ import annotations

from typing import Any

from . import common


def main(argv: list[str]) -> dict[str, Any]:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--pupils", type=int, default=20_000)
    p.add_argument("--url", default=None, help="database URL (default: SQLite file in --dir)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    folder = common.workdir(args.dir)
    try:
        from workflow.demo.population import populate

        url = args.url or f"sqlite:///{folder / 'passend.db'}"
        engine = common.open_engine(common.write_config(folder, url))
        pop = populate(engine, pupils=args.pupils, seed=args.seed).as_dict()
        engine.db.dispose()
        return {"bench": "populate", "machine": common.machine(),
                "database": engine.db.dialect.name, **pop}
    finally:
        common.cleanup(folder, args.keep, args.dir)

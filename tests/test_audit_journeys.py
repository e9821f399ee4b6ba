"""Every journey of the test suite, and a generated population, replays to its projection.

The journeys of tests/test_journey.py are run again here, each on its own fresh store, and then
the whole store is verified and replayed: the events alone must prove exactly what the
projection says, under the rules of the definition version recorded on them.
"""

from __future__ import annotations

import inspect
import itertools
from pathlib import Path
from typing import Any

import pytest

from tests import test_journey
from tests.conftest import write_config
from workflow.adapters.store.uow import unit_on
from workflow.bootstrap import bootstrap
from workflow.service_layer.audit.replay import replay_all
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine


def _journeys() -> list[tuple[str, Any, dict[str, Any]]]:
    out = []
    for name, fn in inspect.getmembers(test_journey, inspect.isfunction):
        if not name.startswith("test_") or fn.__module__ != test_journey.__name__:
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
        combos: list[dict[str, Any]] = [{}]
        for m in marks:
            names = [n.strip() for n in m.args[0].split(",")] if isinstance(m.args[0], str) else list(m.args[0])
            values = [v if len(names) > 1 else (v,) for v in m.args[1]]
            combos = [{**c, **dict(zip(names, v, strict=True))} for c, v in itertools.product(combos, values)]
        out.extend((name, fn, c) for c in combos)
    return out


JOURNEYS = _journeys()


def _check_store(engine: Engine) -> None:
    with engine.db.connect() as conn:
        report = verify(unit_on(conn))
    assert report.ok, report.problems
    results = list(replay_all(engine, actor="auditor"))
    assert results, "no cases"
    bad = [r.as_dict() for r in results if not r.ok]
    assert not bad, bad


@pytest.mark.parametrize(("name", "fn", "params"), JOURNEYS, ids=[
    f"{n}[{','.join(map(str, p.values()))}]" if p else n for n, _, p in JOURNEYS])
def test_journey_replays_to_its_projection(tmp_path: Path, db_url: str, name: str, fn: Any,
                                           params: dict[str, Any]) -> None:
    engine = bootstrap(write_config(tmp_path, db_url), create_key=True)
    engine.init()
    try:
        fn(engine, **params)
        _check_store(engine)
    finally:
        engine.db.dispose()


def test_journeys_found() -> None:
    assert len(JOURNEYS) >= 5


def test_generated_population_replays(tmp_path: Path, sqlite_url: str) -> None:
    from workflow.demo.population import populate

    engine = bootstrap(write_config(tmp_path, sqlite_url), create_key=True)
    engine.init()
    try:
        populate(engine, pupils=300, seed=7)
        _check_store(engine)
    finally:
        engine.db.dispose()

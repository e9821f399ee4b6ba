"""One rule for which schools a listing or report covers (Engine.schools_for): `case list`,
`audit compliance` and `audit export` refuse an unknown school (exit 2) and a school the user
does not serve (exit 3) with the same words, and otherwise cover the user's own schools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflow.domain.errors import NotFound, Refused
from workflow.service_layer.audit.compliance import compliance
from workflow.service_layer.audit.export import export
from workflow.service_layer.engine import Engine

IB = "ib.jansen"


def _commands(engine: Engine, tmp_path: Path) -> dict[str, Any]:
    return {
        "case list": lambda school: engine.list_cases(actor=IB, school=school),
        "compliance": lambda school: compliance(engine, actor=IB, school=school),
        "export": lambda school: export(engine, tmp_path / "out", actor=IB, school=school),
    }


def test_every_report_scopes_schools_alike(engine: Engine, tmp_path: Path) -> None:
    mine = engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"]
    engine.open_case(pupil="LL-2", school="het-anker", actor="ib.smit")
    assert engine.schools_for(engine.user(IB)) == ["de-linde"]
    assert engine.schools_for(engine.user("auditor")) is None
    for name, run in _commands(engine, tmp_path).items():
        with pytest.raises(NotFound) as unknown:
            run("nergens")
        assert unknown.value.message == "onbekende school 'nergens'", name
        with pytest.raises(Refused) as refused:
            run("het-anker")
        assert refused.value.message == f"{IB} werkt niet voor school 'het-anker'", name
        assert refused.value.reasons == [f"gebruiker '{IB}' heeft geen toegang tot school 'het-anker'"], name
    assert [c["case_id"] for c in engine.list_cases(actor=IB)] == [mine]
    assert [c["case_id"] for c in compliance(engine, actor=IB)["cases"]] == [mine]
    assert export(engine, tmp_path / "all", actor=IB)["counts"]["cases"] == 1
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text(encoding="utf-8"))
    assert [c["case_id"] for c in manifest["cases"]] == [mine]

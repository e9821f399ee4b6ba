"""Compliance: the legal rules per case from the events, pass / fail / not_due / n/a, per school."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, LK, clocked_engine, journey_to_opp
from tests.engine_support import adopt, walk_to_niveau_4
from workflow.service_layer.audit.compliance import compliance
from workflow.service_layer.engine import Engine

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)


def _rules(report: dict[str, Any], cid: str) -> dict[str, str]:
    case = next(c for c in report["cases"] if c["case_id"] == cid)
    return {r["rule"]: r["status"] for r in case["rules"]}


def _forge(engine: Engine, cid: str, trigger: str, source: str, dest: str, lf: int, lt: int) -> None:
    """Append a well-hashed transition that no guard checked (a store written around the engine)."""
    with engine.uow() as uow:
        case = uow.store.load(cid)
        assert case is not None
        payload = {"trigger": trigger, "source": source, "dest": dest, "level_from": lf, "level_to": lt,
                   "params": {}, "guards": []}
        ev = case.next_event(type="transitioned", payload=payload, actor=IB, role="ib",
                             recorded_at=engine.clock(), process=engine.definition)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=engine.clock())
        uow.commit()


def test_rules_pass_fail_and_not_due(config_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    good = journey_to_opp(engine, clock, pupil="GOOD")
    # a case forced through to an adopted OPP without any evidence, 8 weeks after level 4
    bad = engine.open_case(pupil="BAD", school="de-linde", actor=IB)["case_id"]
    for src, dst, lf, lt in (("niveau_1", "niveau_2", 1, 2), ("niveau_2", "niveau_3", 2, 3),
                             ("niveau_3", "niveau_4", 3, 4)):
        _forge(engine, bad, "escalate", src, dst, lf, lt)
    clock.advance(weeks=8)
    _forge(engine, bad, "start_opp", "niveau_4", "opp_concept", 4, 4)
    _forge(engine, bad, "adopt_opp", "opp_concept", "opp_vastgesteld", 4, 4)
    # a case waiting at level 4: within the 6 weeks
    waiting = engine.open_case(pupil="WAIT", school="de-linde", actor=IB)["case_id"]
    for src, dst, lf, lt in (("niveau_1", "niveau_2", 1, 2), ("niveau_2", "niveau_3", 2, 3),
                             ("niveau_3", "niveau_4", 3, 4)):
        _forge(engine, waiting, "escalate", src, dst, lf, lt)
    low = engine.open_case(pupil="LOW", school="het-anker", actor="ib.smit")["case_id"]

    report = compliance(engine, actor="auditor")
    assert _rules(report, good) == {
        "opp_binnen_6_weken": "pass", "opp_jaarlijks_geevalueerd": "not_due",
        "instemming_handelingsdeel": "pass", "leerling_gehoord": "pass",
        "oogo_voor_vaststelling_en_herziening": "pass",
        # adopted 8 weeks ago and never registered in ROD (four weeks' term)
        "rod_geregistreerd": "fail"}
    assert _rules(report, bad) == {
        "opp_binnen_6_weken": "fail", "opp_jaarlijks_geevalueerd": "not_due",
        "instemming_handelingsdeel": "fail", "leerling_gehoord": "fail",
        "oogo_voor_vaststelling_en_herziening": "fail", "rod_geregistreerd": "not_due"}
    assert _rules(report, waiting)["opp_binnen_6_weken"] == "not_due"
    assert set(_rules(report, low).values()) == {"n/a"}
    assert report["summary"]["de-linde"]["opp_binnen_6_weken"] == {"pass": 1, "fail": 1, "not_due": 1, "n/a": 0}
    assert report["summary"]["het-anker"]["leerling_gehoord"]["n/a"] == 1

    # a school year later: the waiting case missed its 6 weeks, the OPPs were never evaluated
    later = compliance(engine, actor="auditor", today=dt.date(2026, 8, 15))
    assert _rules(later, waiting)["opp_binnen_6_weken"] == "fail"
    assert _rules(later, good)["opp_jaarlijks_geevalueerd"] == "fail"
    # an evaluation with the parents in that school year makes it pass
    clock.now = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    engine.record("evaluation", good, actor=IB, outcome="voldoende", subject="opp", with_parents=True)
    again = compliance(engine, actor="auditor", today=dt.date(2026, 8, 15))
    yearly = next(r for r in next(c for c in again["cases"] if c["case_id"] == good)["rules"]
                  if r["rule"] == "opp_jaarlijks_geevalueerd")
    assert [d["status"] for d in yearly["details"]] == ["pass", "not_due"]  # 2025-26 done, 2026-27 runs
    assert yearly["status"] == "not_due"
    # the IB of one school sees only that school
    assert {c["case_id"] for c in compliance(engine, actor="ib.smit")["cases"]} == {low}
    engine.db.dispose()


def test_cli_compliance(config_path: Path, cli: Any) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_opp(engine, clock)
    engine.record("signal", engine.open_case(pupil="Q", school="de-linde", actor=IB)["case_id"],
                  actor=LK, area="lezen", note="n")
    engine.db.dispose()
    r = cli("audit", "compliance", "--json")
    assert r.code == 0, r.err
    assert cid in {c["case_id"] for c in r.json()["cases"]}
    text = cli("audit", "compliance", "--school", "de-linde")
    assert text.code == 0 and "opp_binnen_6_weken" in text.out
    assert cli("audit", "compliance", "--school", "het-anker", "--actor", IB).code == 3
    assert cli("audit", "compliance", "--school", "nergens").code == 2


def test_days_in_a_dispute_do_not_count_towards_the_six_weeks(config_path: Path) -> None:
    """Compliance and the reminders add the same paused days: 3 weeks in geschil during the draft
    move the OPP's due date 3 weeks on, so adopting at week 8 passes; without a dispute it fails."""
    engine, clock = clocked_engine(config_path, T0)
    disputed = walk_to_niveau_4(engine, pupil="GESCHIL")
    plain = walk_to_niveau_4(engine, pupil="GEWOON")
    level4 = engine.today()
    clock.advance(weeks=1)
    engine.fire(disputed, "start_opp", actor=IB)
    engine.record("consent", disputed, actor=IB, scope="opp_handelingsdeel", status="refused", by="moeder")
    engine.fire(disputed, "dispute", actor=IB)
    clock.advance(weeks=3)
    engine.fire(disputed, "resolve", actor=IB)
    clock.advance(weeks=3)
    due = level4 + dt.timedelta(weeks=6 + 3)
    shown = {d["name"]: d["due"] for d in engine.case(disputed, actor=IB)["deadlines"]}
    assert shown["opp_vaststellen"] == due.isoformat()  # what the IB is reminded of
    clock.advance(weeks=1)  # week 8
    engine.record("meeting", disputed, actor=IB, kind="oogo", participants="ouders")
    engine.record("consent", disputed, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", disputed, actor=IB, party="ouders", text="eens")
    engine.record("view", disputed, actor=IB, party="leerling", text="ja")
    engine.fire(disputed, "adopt_opp", actor=IB)
    adopt(engine, plain)
    assert (engine.today() - level4).days == 56

    report = compliance(engine, actor="auditor")
    assert _rules(report, disputed)["opp_binnen_6_weken"] == "pass"
    assert _rules(report, plain)["opp_binnen_6_weken"] == "fail"
    detail = next(r for r in next(c for c in report["cases"] if c["case_id"] == disputed)["rules"]
                  if r["rule"] == "opp_binnen_6_weken")["details"][0]["detail"]
    assert f"uiterlijk {due}, 21 dagen geschil niet meegeteld" in detail
    engine.db.dispose()


def _reference_text(report: dict[str, Any]) -> str:
    """The text report as it was rendered from the whole report in memory, before streaming."""
    from workflow.service_layer.audit.compliance import RULES

    lines = [f"Naleving op {report['today']}"]
    for sid, per in sorted(report["summary"].items()):
        lines.append(f"School {sid}:")
        for rule in RULES:
            c = per[rule]
            lines.append(f"  {rule:<38} voldaan {c['pass']:>4}  niet voldaan {c['fail']:>4}  "
                         f"nog niet aan de orde {c['not_due']:>4}  n.v.t. {c['n/a']:>4}")
    failing = [c for c in report["cases"] if any(r["status"] == "fail" for r in c["rules"])]
    if failing:
        lines.append("Niet voldaan:")
    for c in failing:
        for r in c["rules"]:
            for d in r["details"]:
                if d["status"] == "fail":
                    lines.append(f"  {c['case_id']:<12} {r['rule']}: {d['detail']}")
    if not report["cases"]:
        lines.append("geen casussen")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spool_bytes", [1 << 20, 64])
def test_cli_streams_the_same_report_as_the_api(
    config_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, spool_bytes: int,
) -> None:
    """The CLI judges case by case without holding the report; what it prints is the report the
    API builds in memory: the same JSON, and the same text whether the failing lines stayed in
    memory or went to a temporary file (64 bytes: after the first line)."""
    from workflow.entrypoints.cli import audit as cli_audit

    monkeypatch.setattr(cli_audit, "FAILING_SPOOL_BYTES", spool_bytes)
    engine, clock = clocked_engine(config_path, T0)
    journey_to_opp(engine, clock, pupil="GOOD")
    for pupil in ("BAD1", "BAD2", "BAD3"):
        bad = engine.open_case(pupil=pupil, school="de-linde", actor=IB)["case_id"]
        for src, dst, lf, lt in (("niveau_1", "niveau_2", 1, 2), ("niveau_2", "niveau_3", 2, 3),
                                 ("niveau_3", "niveau_4", 3, 4), ("niveau_4", "opp_concept", 4, 4),
                                 ("opp_concept", "opp_vastgesteld", 4, 4)):
            _forge(engine, bad, "escalate", src, dst, lf, lt)
    engine.open_case(pupil="LOW", school="het-anker", actor="ib.smit")
    js = cli("--json", "audit", "compliance")  # judged on the real today, as the CLI's clock runs
    assert js.code == 0, js.err
    report = compliance(engine, actor="auditor", today=dt.date.fromisoformat(js.json()["today"]))
    engine.db.dispose()
    assert sum(r["status"] == "fail" for c in report["cases"] for r in c["rules"]) >= 9
    assert js.json() == report
    text = cli("audit", "compliance")
    assert text.code == 0, text.err
    assert text.out == _reference_text(report)
    mine = cli("--json", "audit", "compliance", "--actor", "ib.smit")
    assert [c["case_id"] for c in mine.json()["cases"]] == [
        c["case_id"] for c in report["cases"] if c["school"] == "het-anker"]


def test_cli_on_an_empty_store(config_path: Path, cli: Any) -> None:
    engine, _clock = clocked_engine(config_path, T0)
    engine.db.dispose()
    text = cli("audit", "compliance")
    assert text.code == 0 and text.out.splitlines()[-1] == "geen casussen"
    js = cli("--json", "audit", "compliance")
    assert js.code == 0 and js.json()["cases"] == [] and js.json()["summary"] == {}

"""ROD registration, bringing in existing cases, and moving open cases to a new process version,
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, LK
from tests.conftest import STATES, write_config
from tests.opp_support import draft_full, to_adopted, v2_engine
from workflow.domain.errors import BadInput, Refused
from workflow.service_layer import imports, migrate, opp, rod
from workflow.service_layer.audit.compliance import compliance
from workflow.service_layer.audit.replay import replay_all
from workflow.service_layer.audit.verify import verify


@pytest.fixture
def v2(tmp_path: Path, db_url: str) -> Any:
    engine, clock = v2_engine(tmp_path, db_url)
    yield engine, clock
    engine.store.dispose()


def _rod_rule(report: dict[str, Any], cid: str) -> dict[str, Any]:
    case = next(c for c in report["cases"] if c["case_id"] == cid)
    return next(r for r in case["rules"] if r["rule"] == "rod_geregistreerd")


def _sound(engine: Any) -> None:
    results = list(replay_all(engine, actor="auditor"))
    assert all(r.ok for r in results), [r.as_dict() for r in results if not r.ok][:2]
    with engine.uow(write=False) as uow:
        assert verify(uow).ok


# ---- ROD -------------------------------------------------------------------------------------
def test_the_rod_list_shows_exactly_the_unregistered_dates_and_compliance_flags_them(v2: Any) -> None:
    engine, clock = v2
    a = to_adopted(engine, clock, pupil="A")
    b = to_adopted(engine, clock, pupil="B")
    adopted_b = engine.today()
    rod.mark(engine, b, actor=IB, which="start", registered_on=engine.today())
    clock.advance(days=10)
    engine.fire(b, "close", actor=IB, params={"reason": "verhuisd"})  # the OPP ends with the case
    closed_on = engine.today()
    open_rows = list(rod.rod_list(engine, actor=IB, unregistered=True))
    # a's adoption lies months back (b's whole journey came after it): overdue
    assert {(r["case_id"], r["which"], r["status"]) for r in open_rows} == {(a, "start", "overdue"),
                                                                              (b, "end", "open")}
    assert next(r for r in open_rows if r["case_id"] == b)["opp_date"] == closed_on.isoformat()
    everything = list(rod.rod_list(engine, actor=IB))
    assert {(r["case_id"], r["which"], r["registered_on"]) for r in everything} == {
        (a, "start", None), (b, "start", adopted_b.isoformat()), (b, "end", None)}
    # the running clock reminds the IB (the definition's rod_registratie deadline)
    view = engine.case(a, actor=IB)
    assert any(d["name"] == "rod_registratie" for d in view["deadlines"])
    clock.advance(weeks=5)
    report = compliance(engine, actor="auditor")
    assert _rod_rule(report, a)["status"] == "fail" and _rod_rule(report, b)["status"] == "fail"
    # registered after the closing: the only event besides erasure that may follow it
    rod.mark(engine, b, actor=IB, which="end", registered_on=engine.today())
    rod.mark(engine, a, actor=IB, which="start", registered_on=engine.today())
    assert list(rod.rod_list(engine, actor=IB, unregistered=True)) == []
    report = compliance(engine, actor="auditor")
    assert _rod_rule(report, a)["status"] == "pass" and _rod_rule(report, b)["status"] == "pass"
    with pytest.raises(BadInput, match="geen begindatum"):
        rod.mark(engine, a, actor=IB, which="start", registered_on=engine.today())
    with pytest.raises(Refused):
        rod.mark(engine, a, actor="dir.bakker", which="end", registered_on=engine.today())
    _sound(engine)


def test_rod_cli_lists_as_csv_and_marks(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from workflow.entrypoints.cli.main import main

    engine, clock = v2_engine(tmp_path, db_url)
    cid = to_adopted(engine, clock)
    engine.store.dispose()
    config = str(tmp_path / "config.toml")
    capsys.readouterr()
    assert main(["--config", config, "rod", "list", "--unregistered", "--format", "csv", "--actor", IB]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    # the CLI runs on the real clock: the adoption (on the test's clock) may lie weeks back
    assert [(r["case_id"], r["which"], r["status"] in ("open", "overdue")) for r in rows] == [(cid, "start", True)]
    day = rows[0]["opp_date"]
    assert main(["--config", config, "rod", "mark", cid, "--start", "--registered-on", "2999-01-01",
                 "--actor", IB]) == 2
    assert "in de toekomst" in capsys.readouterr().err
    assert main(["--config", config, "rod", "mark", cid, "--start", "--registered-on", day, "--actor", IB]) == 0
    capsys.readouterr()
    assert main(["--config", config, "rod", "list", "--unregistered", "--format", "json", "--actor", IB]) == 0
    assert capsys.readouterr().out.strip() == "[]"


# ---- import ----------------------------------------------------------------------------------
STATES_AT = ["niveau_1", "niveau_2", "niveau_3", "niveau_4", "opp_concept", "opp_vastgesteld", "3"]


def _rows(n: int, today: dt.date) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        state = STATES_AT[i % len(STATES_AT)]
        since = today - dt.timedelta(days=30 + i % 90)
        row = {"pupil": f"IMP-{i:04d}", "school": "de-linde" if i % 3 else "het-anker", "state": state,
               "since": since.isoformat(), "reason": "overgenomen uit ParnasSys", "name": f"Leerling {i}",
               "group": str(1 + i % 8), "opp_adopted_on": "", "rod_start_registered_on": ""}
        if state == "opp_vastgesteld":
            row["opp_adopted_on"] = (since + dt.timedelta(days=20)).isoformat()
            if i % 2:
                row["rod_start_registered_on"] = (since + dt.timedelta(days=25)).isoformat()
        rows.append(row)
    return rows


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_the_import_commands_line_counts_its_cases_in_plain_dutch(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One case reads "1 casus", more read "casussen" (a check, then an import)."""
    from workflow.entrypoints.cli.main import main

    engine, _ = v2_engine(tmp_path, db_url)
    engine.store.dispose()
    config = str(tmp_path / "config.toml")
    today = dt.date.today()
    two = _write(tmp_path / "two.csv", _rows(3, today)[1:])  # both at de-linde, the IB's school
    capsys.readouterr()
    assert main(["--config", config, "case", "import", str(two), "--dry-run", "--actor", IB]) == 0
    assert capsys.readouterr().out.strip() == "2 casussen nagegaan: alles in orde (niets ingevoerd)"
    assert main(["--config", config, "case", "import", "--pupil", "IMP-ONE", "--school", "de-linde",
                 "--state", "niveau_2", "--since", (today - dt.timedelta(days=30)).isoformat(),
                 "--reason", "overgenomen", "--actor", IB]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("1 casus ingevoerd: C-"), out


@pytest.mark.slow  # 200 cases, replayed and verified, on each store
def test_an_import_of_200_cases_at_every_level_replays_and_verifies(tmp_path: Path, db_url: str) -> None:
    engine, _ = v2_engine(tmp_path, db_url, extra='\n[[users]]\nid = "ib.beide"\nrole = "ib"\n'
                              'schools = ["de-linde", "het-anker"]\n')
    rows = _rows(200, engine.today())
    r = imports.import_csv(engine, _write(tmp_path / "cases.csv", rows), actor="ib.beide")
    assert r["cases"] == 200 and set(r["states"]) == set(STATES_AT[:-1])
    cases = engine.list_cases(actor="auditor")
    assert len(cases) == 200 and {c["level"] for c in cases} == {1, 2, 3, 4}
    _sound(engine)
    report = compliance(engine, actor="auditor")
    imported = [c for c in report["cases"] if "imported" in c]
    assert len(imported) == 200 and all("niet beoordeeld" in c["imported"]["note"] for c in imported)
    # an adopted OPP brought in: its ROD start is listed unless the file said it was registered
    starts = {r["case_id"]: r for r in rod.rod_list(engine, actor="auditor")}
    adopted = [row for row in rows if row["state"] == "opp_vastgesteld"]
    assert len(starts) == len(adopted)
    registered = sum(1 for a in adopted if a["rod_start_registered_on"])
    assert sum(1 for s in starts.values() if s["registered_on"]) == registered
    # a pupil already open is refused by line, and nothing of the second file goes in
    again = _write(tmp_path / "again.csv", [*_rows(1, engine.today()), *_rows(3, engine.today())[1:]])
    with pytest.raises(BadInput, match="regel 2: deze leerling heeft al een open casus"):
        imports.import_csv(engine, again, actor="ib.beide")
    assert len(engine.list_cases(actor="auditor")) == 200
    engine.store.dispose()


def test_a_bad_csv_line_names_its_number_and_imports_nothing(v2: Any, tmp_path: Path) -> None:
    engine, _ = v2
    rows = _rows(6, engine.today())
    rows = [r for r in rows if r["school"] == "de-linde"]
    for i, (field, value, message) in enumerate([
            ("state", "niveau_9", "onbekende status 'niveau_9'"),
            ("since", "2999-01-01", "in de toekomst"),
            ("since", "morgen", "geen datum"),
            ("opp_adopted_on", "", None),
            ("school", "elders", "onbekende school"),
            ("reason", "", "nog niet ingevuld: reason")]):
        bad = [dict(r) for r in rows]
        if field == "opp_adopted_on":
            bad[2]["state"], bad[2]["opp_adopted_on"] = "opp_vastgesteld", ""
            message = "vul opp_adopted_on in"
        else:
            bad[2][field] = value
        with pytest.raises(BadInput) as exc:
            imports.import_csv(engine, _write(tmp_path / f"bad{i}.csv", bad), actor=IB)
        assert exc.value.message.startswith("regel 4: ") and message in exc.value.message, exc.value.message
        assert "er is niets ingevoerd" in exc.value.message
        assert engine.list_cases(actor="auditor") == []
    dup = [dict(r) for r in rows] + [dict(rows[0])]
    with pytest.raises(BadInput, match=f"regel {len(dup) + 1}: deze leerling staat al op regel 2"):
        imports.import_csv(engine, _write(tmp_path / "dup.csv", dup), actor=IB)
    (tmp_path / "cols.csv").write_text("pupil,school,state,since,reden\n", encoding="utf-8")
    with pytest.raises(BadInput, match="regel 1: onbekende kolom 'reden'"):
        imports.import_csv(engine, tmp_path / "cols.csv", actor=IB)
    assert imports.import_csv(engine, _write(tmp_path / "ok.csv", rows), actor=IB, dry_run=True)["cases"] == len(rows)
    assert engine.list_cases(actor="auditor") == []


def test_a_concept_opp_brought_in_runs_its_six_weeks_from_the_day_level_4_began(v2: Any) -> None:
    """A case imported at `opp_concept` came through `niveau_4`: the OPP's six weeks run from the
    import's `since` (the day level 4 began), as the compliance report judges them, so the IB is
    reminded. An adopted OPP's import runs no such clock; no import starts a BOT referral's."""
    from sqlalchemy import select

    from workflow.adapters.store.tables import case_deadlines
    from workflow.domain import deadlines

    engine, _clock = v2
    today = engine.today()
    began = today - dt.timedelta(days=10)
    common = {"actor": IB, "school": "de-linde", "since": began.isoformat(), "reason": "overgenomen"}
    concept = imports.import_one(engine, pupil="LL-41", state="opp_concept", **common)["case_ids"][0]
    level4 = imports.import_one(engine, pupil="LL-42", state="niveau_4", **common)["case_ids"][0]
    adopted = imports.import_one(engine, pupil="LL-43", state="opp_vastgesteld",
                                 opp_adopted_on=began.isoformat(), **common)["case_ids"][0]
    running: dict[str, dict[str, dt.date]] = {}
    with engine.uow(write=False) as uow:
        for cid in (concept, level4, adopted):
            case = uow.store.load(cid)
            running[cid] = {r.name: r.due for r in deadlines.running(case, engine.definition_of(case), today)}
    six_weeks = began + dt.timedelta(weeks=6)
    assert running[concept].get("opp_vaststellen") == six_weeks == running[level4].get("opp_vaststellen")
    assert "opp_vaststellen" not in running[adopted] and "opp_evaluatie" in running[adopted]
    assert not any("bot_overleg" in r for r in running.values())
    with engine.db.connect() as conn:  # the work list's rows (Mijn werk, the reminders) have it too
        kept = {(r.case_id, r.deadline) for r in conn.execute(select(case_deadlines))}
    assert (concept, "opp_vaststellen") in kept and (adopted, "opp_vaststellen") not in kept
    report = compliance(engine, actor="auditor")
    rule = next(r for c in report["cases"] if c["case_id"] == concept
                for r in c["rules"] if r["rule"] == "opp_binnen_6_weken")
    assert rule["status"] == "not_due" and six_weeks.isoformat() in str(rule), rule
    _sound(engine)


def test_evidence_before_the_level_began_does_not_count_and_the_refusal_says_so(v2: Any) -> None:
    engine, clock = v2
    today = engine.today()
    began = today - dt.timedelta(days=60)
    cid = imports.import_one(engine, actor=IB, pupil="LL-7", school="de-linde", state="niveau_3",
                             since=began.isoformat(), reason="overgenomen uit ParnasSys")["case_ids"][0]
    old = began - dt.timedelta(days=100)
    engine.record("plan", cid, actor=LK, date=old, start=old, end=old + dt.timedelta(days=50), goals="g", who="oa",
                  frequency="3x")
    with pytest.raises(BadInput, match=r"hoort niet bij het huidige niveau|op het huidige niveau nog geen plan"):
        engine.record("evaluation", cid, actor=LK, outcome="onvoldoende", date=old + dt.timedelta(days=50))
    for _ in range(2):  # two plans of this level, their evaluations dated before it began
        engine.record("plan", cid, actor=LK, date=began, start=began, end=began + dt.timedelta(days=20), goals="g",
                      who="oa", frequency="3x")
        engine.record("evaluation", cid, actor=LK, outcome="onvoldoende", date=began + dt.timedelta(days=20))
    engine.record("meeting", cid, actor=IB, kind="expert", participants="IB, expert")
    engine.record("consent", cid, actor=IB, scope="externe_deskundige", status="granted", by="moeder")
    assert engine.check(cid, "escalate", actor=IB).allowed
    # the same with the evaluations dated before the level began: refused, and it says why
    other = imports.import_one(engine, actor=IB, pupil="LL-8", school="de-linde", state="3",
                               since=began.isoformat(), reason="overgenomen")["case_ids"][0]
    for _ in range(2):
        engine.record("plan", other, actor=LK, date=began - dt.timedelta(days=40),
                      start=began - dt.timedelta(days=40), end=began - dt.timedelta(days=1), goals="g", who="oa",
                      frequency="3x")
    with pytest.raises(BadInput, match=r"hoort niet bij het huidige niveau|nog geen plan"):
        engine.record("evaluation", other, actor=LK, outcome="onvoldoende")
    with pytest.raises(Refused) as exc:
        engine.fire(other, "escalate", actor=IB)
    assert any("tellen niet mee" in r or "telt niet mee" in r for r in exc.value.reasons) is False
    # evaluations of a plan recorded since, but dated before, the level began are named
    third = imports.import_one(engine, actor=IB, pupil="LL-9", school="de-linde", state="niveau_3",
                               since=today.isoformat(), reason="overgenomen")["case_ids"][0]
    clock.advance(days=1)
    engine.record("plan", third, actor=LK, start=engine.today(), end=engine.today() + dt.timedelta(days=1),
                  goals="g", who="oa", frequency="3x")
    _force_evaluations(engine, third, 2, dated=today - dt.timedelta(days=5))
    with pytest.raises(Refused) as exc:
        engine.fire(third, "escalate", actor=IB)
    month = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
             "november", "december"]
    words = f"{today.day} {month[today.month - 1]} {today.year}"
    assert f"2 evaluaties van vóór {words}, toen niveau 3 begon, tellen niet mee." in " ".join(exc.value.reasons)


def _force_evaluations(engine: Any, cid: str, n: int, dated: dt.date) -> None:
    """Evaluations dated before the level began (the record command refuses a date before its
    plan's start; a school entering old paper evaluations meets exactly this)."""
    from workflow.domain.events import make_event

    with engine.uow() as uow:
        case = uow.store.load(cid)
        plan = max(f.seq for f in case.facts.facts if f.kind == "plan")
        for _ in range(n):
            payload = {"kind": "evaluation", "date": dated.isoformat(), "level": 3, "state": "niveau_3",
                       "fields": {"outcome": "onvoldoende", "subject": "plan", "with_parents": False, "plan": plan},
                       "secret": {}}
            ev = make_event(case_id=cid, seq=case.version + 1, type="evidence_recorded", process_id=case.process_id,
                            process_version=case.process_version, actor=LK, role="leerkracht",
                            recorded_at=engine.clock(), payload=payload, prev_hash=case.head_hash)
            expected = case.version
            case.apply(ev)
            uow.store.append(case, [ev], expected_version=expected, now=engine.clock())
        uow.commit()


# ---- migrate ---------------------------------------------------------------------------------
def test_a_migrate_dry_run_changes_nothing_and_a_migrate_moves_every_mapped_case(
        tmp_path: Path, db_url: str) -> None:
    from tests.audit_support import clocked_engine, journey_to_opp
    from tests.opp_support import T0

    engine, clock = clocked_engine(write_config(tmp_path, db_url), T0)  # version 1 active
    adopted = journey_to_opp(engine, clock, pupil="OPP-1")
    others = [engine.open_case(pupil=f"M-{i}", school="de-linde", actor=IB)["case_id"] for i in range(4)]
    closed = engine.open_case(pupil="M-closed", school="de-linde", actor=IB)["case_id"]
    engine.fire(closed, "close", actor=IB, params={"reason": "verhuisd"})
    with engine.uow(write=False) as uow:
        before = {c: uow.store.events_of(c)[-1].hash for c in [adopted, *others, closed]}
    dry = migrate.migrate(engine, to=2, actor=IB, dry_run=True)
    assert {c["case_id"] for c in dry["cases"]} == {adopted, *others} and all(c["ok"] for c in dry["cases"])
    with engine.uow(write=False) as uow:
        assert {c: uow.store.events_of(c)[-1].hash for c in before} == before
    r = migrate.migrate(engine, to=2, actor=IB)
    assert r["moved"] == 5
    summaries = {c["case_id"]: c for c in engine.list_cases(actor="auditor")}
    assert set(others) <= set(summaries)
    with engine.uow(write=False) as uow:
        for c in [adopted, *others]:
            evs = uow.store.events_of(c)
            assert evs[-1].type == "migrated" and evs[-1].process_version == 2
            assert {e.process_version for e in evs[:-1]} == {1}
            assert uow.cases.get(c).process_version == 2
        assert uow.cases.get(closed).process_version == 1
    _sound(engine)
    # after the move the new version's rules apply: the OPP is revised as a document
    engine.record("meeting", adopted, actor=IB, kind="oogo", participants="ouders")
    engine.fire(adopted, "revise_opp", actor=IB)
    draft_full(engine, adopted)
    assert opp.show(engine, adopted, actor=IB)["process"] == "passend-po@2"
    _sound(engine)
    assert migrate.migrate(engine, to=2, actor=IB, dry_run=True)["cases"] == []
    engine.store.dispose()


def test_a_case_whose_state_has_no_mapping_is_refused_and_named(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "states"
    folder.mkdir()
    for f in ("passend_po_v1.toml", "passend_po_v2.toml"):
        (folder / f).write_text((STATES / f).read_text(encoding="utf-8"), encoding="utf-8")
    v3 = (STATES / "passend_po_v2.toml").read_text(encoding="utf-8").replace("version = 2\n", "version = 3\n", 1)
    v3 = v3.replace("from = 1\n", "from = 2\n").replace(', niveau_2 = "niveau_2"', "")
    (folder / "passend_po_v3.toml").write_text(v3, encoding="utf-8")
    engine, _ = v2_engine(tmp_path, db_url)
    engine.store.dispose()
    from tests.audit_support import clocked_engine
    from tests.opp_support import T0

    engine, _ = clocked_engine(write_config(tmp_path, db_url, definition=folder / "passend_po_v2.toml"), T0)
    stuck = engine.open_case(pupil="S", school="de-linde", actor=IB)["case_id"]
    engine.record("signal", stuck, actor=LK, area="lezen", note="n")
    engine.fire(stuck, "escalate", actor=LK)
    fine = engine.open_case(pupil="F", school="de-linde", actor=IB)["case_id"]
    dry = migrate.migrate(engine, to=3, actor=IB, dry_run=True)
    assert {(c["case_id"], c["ok"]) for c in dry["cases"]} == {(stuck, False), (fine, True)}
    with pytest.raises(Refused) as exc:
        migrate.migrate(engine, to=3, actor=IB)
    assert any(stuck in r and "niveau_2" in r for r in exc.value.reasons)
    with engine.uow(write=False) as uow:  # all or nothing
        assert uow.cases.get(fine).process_version == 2
    with pytest.raises(Refused):
        migrate.migrate(engine, to=3, actor=LK)
    engine.store.dispose()


def test_a_broken_definition_file_stops_only_its_own_version(tmp_path: Path, db_url: str) -> None:
    from tests.audit_support import clocked_engine
    from tests.opp_support import T0
    from workflow.domain.errors import DefinitionError

    folder = tmp_path / "states"
    folder.mkdir()
    for f in ("passend_po_v1.toml", "passend_po_v2.toml"):
        (folder / f).write_text((STATES / f).read_text(encoding="utf-8"), encoding="utf-8")
    engine, _ = clocked_engine(write_config(tmp_path, db_url, definition=folder / "passend_po_v1.toml"), T0)
    old = engine.open_case(pupil="OLD", school="de-linde", actor=IB)["case_id"]
    engine.store.dispose()
    broken = (folder / "passend_po_v1.toml").read_text(encoding="utf-8").replace(
        'kind = "expert" }', 'kind = "deskundige" }', 1)
    (folder / "passend_po_v1.toml").write_text(broken, encoding="utf-8")
    engine, _ = clocked_engine(write_config(tmp_path, db_url, definition=folder / "passend_po_v2.toml"), T0)
    assert list(engine.registry.broken) == [str(folder / "passend_po_v1.toml")]
    new = engine.open_case(pupil="NEW", school="de-linde", actor=IB)["case_id"]  # the others keep working
    engine.record("signal", new, actor=LK, area="lezen", note="n")
    with pytest.raises(DefinitionError) as exc:
        engine.record("signal", old, actor=LK, area="lezen", note="n")
    assert "passend_po_v1.toml" in exc.value.message and "(regel " in exc.value.message
    engine.store.dispose()


@pytest.mark.parametrize("digest", [False, True])
def test_a_closed_cases_rod_end_date_is_reminded_and_listed_until_registered(
        tmp_path: Path, db_url: str, digest: bool) -> None:
    """The OPP's end date arises when the case closes; its ROD clock outlives the case: the
    reminder goes out on a tick (also the digest's tick), Mijn werk lists it, and registering
    it stops both."""
    from tests.reminders_support import smtp_extra, smtp_server
    from workflow.bootstrap import reminder_service
    from workflow.service_layer import worklist

    with smtp_server() as (port, inbox):
        engine, clock = v2_engine(tmp_path, db_url, extra=smtp_extra(port, digest=digest))
        try:
            cid = to_adopted(engine, clock)
            rod.mark(engine, cid, actor=IB, which="start", registered_on=engine.today())
            clock.advance(days=10)
            engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
            closed_on = engine.today()
            view = engine.case(cid, actor=IB)
            assert [d["name"] for d in view["deadlines"]] == ["rod_registratie"]
            service = reminder_service(engine, clock)

            def at(days: int) -> dict[str, int]:
                clock.now = dt.datetime.combine(closed_on + dt.timedelta(days=days), dt.time(8, 0),
                                                tzinfo=dt.UTC)
                return service.tick()

            at(1)
            sent_before = len(inbox.messages())

            def listed() -> list[str]:
                return [i.case_id for w in worklist.my_work(engine, actor=IB) for i in w.due_week + w.overdue]

            # four weeks, reminded one week before: the 21st day (or the school day before it)
            for day in range(14, 25):
                at(day)
            assert cid in listed()  # on Mijn werk: due this week
            reminders = [m for m in inbox.messages()[sent_before:] if "ROD" in m.get_body(("plain",)).get_content()]
            assert len(reminders) == 1, [m["Subject"] for m in inbox.messages()]
            assert "Sanne" not in reminders[0]["Subject"]
            rod.mark(engine, cid, actor=IB, which="end", registered_on=engine.today())
            assert engine.case(cid, actor=IB)["deadlines"] == [] and cid not in listed()
            count = len(inbox.messages())
            for day in range(25, 40):
                at(day)
            assert not [m for m in inbox.messages()[count:] if "ROD" in m.get_body(("plain",)).get_content()]
            _sound(engine)
        finally:
            engine.store.dispose()

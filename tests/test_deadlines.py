"""Deadlines as data: parsed from the definition, computed from a case's events (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import STATES, write_config
from tests.reminders_support import IB, Clock, adopt_opp, clocked_engine, deadline, to_niveau_4
from workflow.domain.case import Case
from workflow.domain.deadlines import parse_duration, running, school_year_end
from workflow.domain.definition import load_definition
from workflow.domain.errors import DefinitionError
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.service_layer.engine import Engine

D0 = dt.date(2026, 9, 7)  # a Monday


@pytest.fixture
def clock() -> Clock:
    return Clock(D0)


@pytest.fixture
def eng(tmp_path: Path, sqlite_url: str, clock: Clock):
    e = clocked_engine(write_config(tmp_path, sqlite_url), clock)
    yield e
    e.db.dispose()


def test_durations_and_school_year() -> None:
    assert parse_duration("6w").days == 42  # type: ignore[union-attr]
    assert parse_duration("10d").days == 10  # type: ignore[union-attr]
    assert parse_duration("6 weeks") is None
    assert school_year_end(dt.date(2026, 8, 1)) == dt.date(2027, 7, 31)
    assert school_year_end(dt.date(2027, 7, 31)) == dt.date(2027, 7, 31)


def test_seed_declares_the_default_deadlines() -> None:
    d = load_definition(STATES / "passend_po_v1.toml")
    by = {x.name: x for x in d.deadlines}
    assert set(by) == {"plan_evaluatie", "opp_vaststellen", "opp_evaluatie", "bot_overleg"}
    opp = by["opp_vaststellen"]
    assert (opp.due.days, [r.days for r in opp.remind], opp.escalate_after.days) == (42, [14, 3], 7)  # type: ignore[union-attr]
    assert by["opp_evaluatie"].due is None and by["opp_evaluatie"].meeting
    assert by["plan_evaluatie"].remind[0].days == 7


def _with_deadlines(tmp_path: Path, block: str) -> Path:
    text = (STATES / "passend_po_v1.toml").read_text(encoding="utf-8")
    text = text[: text.index("[[deadlines]]")] + block
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(("block", "key"), [
    ('[[deadlines]]\nname = "x"\nstart = { entered = "nergens" }\ndue = "6w"\n', "deadlines[0].start.entered"),
    ('[[deadlines]]\nname = "x"\nstart = { entered = "niveau_4" }\ndue = "6 weken"\n', "deadlines[0].due"),
    ('[[deadlines]]\nname = "x"\nstart = { entered = "niveau_4" }\ndue = "6w"\nremind = ["2x"]\n',
     "deadlines[0].remind[0]"),
    ('[[deadlines]]\nname = "x"\nstart = { entered = "niveau_4" }\ndue = "6w"\n'
     'stop = [{ evidence = "meeting", where = { kind = "feest" } }]\n', "deadlines[0].stop[0].where.kind"),
    ('[[deadlines]]\nname = "x"\nstart = { entered = "niveau_4" }\ndue = "6w"\n'
     'stop = [{ evidence = "signal", where = { note = "x" } }]\n', "deadlines[0].stop[0].where.note"),
    ('[[deadlines]]\nname = "x"\nstart = { entered = "niveau_4" }\ndue = "6w"\nsoon = 3\n', "deadlines[0].soon"),
    # checked as a guard's filter is (one parser): types, and no trigger parameters
    ('[[deadlines]]\nname = "x"\nstart = { opp_adopted = true }\ndue = "school_year_end"\n'
     'restart = [{ evidence = "evaluation", where = { with_parents = "true" } }]\n',
     "deadlines[0].restart[0].where.with_parents"),
    ('[[deadlines]]\nname = "x"\nstart = { entered = "niveau_4" }\ndue = "6w"\n'
     'stop = [{ evidence = "meeting", where = { outcome = "{outcome}" } }]\n', "deadlines[0].stop[0].where.outcome"),
])
def test_bad_declarations_name_file_and_key(tmp_path: Path, block: str, key: str) -> None:
    p = _with_deadlines(tmp_path, block)
    with pytest.raises(DefinitionError) as err:
        load_definition(p)
    assert str(err.value).startswith(f"{p}: {key}:")
    assert "\n" not in str(err.value)


def _shown(eng: Engine, cid: str, name: str) -> dict[str, Any]:
    """The deadline `name` as `case show` lists it; it must be running."""
    d = deadline(eng.case(cid, actor=IB), name)
    assert d is not None, name
    return d


def test_opp_deadline_runs_from_niveau_4_and_stops_at_adoption(eng, clock: Clock) -> None:
    cid = to_niveau_4(eng)
    view = eng.case(cid, actor=IB)
    d = deadline(view, "opp_vaststellen")
    # the rule's day (a Monday in the autumn holiday); people are given the school day before it
    assert d is not None and d["due_by_rule"] == (D0 + dt.timedelta(weeks=6)).isoformat()
    assert d["due"] == "2026-10-16"
    assert d["status"] == "ok"
    clock.set(D0 + dt.timedelta(days=30))
    assert _shown(eng, cid, "opp_vaststellen")["status"] == "soon"
    clock.set(D0 + dt.timedelta(days=43))
    assert _shown(eng, cid, "opp_vaststellen")["status"] == "overdue"
    adopt_opp(eng, cid)
    view = eng.case(cid, actor=IB)
    assert deadline(view, "opp_vaststellen") is None
    yearly = deadline(view, "opp_evaluatie")
    assert yearly is not None and yearly["due_by_rule"] == "2027-07-31"


def test_geschil_pauses_and_resumes_the_clock(eng, clock: Clock) -> None:
    cid = to_niveau_4(eng)
    eng.fire(cid, "start_opp", actor=IB)
    clock.set(D0 + dt.timedelta(days=10))
    eng.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="refused", by="vader")
    eng.fire(cid, "dispute", actor=IB)
    clock.set(D0 + dt.timedelta(days=15))
    d = _shown(eng, cid, "opp_vaststellen")
    assert d["paused"] is True
    assert d["due_by_rule"] == (D0 + dt.timedelta(days=42 + 5)).isoformat()  # frozen: moves with today
    clock.set(D0 + dt.timedelta(days=20))
    eng.fire(cid, "resolve", actor=IB)
    clock.set(D0 + dt.timedelta(days=25))
    d = _shown(eng, cid, "opp_vaststellen")
    assert d["paused"] is False
    assert d["due_by_rule"] == (D0 + dt.timedelta(days=42 + 10)).isoformat()  # 10 paused days added


def test_plan_evaluation_is_due_at_the_plan_end_and_stops_on_its_evaluation(eng, clock: Clock) -> None:
    cid = eng.open_case(pupil="LL-2", school="de-linde", actor=IB)["case_id"]
    end = D0 + dt.timedelta(weeks=8)
    eng.record("plan", cid, actor=IB, start=D0, end=end, goals="g", who="lk", frequency="2x")
    d = deadline(eng.case(cid, actor=IB), "plan_evaluatie")
    assert d is not None and d["due"] == end.isoformat()
    clock.set(end)
    eng.record("evaluation", cid, actor=IB, outcome="voldoende")
    assert deadline(eng.case(cid, actor=IB), "plan_evaluatie") is None


def test_opp_evaluation_with_parents_moves_the_yearly_deadline(eng, clock: Clock) -> None:
    cid = to_niveau_4(eng)
    adopt_opp(eng, cid)
    clock.set(dt.date(2027, 3, 1))
    eng.record("evaluation", cid, actor=IB, outcome="voldoende", subject="opp", with_parents=True)
    d = _shown(eng, cid, "opp_evaluatie")
    assert d["due_by_rule"] == "2028-07-31"
    # An evaluation without the parents does not count.
    eng.record("evaluation", cid, actor=IB, outcome="voldoende", subject="opp", with_parents=False)
    assert _shown(eng, cid, "opp_evaluatie")["due_by_rule"] == "2028-07-31"


def test_closed_case_has_no_running_deadlines(eng) -> None:
    cid = to_niveau_4(eng)
    eng.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    assert eng.case(cid, actor=IB)["deadlines"] == []


def test_case_show_prints_the_deadlines(tmp_path: Path, sqlite_url: str, clock: Clock, capsys) -> None:
    from workflow.entrypoints.cli.main import main

    cfg = write_config(tmp_path, sqlite_url)
    e = clocked_engine(cfg, clock)
    cid = to_niveau_4(e)
    e.db.dispose()
    capsys.readouterr()
    assert main(["--config", str(cfg), "case", "show", cid, "--actor", IB]) == 0
    out = capsys.readouterr().out
    assert "Termijn:  OPP vaststellen (uiterlijk 6 weken na niveau 4, WPO art. 40a lid 2): uiterlijk" in out


# ---- pure: cases folded from hand-made events ------------------------------------------------


SEED = load_definition(STATES / "passend_po_v1.toml")
LEVEL = {s: d.level for s, d in SEED.states.items()}


def _case(moves: list[tuple[dt.date, str, str]]) -> Case:
    """A case opened in niveau_3 on its first move's day, then moved (day, source, dest)."""
    def at(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, 10, tzinfo=dt.UTC)

    evs = [make_event(case_id="C-PURE0001", seq=1, type="case_opened", process_id=SEED.id,
                      process_version=SEED.version, actor="ib", role="ib", recorded_at=at(moves[0][0]),
                      payload={"school": "de-linde", "pupil": "x", "state": "niveau_3", "level": 3},
                      prev_hash=GENESIS_HASH)]
    for day, source, dest in moves:
        evs.append(make_event(
            case_id="C-PURE0001", seq=len(evs) + 1, type="transitioned", process_id=SEED.id,
            process_version=SEED.version, actor="ib", role="ib", recorded_at=at(day),
            payload={"trigger": "t", "source": source, "dest": dest, "level_from": LEVEL[source],
                     "level_to": LEVEL[dest], "params": {}, "guards": []},
            prev_hash=evs[-1].hash))
    return Case.from_events(evs)


@settings(max_examples=150, deadline=None)
@given(start=st.dates(min_value=dt.date(2026, 8, 1), max_value=dt.date(2027, 6, 1)),
       gaps=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=3),
       tail=st.integers(0, 30), open_end=st.booleans())
def test_paused_days_are_added_to_the_due_date(start: dt.date, gaps: list[tuple[int, int]], tail: int,
                                               open_end: bool) -> None:
    day = start
    moves = [(day, "niveau_3", "niveau_4"), (day, "niveau_4", "opp_concept")]
    paused = 0
    for before, length in gaps:
        day += dt.timedelta(days=before)
        moves.append((day, "opp_concept", "geschil"))
        day += dt.timedelta(days=length)
        moves.append((day, "geschil", "opp_concept"))
        paused += length
    if open_end:
        moves.append((day, "opp_concept", "geschil"))
    today = day + dt.timedelta(days=tail)
    (r,) = [x for x in running(_case(moves), SEED, today) if x.name == "opp_vaststellen"]
    extra = tail if open_end else 0
    assert r.due == start + dt.timedelta(days=42 + paused + extra)
    assert r.paused is open_end
    assert r.anchor == "e2"


@pytest.mark.parametrize(("where", "fields", "match"), [
    ((("subject", "opp"), ("with_parents", True)), {"subject": "opp", "with_parents": True}, True),
    ((("subject", "opp"), ("with_parents", True)), {"subject": "opp", "with_parents": False}, False),
    ((("outcome", ("advies", "arrangement")),), {"outcome": "advies"}, True),
    ((("outcome", ("advies", "arrangement")),), {"outcome": "tlv"}, False),
    ((("kind", "bot"),), {}, False),
])
def test_a_deadline_condition_matches_as_a_guard_filter(where: tuple, fields: dict, match: bool) -> None:
    from workflow.domain.deadlines import Condition
    from workflow.domain.guards import fields_match

    assert fields_match(fields, where) is match
    assert Condition(evidence="meeting", where=where).matches_fact("meeting", fields) is match
    assert not Condition(evidence="signal", where=where).matches_fact("meeting", fields)

"""The Engine API on a real store: roles, schools, refusals that store nothing, dry runs,
optimistic concurrency, and old cases decided by the definition version they were opened under."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from workflow.bootstrap import bootstrap
from workflow.domain.errors import BadInput, Conflict, NotFound, Refused
from workflow.service_layer.engine import Engine

from .conftest import write_config
from .engine_support import DEFAULT, dump, walk_to_niveau_4

IB, LK, DIR, AUD, SMIT = "ib.jansen", "lk.devries", "dir.bakker", "auditor", "ib.smit"


def opened(engine: Engine, pupil: str = "LL-1", school: str = "de-linde", actor: str = IB) -> str:
    return str(engine.open_case(pupil=pupil, school=school, actor=actor)["case_id"])


def at_niveau_2(engine: Engine) -> str:
    cid = opened(engine)
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    engine.fire(cid, "escalate", actor=LK)
    today = engine.today()
    engine.record("plan", cid, actor=LK, start=today - dt.timedelta(days=30), end=today, goals="g",
                  who="w", frequency="f")
    engine.record("evaluation", cid, actor=LK, outcome="onvoldoende")
    engine.record("contact", cid, actor=LK, method="telefoon")
    return cid


def test_open_case_and_read_it_back(engine: Engine) -> None:
    r = engine.open_case(pupil="LL-7", school="de-linde", actor=LK, name="Sanne", group=4)
    assert r["state"] == "niveau_1" and r["level"] == 1 and r["version"] == 1
    v = engine.case(r["case_id"], actor=IB)
    assert (v["pupil"], v["name"], v["group"], v["school"]) == ("LL-7", "Sanne", 4, "de-linde")
    assert v["evidence"] == [] and v["history"] == []
    assert {(o["trigger"], o["allowed"]) for o in v["options"]} == {("escalate", False), ("close", True)}
    rows = engine.list_cases(actor=IB)
    assert [(x["case_id"], x["state"], x["group"]) for x in rows] == [(r["case_id"], "niveau_1", 4)]
    assert "LL-7" not in repr(rows) and "Sanne" not in repr(rows)


def test_open_case_bad_input(engine: Engine) -> None:
    for kwargs, err in [
        ({"pupil": "", "school": "de-linde"}, BadInput),
        ({"pupil": "a b", "school": "de-linde"}, BadInput),
        ({"pupil": "x" * 65, "school": "de-linde"}, BadInput),
        ({"pupil": "P1", "school": "de-eik"}, NotFound),
        ({"pupil": "P1", "school": "de-linde", "group": 9}, BadInput),
        # would enter the chain as true / 5.0: the export's specification has integers only
        ({"pupil": "P1", "school": "de-linde", "group": True}, BadInput),
        ({"pupil": "P1", "school": "de-linde", "group": 5.0}, BadInput),
        ({"pupil": "P1", "school": "de-linde", "name": "  "}, BadInput),
    ]:
        with pytest.raises(err):
            engine.open_case(actor=IB, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        engine.open_case(pupil="P1", school="de-linde", actor="nobody")


def test_one_open_case_per_pupil_and_school(engine: Engine) -> None:
    cid = opened(engine, "LL-1")
    with pytest.raises(Refused) as refused:
        opened(engine, "LL-1")
    assert cid in refused.value.reasons[0]
    opened(engine, "LL-1", school="het-anker", actor=SMIT)  # another school's pupil LL-1
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    assert opened(engine, "LL-1") != cid  # after closing, a new case may start


# ---- roles --------------------------------------------------------------------------------

def test_leerkracht_records_but_fires_only_escalate_from_niveau_1(engine: Engine) -> None:
    cid = at_niveau_2(engine)
    before = dump(engine.db)
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "escalate", actor=LK)
    assert refused.value.reasons == [
        "Als leerkracht mag u ‘Opschalen’ niet doen bij de stand ‘Niveau 2: extra aandacht in de klas’; "
        "dat mag: intern begeleider."]
    assert [r["code"] for r in refused.value.details] == ["role_may_not_fire"]
    for kind, fields in [("consent", {"scope": "externe_deskundige", "status": "granted", "by": "m"}),
                         ("view", {"party": "ouders", "text": "t"}),
                         ("meeting", {"kind": "oogo", "participants": "p"})]:
        with pytest.raises(Refused, match="geweigerd") as refused:
            engine.record(kind, cid, actor=LK, **fields)
        label = engine.definition.evidence_kinds[kind].label
        assert refused.value.reasons == [f"Als leerkracht mag u geen {label} vastleggen."]
    with pytest.raises(Refused):
        engine.fire(cid, "close", actor=LK, params={"reason": "verhuisd"})
    assert dump(engine.db) == before
    assert engine.fire(cid, "escalate", actor=IB)["state"] == "niveau_3"


@pytest.mark.parametrize("reader", [DIR, AUD])
def test_directeur_and_auditor_read_but_never_write(engine: Engine, reader: str) -> None:
    cid = opened(engine)
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    before = dump(engine.db)
    with pytest.raises(Refused, match="geweigerd") as refused:
        engine.open_case(pupil="LL-2", school="de-linde", actor=reader)
    assert "mag u geen casus openen" in refused.value.reasons[0]
    for kind, fields in [("signal", {"area": "lezen", "note": "n"}), ("contact", {"method": "brief"})]:
        with pytest.raises(Refused):
            engine.record(kind, cid, actor=reader, **fields)
    for trigger, params in [("escalate", {}), ("close", {"reason": "verhuisd"})]:
        with pytest.raises(Refused) as refused:
            engine.fire(cid, trigger, actor=reader, params=params)
        assert any(r["code"] == "role_may_not_fire" for r in refused.value.details)
        assert not engine.check(cid, trigger, actor=reader, params=params).allowed
    assert dump(engine.db) == before
    view = engine.case(cid, actor=reader)
    assert view["state"] == "niveau_1" and not any(o["allowed"] for o in view["options"])
    assert [r["case_id"] for r in engine.list_cases(actor=reader)] == [cid]


def test_users_are_limited_to_their_schools(engine: Engine) -> None:
    linde = opened(engine, "LL-1")
    anker = opened(engine, "AN-1", school="het-anker", actor=SMIT)
    before = dump(engine.db)
    with pytest.raises(Refused, match="werkt niet voor school 'de-linde'"):
        engine.case(linde, actor=SMIT)
    with pytest.raises(Refused):
        engine.record("signal", linde, actor=SMIT, area="lezen", note="n")
    with pytest.raises(Refused):
        engine.fire(linde, "close", actor=SMIT, params={"reason": "verhuisd"})
    with pytest.raises(Refused):
        engine.check(linde, "close", actor=SMIT, params={"reason": "verhuisd"})
    with pytest.raises(Refused):
        engine.open_case(pupil="LL-9", school="de-linde", actor=SMIT)
    with pytest.raises(Refused):
        engine.list_cases(actor=SMIT, school="de-linde")
    with pytest.raises(Refused):
        engine.case(anker, actor=LK)
    assert dump(engine.db) == before
    assert [r["case_id"] for r in engine.list_cases(actor=SMIT)] == [anker]
    assert [r["case_id"] for r in engine.list_cases(actor=LK)] == [linde]
    assert {r["case_id"] for r in engine.list_cases(actor=AUD)} == {linde, anker}
    assert [r["case_id"] for r in engine.list_cases(actor=AUD, school="het-anker")] == [anker]
    with pytest.raises(NotFound):
        engine.list_cases(actor=AUD, school="de-eik")
    with pytest.raises(BadInput):
        engine.list_cases(actor=AUD, state="niveau_9")
    assert engine.list_cases(actor=AUD, state="afgesloten") == []


# ---- refusals store nothing -----------------------------------------------------------------

def test_every_refusal_names_every_reason_and_stores_nothing(engine: Engine) -> None:
    cid = opened(engine)
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    engine.fire(cid, "escalate", actor=IB)
    before = dump(engine.db)
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "escalate", actor=IB)
    assert len(refused.value.reasons) == 2
    with pytest.raises(Refused, match="geweigerd"):
        engine.fire(cid, "adopt_opp", actor=IB)
    with pytest.raises(BadInput):
        engine.fire(cid, "close", actor=IB)
    with pytest.raises(NotFound):
        engine.fire(cid, "jump", actor=IB)
    with pytest.raises(NotFound):
        engine.fire("C-NOTHERE", "close", actor=IB, params={"reason": "verhuisd"})
    assert dump(engine.db) == before


def test_dry_run_and_check_store_nothing(engine: Engine) -> None:
    cid = opened(engine)
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    before = dump(engine.db)
    r = engine.fire(cid, "escalate", actor=LK, dry_run=True)
    assert r["dry_run"] and r["allowed"] and r["dest"] == "niveau_2"
    d = engine.check(cid, "escalate", actor=LK)
    assert d.allowed and d.dest == "niveau_2" and d.checked
    with pytest.raises(Refused):
        engine.fire(cid, "start_opp", actor=IB, dry_run=True)
    assert dump(engine.db) == before
    assert engine.case(cid, actor=IB)["version"] == 2


def test_revocation_needs_a_grant_and_blocks_adoption(engine: Engine) -> None:
    cid = walk_to_niveau_4(engine)
    engine.fire(cid, "start_opp", actor=IB)
    before = dump(engine.db)
    with pytest.raises(BadInput, match="geen verleende toestemming"):
        engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="revoked", by="m")
    assert dump(engine.db) == before
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="m")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", text="ja")
    assert engine.check(cid, "adopt_opp", actor=IB).allowed
    with pytest.raises(BadInput, match="ligt voor het laatste besluit"):
        engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="revoked", by="m",
                      date=engine.today() - dt.timedelta(days=1))
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="revoked", by="m")
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "adopt_opp", actor=IB)
    assert refused.value.reasons == [
        "De ouders hebben hun toestemming voor het handelingsdeel van het OPP ingetrokken "
        "sinds de stap ‘OPP in concept’ begon."]
    with pytest.raises(BadInput, match="geen verleende toestemming"):  # twice revoked
        engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="revoked", by="m")
    # With consent withheld the parents' dispute is possible.
    assert engine.fire(cid, "dispute", actor=IB)["state"] == "geschil"
    assert engine.fire(cid, "resolve", actor=IB)["state"] == "opp_concept"


def test_a_closed_case_refuses_everything(engine: Engine) -> None:
    cid = opened(engine)
    engine.fire(cid, "close", actor=IB, params={"reason": "niet_meer_nodig"})
    before = dump(engine.db)
    with pytest.raises(Refused) as refused:
        engine.record("signal", cid, actor=IB, area="lezen", note="n")
    assert refused.value.reasons == ["De casus is afgesloten."]
    for trigger, params in [("escalate", {}), ("close", {"reason": "verhuisd"})]:
        with pytest.raises(Refused) as refused:
            engine.fire(cid, trigger, actor=IB, params=params)
        assert refused.value.reasons == ["De casus is afgesloten."]
    assert dump(engine.db) == before
    v = engine.case(cid, actor=IB)
    assert v["state"] == "afgesloten" and v["level"] is None and v["close_reason"] == "niet_meer_nodig"
    assert v["options"] == []


# ---- optimistic concurrency ---------------------------------------------------------------

def test_two_writers_on_one_version_one_wins(engine: Engine) -> None:
    cid = opened(engine)
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    seen = engine.case(cid, actor=IB)["version"]
    engine.record("contact", cid, actor=IB, method="brief", expected_version=seen)
    before = dump(engine.db)
    with pytest.raises(Conflict, match=f"versie {seen + 1}, niet {seen}"):
        engine.fire(cid, "escalate", actor=LK, expected_version=seen)
    with pytest.raises(Conflict):
        engine.record("signal", cid, actor=LK, area="lezen", note="n", expected_version=seen)
    assert dump(engine.db) == before
    assert engine.fire(cid, "escalate", actor=LK, expected_version=seen + 1)["version"] == seen + 2


def test_the_store_refuses_a_stale_append_itself(engine: Engine) -> None:
    """Two commands that both loaded version N: the second append loses inside the store."""
    cid = opened(engine)
    with engine.uow() as uow:
        stale = uow.store.load(cid)
    assert stale is not None
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    before = dump(engine.db)
    d = engine.definition
    ev = stale.next_event(type="evidence_recorded", actor=IB, role="ib", recorded_at=engine.clock(),
                          process=d, payload={"kind": "contact", "date": "2026-01-01", "level": 1,
                                              "state": "niveau_1", "fields": {}, "secret": {}})
    stale.apply(ev)
    with pytest.raises(Conflict), engine.uow() as uow:
        uow.store.append(stale, [ev], expected_version=1, now=engine.clock())
        uow.commit()
    assert dump(engine.db) == before


# ---- definition versions ----------------------------------------------------------------------

def test_old_cases_keep_the_definition_version_they_were_opened_under(tmp_path: Path, db_url: str) -> None:
    states = tmp_path / "states"
    states.mkdir()
    shutil.copy(DEFAULT, states / "v1.toml")
    v2 = DEFAULT.read_text(encoding="utf-8").replace("version = 1", "version = 2", 1).replace(
        '{ kind = "evidence", evidence = "signal", since = "level_entered" }',
        '{ kind = "evidence", evidence = "signal", since = "level_entered", min = 2 }')
    (states / "v2.toml").write_text(v2, encoding="utf-8")
    e1 = bootstrap(write_config(tmp_path, db_url, definition=states / "v1.toml",
                                         defs_folder=states), create_key=True)
    e1.init()
    old = opened(e1, "OLD-1")
    e1.record("signal", old, actor=LK, area="lezen", note="n")
    e1.db.dispose()
    e2 = bootstrap(write_config(tmp_path, db_url, definition=states / "v2.toml",
                                         defs_folder=states))
    try:
        new = opened(e2, "NEW-1")
        e2.record("signal", new, actor=LK, area="lezen", note="n")
        assert e2.case(old, actor=IB)["process"] == "passend-po@1"
        assert e2.case(new, actor=IB)["process"] == "passend-po@2"
        assert e2.check(old, "escalate", actor=LK).allowed
        assert e2.check(new, "escalate", actor=LK).reasons[0].params["min"] == 2
        assert e2.fire(old, "escalate", actor=LK)["state"] == "niveau_2"
    finally:
        e2.db.dispose()
    (states / "v1.toml").unlink()  # uninstalling a version that cases still use
    e3 = bootstrap(write_config(tmp_path, db_url, definition=states / "v2.toml",
                                         defs_folder=states))
    try:
        with pytest.raises(BadInput, match="versie 1 is niet geïnstalleerd"):
            e3.case(old, actor=IB)
    finally:
        e3.db.dispose()


def test_two_concurrent_opens_for_one_pupil_make_one_case(engine: Engine) -> None:
    import threading

    other = bootstrap(engine.config.path)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def open_one(e: Engine) -> None:
        barrier.wait(timeout=30)
        try:
            results.append(e.open_case(pupil="TWIN-1", school="de-linde", actor=IB)["case_id"])
        except (Conflict, Refused) as exc:
            results.append(exc)

    threads = [threading.Thread(target=open_one, args=(e,)) for e in (engine, other)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        other.db.dispose()
    assert len(results) == 2
    assert sum(isinstance(r, str) for r in results) == 1, results
    assert len(engine.list_cases(actor=IB)) == 1
    with engine.uow(write=False) as uow:
        keys = uow.connection.exec_driver_sql("SELECT count(*) FROM case_keys").scalar()
    assert keys == 1  # the loser's key went with its rolled-back transaction

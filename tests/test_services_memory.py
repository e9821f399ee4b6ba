"""The service layer on the in-memory store: no database, the same commands, the same refusals.

`bootstrap` wires the fake when the database URL is `memory://` (the composition root is the
only place that chooses). These tests drive the services through it: case commands, refusals
with every reason, version conflicts, listing and school scoping, the reminder service's plan,
claims and leases, the access log's chain, erasure and the audit. That the fake behaves as
SQLite and PostgreSQL do is tests/test_port_contracts.py's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.engine_support import walk_to_niveau_4
from tests.reminders_support import AMS, Clock
from workflow.adapters.memory import MemoryStore
from workflow.bootstrap import bootstrap, reminder_service
from workflow.domain import case as domain
from workflow.domain.errors import BadInput, Conflict, NotFound, Refused
from workflow.service_layer import queries
from workflow.service_layer.access import access_records
from workflow.service_layer.audit.compliance import compliance
from workflow.service_layer.audit.export import export
from workflow.service_layer.audit.replay import replay_all, replay_case
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine
from workflow.service_layer.erasure import cases_due_for_erasure
from workflow.service_layer.reminders.dispatcher import dispatch_once
from workflow.service_layer.reminders.settings import ReminderSettings

IB, LK, SMIT, AUD, DIR = "ib.jansen", "lk.devries", "ib.smit", "auditor", "dir.bakker"
START = dt.date(2026, 9, 7)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    extra = f'\n[reminders]\ndigest = false\n\n[notifier]\nbackend = "file"\nfolder = "{tmp_path / "outbox"}"\n'
    e = bootstrap(write_config(tmp_path, "memory://", extra=extra), create_key=True, clock=clock)
    assert isinstance(e.store, MemoryStore) and e.init() == []
    yield e


def _stored(engine: Engine) -> tuple[int, int, int]:
    data = engine.store.data  # type: ignore[attr-defined]
    return sum(len(v) for v in data.events.values()), len(data.keys), len(data.access)


def test_open_record_fire_and_read_back(engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-7", school="de-linde", actor=LK, name="Sanne", group=4)["case_id"])
    r = engine.record("signal", cid, actor=LK, area="lezen", note="leest traag")
    assert (r["seq"], r["version"]) == (2, 2)
    assert engine.check(cid, "escalate", actor=LK).allowed
    moved = engine.fire(cid, "escalate", actor=LK)
    assert (moved["state"], moved["level"], moved["version"]) == ("niveau_2", 2, 3)
    view = engine.case(cid, actor=IB)
    assert (view["pupil"], view["name"], view["state"]) == ("LL-7", "Sanne", "niveau_2")
    assert view["evidence"][0]["fields"] == {"area": "lezen", "note": "leest traag"}
    assert [h["trigger"] for h in view["history"]] == ["escalate"]
    assert engine.list_cases(actor=IB) == [{
        "case_id": cid, "school": "de-linde", "group": 4, "state": "niveau_2", "level": 2, "version": 3,
        "opened_at": view["opened_at"], "closed_at": None, "close_reason": None,
        "process": view["process"]}]
    with engine.uow(write=False) as uow:  # what the store holds is sealed, never the plain text
        raw = [r for b in uow.store.raw_batches(case_id=cid) for r in b]
    assert "LL-7" not in repr(raw) and "Sanne" not in repr(raw) and "leest traag" not in repr(raw)


def test_a_refusal_names_every_reason_and_stores_nothing(engine: Engine) -> None:
    cid = walk_to_niveau_4(engine)
    engine.fire(cid, "start_opp", actor=IB)
    before = _stored(engine)
    with engine.uow(write=False) as uow:
        case = uow.store.load(cid)
        assert case is not None
        decision = domain.decide(case, engine.definition_of(case), "adopt_opp", {}, "ib")
    assert len(decision.reasons) >= 4  # no OOGO, no consent, no views of parents and pupil
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "adopt_opp", actor=IB)
    assert [d["code"] for d in refused.value.details] == [r.code for r in decision.reasons]
    assert len(refused.value.reasons) == len(decision.reasons) and refused.value.exit_code == 3
    with pytest.raises(Refused) as by_role:
        engine.fire(cid, "adopt_opp", actor=LK)
    assert len(by_role.value.reasons) == len(decision.reasons) + 1  # and the role, too
    for call, error in [
        (lambda: engine.record("meeting", cid, actor=LK, kind="oogo", participants="p"), Refused),
        (lambda: engine.record("meeting", cid, actor=SMIT, kind="oogo", participants="p"), Refused),
        (lambda: engine.record("meeting", cid, actor=IB, kind="oogo"), BadInput),
        (lambda: engine.record("gossip", cid, actor=IB), BadInput),
        (lambda: engine.fire(cid, "adopt_opp", actor="nobody"), NotFound),
        (lambda: engine.fire("C-NOPE0000", "adopt_opp", actor=IB), NotFound),
        (lambda: engine.fire(cid, "fly", actor=IB), NotFound),
        (lambda: engine.open_case(pupil="LL-1", school="de-linde", actor=IB), Refused),  # already open
        (lambda: engine.open_case(pupil="LL-2", school="de-linde", actor=AUD), Refused),
    ]:
        with pytest.raises(error):
            call()
    assert _stored(engine) == before
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    with pytest.raises(Refused, match="geweigerd") as closed:
        engine.record("signal", cid, actor=IB, area="lezen", note="n")
    assert closed.value.reasons == ["De casus is afgesloten."]


def test_a_stale_version_is_a_conflict(engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor=LK, area="lezen", note="n", expected_version=1)
    before = _stored(engine)
    with pytest.raises(Conflict) as conflict:
        engine.record("signal", cid, actor=LK, area="rekenen", note="n", expected_version=1)
    assert conflict.value.exit_code == 4
    with pytest.raises(Conflict):
        engine.fire(cid, "escalate", actor=LK, expected_version=1)
    assert _stored(engine) == before
    assert engine.fire(cid, "escalate", actor=LK, expected_version=2)["version"] == 3


def test_a_racing_writer_loses_at_append(engine: Engine) -> None:
    """Two commands read version 1; the second to append is refused by the store itself."""
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    with engine.uow() as uow:
        stale = uow.store.load(cid)
    engine.record("signal", cid, actor=LK, area="lezen", note="n")  # the other writer, first
    assert stale is not None
    d = engine.definition_of(stale)
    ev = stale.next_event(type="evidence_recorded", actor=IB, role="ib", recorded_at=engine.clock(), process=d,
                          payload={"kind": "contact", "date": "2026-09-07", "level": 1, "state": "niveau_1",
                                   "fields": {"method": "brief"}, "secret": {}})
    stale.apply(ev)
    with pytest.raises(Conflict), engine.uow() as uow:
        uow.store.append(stale, [ev], expected_version=1, now=engine.clock())
    assert engine.case(cid, actor=IB)["version"] == 2


def test_listing_filters_and_school_scoping(engine: Engine) -> None:
    linde = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    closed = str(engine.open_case(pupil="LL-2", school="de-linde", actor=IB)["case_id"])
    engine.fire(closed, "close", actor=IB, params={"reason": "verhuisd"})
    anker = str(engine.open_case(pupil="AN-1", school="het-anker", actor=SMIT)["case_id"])
    assert [r["case_id"] for r in engine.list_cases(actor=SMIT)] == [anker]
    assert {r["case_id"] for r in engine.list_cases(actor=AUD)} == {linde, closed, anker}
    assert [r["case_id"] for r in engine.list_cases(actor=IB, state="afgesloten")] == [closed]
    assert [r["case_id"] for r in engine.list_cases(actor=AUD, school="het-anker")] == [anker]
    assert [s.case_id for s in queries.iter_cases(engine, actor=IB, state="niveau_1")] == [linde]
    with pytest.raises(Refused):
        engine.list_cases(actor=SMIT, school="de-linde")
    with pytest.raises(NotFound):
        engine.list_cases(actor=AUD, school="de-eik")
    with pytest.raises(BadInput):
        engine.list_cases(actor=AUD, state="niveau_9")
    for call in (lambda: engine.case(linde, actor=SMIT), lambda: engine.check(linde, "close", actor=SMIT),
                 lambda: access_records(engine, linde, actor=SMIT)):
        with pytest.raises(Refused):
            call()
    assert [u.id for u in queries.users(engine, actor=SMIT)] == [AUD, SMIT]  # the store's users, by id
    assert {u.id: u for u in queries.users(engine, actor=AUD)}[IB].as_dict()["schools"] == ["de-linde"]


def test_users_on_the_fake_as_in_the_database(engine: Engine, clock: Clock) -> None:
    """`init` imported config.toml's users into the fake; the CLI's user management works on it."""
    assert sorted(engine.users_synced["added"]) == sorted(engine.config.users)
    assert [u.id for u in engine.users.all()] == sorted(engine.config.users)
    engine.users.add(user_id="lk.bos", role="leerkracht", schools=["de-linde"], email="Bos@De-Linde.School.Example",
                     roles=engine.definition.roles, known_schools=engine.config.schools, now=clock())
    cid = str(engine.open_case(pupil="LL-8", school="de-linde", actor="lk.bos")["case_id"])
    engine.users.set_disabled("lk.bos", True, now=clock())
    with pytest.raises(Refused) as refused:
        engine.case(cid, actor="lk.bos")
    assert [d["code"] for d in refused.value.details] == ["user_disabled"]
    with pytest.raises(NotFound):
        engine.case(cid, actor="niemand")
    with pytest.raises(BadInput, match=r"hoort al bij gebruiker 'lk\.bos'"):
        engine.users.add(user_id="lk.x", role="leerkracht", schools=["de-linde"], email="bos@de-linde.school.example",
                         roles=engine.definition.roles, known_schools=engine.config.schools, now=clock())


def test_the_reminder_service_plans_claims_and_sends_once(engine: Engine, clock: Clock, tmp_path: Path) -> None:
    walk_to_niveau_4(engine)  # the 6-week OPP clock starts: reminders 2 weeks and 3 days before
    due = START + dt.timedelta(weeks=6)
    moment = {"now": dt.datetime.combine(due - dt.timedelta(days=14), dt.time(9), tzinfo=AMS)}
    service = reminder_service(engine, lambda: moment["now"].astimezone(dt.UTC))
    first = service.tick()
    assert (first["planned"], first["sent"]) == (1, 1)
    assert service.tick() == {"planned": 0, "sent": 0, "retrying": 0, "failed": 0, "lost_claim": 0,
                              "deferred": 0, "cleared": 0}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    moment["now"] += dt.timedelta(days=11)  # 3 days before
    assert service.tick()["sent"] == 1
    sent = engine.store.outbox.rows()
    assert [m.status for m in sent] == ["sent", "sent"] and all(m.case_id for m in sent)

    # A claim's rows are its own until the lease runs out; then another sender takes them over.
    out = engine.store.outbox
    row = dict(engine.store.data.outbox[sent[0].id])  # type: ignore[attr-defined]
    out.insert_new([{**{k: row[k] for k in ("kind", "case_id", "deadline", "school", "recipient", "to_addrs",
                                            "send_on", "due_on", "subject", "body_text", "body_html", "ics")},
                     "key": "again", "message_id": "<again@test>"}], service.real_clock())
    now = service.real_clock()
    held = out.claim(now=now, batch=10, lease=dt.timedelta(seconds=300))
    assert len(held.rows) == 1
    result = dispatch_once(out, service.notifier, ReminderSettings(), clock=lambda: now)
    assert result.sent == 0  # nothing due: the one row is held
    later = now + dt.timedelta(seconds=301)
    result = dispatch_once(out, service.notifier, ReminderSettings(), clock=lambda: later)
    assert (result.sent, result.lost_claim) == (1, 0)
    assert not out.mark_sent(held.rows[0].id, held.token, later)  # the first claimant lost it
    assert out.counts() == {"sent": 3}


def test_reads_are_logged_in_one_chain_and_verify_passes(engine: Engine, clock: Clock, tmp_path: Path) -> None:
    cid = walk_to_niveau_4(engine)
    engine.case(cid, actor=IB)
    engine.case(cid, actor=AUD, purpose="inspectiebezoek", on_behalf_of="Inspectie")
    m = export(engine, tmp_path / "export", actor=AUD)
    assert m["counts"]["cases"] == 1 and m["store_chain_intact"] and m["access_log"]["records"] == 2
    records = access_records(engine, cid, actor=AUD)
    assert [(r.actor, r.action, r.on_behalf_of) for r in records] == [
        (IB, "case.show", None), (AUD, "case.show", "Inspectie"), (AUD, "audit.export", None)]
    with engine.uow(write=False) as uow:
        report = verify(uow)
    assert report.ok and (report.cases, report.access.records) == (1, 3)
    assert [r.ok for r in replay_all(engine, actor=AUD)] == [True]
    assert replay_case(engine, cid, actor=IB).ok
    assert compliance(engine, actor=AUD)["cases"][0]["case_id"] == cid


def test_erasure_on_the_fake(engine: Engine, clock: Clock) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB, name="Sanne")["case_id"])
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    with pytest.raises(Refused):
        engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")  # still within its period
    clock.set(START + dt.timedelta(days=3 * 365))
    assert [c["case_id"] for c in cases_due_for_erasure(engine)] == [cid]
    r = engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")
    assert r["erased"] and cases_due_for_erasure(engine) == []
    view = engine.case(cid, actor=IB)
    assert view["erased"] and view["name"] != "Sanne"
    with engine.uow(write=False) as uow:
        assert uow.store.wrapped_key(cid) is None and verify(uow).ok
    assert engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"] != cid


def test_a_memory_url_is_wired_by_the_root_only(tmp_path: Path) -> None:
    """`memory://` is a store like the others: any other unknown scheme is still refused."""
    from workflow.domain.errors import ConfigError

    with pytest.raises(ConfigError):
        bootstrap(write_config(tmp_path, "mysql://x@y/z"), create_key=True)


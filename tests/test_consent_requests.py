"""The IB asks the parents online for their consent on a scope; the parent answers in the portal.

The fold of requests and answers (no database); then on a real store (SQLite and PostgreSQL):
ask -> the parent grants -> the guard that needed the consent (escalate niveau_3 -> niveau_4
needs `externe_deskundige`) holds; refused and revoked; every refusal leaves the store as it
was; audit replay and verify hold; the export passes the schema and docs/verify_export.py, and
the checker rejects a tampered request_hash and a dangling request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.audit_support import IB, LK, Clock
from tests.engine_support import PureCase
from tests.export_support import ExportCopy, edit, first_index, run_checker
from tests.opp_support import to_niveau_3_ready, v2_engine
from tests.test_export_schema import _export, assert_valid_export
from workflow.adapters.store.tables import events
from workflow.domain.definition import load_definition
from workflow.domain.errors import BadInput, Conflict, NotFound, Refused
from workflow.service_layer import cases, consent_requests, parent_portal, parents
from workflow.service_layer.audit.replay import replay_case
from workflow.service_layer.audit.timeline import timeline
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine
from workflow.service_layer.parents import ParentSessions

V2 = Path(__file__).resolve().parents[1] / "states" / "passend_po_v2.toml"
ASK = "Mogen wij een orthopedagoog laten meekijken?"


# ---- the fold, without a database ----------------------------------------------------------

def _asked(pc: PureCase, scope: str, text: str) -> int:
    payload = {"scope": scope, "date": pc.today.isoformat(), "level": pc.case.level, "state": pc.case.state,
               "text_hash": hashlib.sha256(text.encode()).hexdigest(), "secret": {"text": {"$enc": "v1.x"}}}
    pc.case.apply(pc.case.next_event(type="consent_requested", payload=payload, actor="ib.jansen", role="ib",
                                     recorded_at=pc.now, process=pc.d))
    return pc.case.version


def _answered(pc: PureCase, request: int, status: str) -> None:
    r = pc.case.requests[request]
    payload = {"kind": "consent", "date": pc.today.isoformat(), "level": pc.case.level, "state": pc.case.state,
               "fields": {"scope": r.scope, "status": status, "channel": "online", "request": request,
                          "request_hash": r.text_hash}, "secret": {"by": {"$enc": "v1.x"}}}
    pc.case.apply(pc.case.next_event(type="evidence_recorded", payload=payload, actor="ouder:P-1", role="ouder",
                                     recorded_at=pc.now, process=pc.d))


def test_the_fold_of_requests_and_answers() -> None:
    pc = PureCase(load_definition(V2))
    pc.record("signal", area="lezen", note="n").fire("escalate")
    pc.evaluated("onvoldoende").record("contact", method="telefoon").fire("escalate")
    pc.evaluated("onvoldoende", 2).record("meeting", kind="expert", participants="p")
    assert not pc.decide("escalate").allowed
    first = _asked(pc, "externe_deskundige", "eerste tekst")
    second = _asked(pc, "externe_deskundige", "tweede tekst")
    bot = _asked(pc, "bot_aanmelding", "BOT")
    r1, r2 = pc.case.requests[first], pc.case.requests[second]
    assert (r1.status, r1.replaced_by, r1.answerable) == ("replaced", second, False)
    assert r2.status == "open" and r2.text_hash == hashlib.sha256(b"tweede tekst").hexdigest()
    assert pc.case.requests[bot].status == "open"  # another scope is not replaced
    _answered(pc, second, "granted")
    assert pc.case.requests[second].status == "granted" and pc.case.requests[second].answered_on == pc.today
    assert pc.decide("escalate").allowed  # the same kind as the IB's record: the guard holds
    pc.tick()
    _answered(pc, second, "revoked")
    assert pc.case.requests[second].status == "revoked" and not pc.decide("escalate").allowed
    _answered(pc, bot, "refused")
    assert pc.case.requests[bot].status == "refused"
    # an answer naming no request (or with another hash) does not fold
    bad = {"kind": "consent", "date": pc.today.isoformat(), "level": 3, "state": pc.case.state, "secret": {},
           "fields": {"scope": "externe_deskundige", "status": "granted", "channel": "online", "request": 99,
                      "request_hash": "0" * 64}}
    with pytest.raises(ValueError):
        pc.case.apply(pc.case.next_event(type="evidence_recorded", payload=bad, actor="ouder:P-1", role="ouder",
                                         recorded_at=pc.now, process=pc.d))


def test_replay_refuses_an_answer_to_a_request_no_longer_open_and_a_scope_not_asked_online() -> None:
    from workflow.domain.definition import DefinitionRegistry
    from workflow.service_layer.audit.replay import replay_events

    d = load_definition(V2)
    pc = PureCase(d)
    first = _asked(pc, "externe_deskundige", "eerste")
    _answered(pc, first, "granted")
    registry = DefinitionRegistry([d], d)
    assert replay_events(pc.case.case_id, list(pc.case.events), registry).refused == []
    _answered(pc, first, "refused")  # answered twice: the engine refuses it, replay finds it
    _asked(pc, "gegevensdeling_swv", "delen")
    refused = replay_events(pc.case.case_id, list(pc.case.events), registry).refused
    assert [r["seq"] for r in refused] == [4, 5]
    assert "stond niet meer open" in refused[0]["reasons"][0] and "niet online gevraagd" in refused[1]["reasons"][0]


# ---- the service, on a real store ----------------------------------------------------------

@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> Iterator[tuple[Engine, Clock, str]]:
    engine, clock = v2_engine(tmp_path, db_url)
    cid = to_niveau_3_ready(engine, clock)
    yield engine, clock, cid
    engine.db.dispose()


def signed_in(engine: Engine, cid: str) -> parents.ParentSession:
    pid = parents.add(engine, cid, actor=IB, name="Mevrouw De Vries", email="ouder@example.nl")
    sessions = ParentSessions(engine)
    session = sessions.resolve(sessions.consume(parents.invite(engine, cid, pid, actor=IB).token))
    assert session is not None
    return session


def count(engine: Engine) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def escalates(engine: Engine, cid: str) -> bool:
    return cases.check(engine, cid, "escalate", actor=IB).allowed


def open_requests(engine: Engine, session: parents.ParentSession, cid: str) -> list[dict[str, Any]]:
    return list(parent_portal.overview(engine, session, cid)["requests"])


def test_ask_grant_and_the_guard_holds(setup: tuple[Engine, Clock, str], tmp_path: Path) -> None:
    engine, clock, cid = setup
    session = signed_in(engine, cid)
    assert not escalates(engine, cid)
    d = engine.definition
    assert consent_requests.askable(d) == ("externe_deskundige", "bot_aanmelding")
    assert "inschakelen van een externe deskundige" in consent_requests.default_text(d, "externe_deskundige")
    asked = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text=f"  {ASK}\r\n")
    shown = open_requests(engine, session, cid)
    assert [(r["seq"], r["scope"], r["text"], r["status"]) for r in shown] == [
        (asked["seq"], "externe_deskundige", ASK, "open")]
    assert shown[0]["hash"] == hashlib.sha256(ASK.encode()).hexdigest()
    result = parent_portal.answer(engine, session, cid, request=asked["seq"], status="granted",
                                  shown_hash=shown[0]["hash"])
    assert result["added_by"] == IB and escalates(engine, cid)
    entry = timeline(engine, cid, actor=IB)["entries"]
    ask_entry, answer_entry = entry[-2], entry[-1]
    assert ask_entry["type"] == "consent_requested" and ask_entry["what"] == (
        "Toestemming gevraagd: inschakelen van een externe deskundige")
    assert ask_entry["fields"]["text"] == ASK and ask_entry["role"] == "ib"
    assert answer_entry["role"] == "ouder" and answer_entry["fields"]["request"] == asked["seq"]
    assert answer_entry["fields"]["request_hash"] == shown[0]["hash"]
    assert answer_entry["fields"]["by"] == "Mevrouw De Vries" and answer_entry["fields"]["channel"] == "online"
    parent_lines = [e["what"] for e in parent_portal.overview(engine, session, cid)["timeline"]]
    assert "De school vroeg uw toestemming voor inschakelen van een externe deskundige" in parent_lines
    # answered: not again; still listed as granted, so it can be revoked (same request and hash)
    before = count(engine)
    with pytest.raises(BadInput, match="niet meer antwoorden"):
        parent_portal.answer(engine, session, cid, request=asked["seq"], status="refused", shown_hash=shown[0]["hash"])
    assert count(engine) == before
    assert [r["status"] for r in open_requests(engine, session, cid)] == ["granted"]
    clock.advance(days=1)
    parent_portal.answer(engine, session, cid, request=asked["seq"], status="revoked", shown_hash=shown[0]["hash"])
    assert not escalates(engine, cid) and open_requests(engine, session, cid) == []
    with pytest.raises(BadInput):
        parent_portal.answer(engine, session, cid, request=asked["seq"], status="granted",
                             shown_hash=shown[0]["hash"])
    # a new ask with the line ends a browser sends: the text hashed is the text shown, with LF
    again = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text="Beste ouder,\r\n\r\nMag het?")
    [shown_again] = open_requests(engine, session, cid)
    assert shown_again["text"] == "Beste ouder,\n\nMag het?" and shown_again["hash"] == _hash(shown_again["text"])
    # a new ask, refused
    again = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text=ASK + " Graag.")
    h = open_requests(engine, session, cid)[0]["hash"]
    parent_portal.answer(engine, session, cid, request=again["seq"], status="refused", shown_hash=h)
    assert not escalates(engine, cid)
    third = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text=ASK)
    h = open_requests(engine, session, cid)[0]["hash"]
    parent_portal.answer(engine, session, cid, request=third["seq"], status="granted", shown_hash=h)
    assert escalates(engine, cid)
    engine.fire(cid, "escalate", actor=IB)
    listed = consent_requests.listed(_case(engine, cid), engine.definition)
    assert [r["status"] for r in listed] == ["granted", "refused", "replaced", "revoked"]
    assert replay_case(engine, cid, actor="auditor").ok
    with engine.uow(write=False) as uow:
        assert verify(uow).ok
    lines = assert_valid_export(_export(engine, tmp_path / "export"))
    assert sum(1 for e in lines if e["type"] == "consent_requested") == 4
    assert ASK not in (tmp_path / "export" / "events.jsonl").read_text(encoding="utf-8")  # sealed


def _case(engine: Engine, cid: str) -> Any:
    with engine.uow(write=False) as uow:
        return uow.store.load(cid)


def test_every_refusal_stores_nothing(setup: tuple[Engine, Clock, str]) -> None:
    engine, _clock, cid = setup
    session = signed_in(engine, cid)
    other = engine.open_case(pupil="LL-9", school="de-linde", actor=IB, name="Ander kind")["case_id"]
    first = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text="eerste")
    old_hash = open_requests(engine, session, cid)[0]["hash"]
    second = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text="tweede")
    assert [r["seq"] for r in open_requests(engine, session, cid)] == [second["seq"]]  # the first is replaced
    before = count(engine)
    attempts = [
        (Refused, lambda: consent_requests.ask(engine, cid, actor=LK, scope="externe_deskundige", text="x")),
        (Refused, lambda: consent_requests.ask(engine, cid, actor="dir.bakker", scope="externe_deskundige", text="x")),
        (Refused, lambda: consent_requests.ask(engine, cid, actor="auditor", scope="externe_deskundige", text="x")),
        (BadInput, lambda: consent_requests.ask(engine, cid, actor=IB, scope="opp_handelingsdeel", text="x")),
        (BadInput, lambda: consent_requests.ask(engine, cid, actor=IB, scope="gegevensdeling_swv", text="x")),
        (BadInput, lambda: consent_requests.ask(engine, cid, actor=IB, scope="bestaat_niet", text="x")),
        (BadInput, lambda: consent_requests.ask(engine, cid, actor=IB, scope="bot_aanmelding", text="  \n ")),
        (BadInput, lambda: consent_requests.ask(engine, cid, actor=IB, scope="bot_aanmelding", text="x" * 20_001)),
        (Conflict, lambda: consent_requests.ask(engine, cid, actor=IB, scope="bot_aanmelding", text="x",
                                                expected_version=1)),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request=first["seq"], status="granted",
                                                shown_hash=old_hash)),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request=second["seq"], status="granted",
                                                shown_hash=old_hash)),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request=second["seq"], status="granted",
                                                shown_hash="0" * 64)),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request=second["seq"], status="revoked",
                                                shown_hash=_hash("tweede"))),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request=second["seq"], status="ja",
                                                shown_hash=_hash("tweede"))),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request=2, status="granted",
                                                shown_hash=_hash("tweede"))),
        (BadInput, lambda: parent_portal.answer(engine, session, cid, request="x", status="granted",
                                                shown_hash=_hash("tweede"))),
        (NotFound, lambda: parent_portal.answer(engine, session, other, request=second["seq"], status="granted",
                                                shown_hash=_hash("tweede"))),
    ]
    for exc, attempt in attempts:
        with pytest.raises(exc):
            attempt()
        assert count(engine) == before
    engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    before = count(engine)
    with pytest.raises(Refused):
        consent_requests.ask(engine, cid, actor=IB, scope="bot_aanmelding", text="x")
    with pytest.raises(Refused):
        parent_portal.answer(engine, session, cid, request=second["seq"], status="granted", shown_hash=_hash("tweede"))
    assert count(engine) == before


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- the export and the independent checker ------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("requests")
    engine, clock = v2_engine(base, f"sqlite:///{base / 'passend.db'}")
    cid = to_niveau_3_ready(engine, clock)
    session = signed_in(engine, cid)
    asked = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text=ASK)
    parent_portal.answer(engine, session, cid, request=asked["seq"], status="granted", shown_hash=_hash(ASK))
    engine.fire(cid, "escalate", actor=IB)
    out = _export(engine, base / "export")
    engine.db.dispose()
    return out


def test_the_checker_accepts_requests_and_answers(exported: Path) -> None:
    lines = assert_valid_export(exported)
    answer = next(e for e in lines if e["payload"].get("fields", {}).get("request"))
    assert answer["payload"]["fields"]["request_hash"] == _hash(ASK)


def _answer(ev: dict[str, Any]) -> bool:
    return ev["type"] == "evidence_recorded" and "request" in ev["payload"]["fields"]


def _rejected(copy: ExportCopy, pattern: str) -> None:
    import re

    r = run_checker(copy.folder)
    assert r.code == 1, r.out
    assert any(re.search(pattern, f) for f in r.failures), f"{pattern!r} not in:\n{r.out}"


def test_the_checker_rejects_a_tampered_request_hash(exported: Path, tmp_path: Path) -> None:
    copy = ExportCopy(exported, tmp_path / "x")
    n = edit(copy, first_index(copy, _answer), lambda ev: ev["payload"]["fields"].update(request_hash="ab" * 32))
    _rejected(copy, rf"events\.jsonl line {n} .*request_hash must be those of the consent_requested")


def test_the_checker_rejects_a_dangling_request(exported: Path, tmp_path: Path) -> None:
    copy = ExportCopy(exported, tmp_path / "x")
    n = edit(copy, first_index(copy, _answer), lambda ev: ev["payload"]["fields"].update(request=2))
    _rejected(copy, rf"events\.jsonl line {n} .*names seq 2, which is no earlier consent_requested")


def test_the_checker_rejects_a_request_without_its_hash_or_channel(exported: Path, tmp_path: Path) -> None:
    copy = ExportCopy(exported, tmp_path / "x")
    n = edit(copy, first_index(copy, _answer), lambda ev: ev["payload"]["fields"].pop("request_hash"))
    _rejected(copy, rf"events\.jsonl line {n} .*request and request_hash are present together")
    copy = ExportCopy(exported, tmp_path / "y")
    n = edit(copy, first_index(copy, _answer), lambda ev: ev["payload"]["fields"].pop("channel"))
    _rejected(copy, rf"events\.jsonl line {n} .*request is present only with channel")


def test_the_checker_rejects_a_request_text_in_the_clear(exported: Path, tmp_path: Path) -> None:
    copy = ExportCopy(exported, tmp_path / "x")
    n = edit(copy, first_index(copy, lambda ev: ev["type"] == "consent_requested"),
             lambda ev: ev["payload"]["secret"].update(text=ASK))
    _rejected(copy, rf"events\.jsonl line {n} .*payload\.secret\.text must be sealed")


def test_an_export_since_after_the_request_notes_what_it_cannot_check(tmp_path: Path) -> None:
    engine, clock = v2_engine(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}")
    cid = to_niveau_3_ready(engine, clock)
    session = signed_in(engine, cid)
    asked = consent_requests.ask(engine, cid, actor=IB, scope="externe_deskundige", text=ASK)
    clock.advance(days=2)
    parent_portal.answer(engine, session, cid, request=asked["seq"], status="granted", shown_hash=_hash(ASK))
    out = _export(engine, tmp_path / "since", since=engine.today())
    engine.db.dispose()
    r = run_checker(out)
    assert r.code == 0, r.out
    assert f"the request it answers (seq {asked['seq']}) lies before the export's first event" in r.out


def test_an_unanswered_request_puts_the_case_on_the_list_of_cases_waiting_for_the_parents(
        setup: tuple[Engine, Clock, str]) -> None:
    """Mijn werk (and the IB's digest, which lists the same) shows a case whose parents were asked
    online and have not answered, with that scope, beside what the next step lacks of them only;
    an answer takes it off again."""
    from workflow.service_layer import worklist

    engine, _clock, cid = setup
    session = signed_in(engine, cid)

    def waiting() -> list[tuple[str, list[str]]]:
        [school] = worklist.my_work(engine, actor=IB)
        return [(w.case_id, w.scopes) for w in school.waiting]

    assert waiting() == [(cid, ["externe_deskundige"])]  # escalate lacks only the parents' consent
    asked = consent_requests.ask(engine, cid, actor=IB, scope="bot_aanmelding", text=ASK)
    assert waiting() == [(cid, ["externe_deskundige", "bot_aanmelding"])]  # asked, not needed yet
    h = open_requests(engine, session, cid)[0]["hash"]
    parent_portal.answer(engine, session, cid, request=asked["seq"], status="refused", shown_hash=h)
    assert waiting() == [(cid, ["externe_deskundige"])]
    with engine.uow(write=False) as uow:  # what the appends kept is what a rebuild derives
        case = uow.store.load(cid)
        kept = uow.cases.worklists([cid]).get(cid)
    assert case is not None and kept == engine.store.derive(case)  # type: ignore[attr-defined]

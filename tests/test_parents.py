"""Parents on a case, in the service layer, on a real store (SQLite and PostgreSQL): the IB adds,
invites and removes them; a parent's link works once, for 7 days, and only while they are on the
case; the parent's decision on the handelingsdeel is bound to the hash of the version shown and
counts in the guards as the IB's; a revised handelingsdeel needs a fresh decision; a revocation
blocks adoption again; audit replay and verify hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, LK, Clock
from tests.opp_support import FULL, draft_full, to_concept, v2_engine
from tests.test_export_schema import _export, assert_valid_export
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.service_layer import cases, parent_portal, parents
from workflow.service_layer.audit.replay import replay_case
from workflow.service_layer.audit.timeline import timeline
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine
from workflow.service_layer.parents import LinkRefused, ParentSessions


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> Iterator[tuple[Engine, Clock, str]]:
    engine, clock = v2_engine(tmp_path, db_url)
    cid = to_concept(engine, clock)
    yield engine, clock, cid
    engine.db.dispose()


def signed_in(engine: Engine, cid: str, email: str = "ouder@example.nl") -> tuple[str, parents.ParentSession]:
    pid = parents.add(engine, cid, actor=IB, name="Mevrouw De Vries", email=email)
    inv = parents.invite(engine, cid, pid, actor=IB)
    sessions = ParentSessions(engine)
    session = sessions.resolve(sessions.consume(inv.token))
    assert session is not None and session.case_id == cid
    return pid, session


def allowed(engine: Engine, cid: str) -> bool:
    return cases.check(engine, cid, "adopt_opp", actor=IB).allowed


def test_parent_consent_counts_as_the_ibs_and_binds_to_the_version(setup: tuple[Engine, Clock, str],
                                                                   tmp_path: Path) -> None:
    engine, clock, cid = setup
    draft_full(engine, cid)
    _pid, session = signed_in(engine, cid)
    page = parent_portal.overview(engine, session, cid)
    assert page["draft"] is not None and page["request"]["open"]
    shown = page["request"]["hash"]
    assert not allowed(engine, cid)
    with pytest.raises(BadInput):
        parent_portal.decide(engine, session, cid, status="granted", shown_hash="0" * 64)
    assert not allowed(engine, cid)
    parent_portal.decide(engine, session, cid, status="granted", shown_hash=shown)
    assert allowed(engine, cid)
    entry = timeline(engine, cid, actor=IB)["entries"][-1]
    assert entry["role"] == "ouder" and entry["fields"]["channel"] == "online"
    assert entry["fields"]["opp_hash"] == shown and entry["fields"]["by"] == "Mevrouw De Vries"
    # a revised handelingsdeel: the old page's hash is stale, and adoption waits for a new decision
    clock.advance(days=1)
    draft_full(engine, cid, texts={**FULL["texts"], "frequency": "2x per week"})
    assert not allowed(engine, cid)
    with pytest.raises(BadInput):
        parent_portal.decide(engine, session, cid, status="granted", shown_hash=shown)
    new = parent_portal.overview(engine, session, cid)["request"]["hash"]
    parent_portal.decide(engine, session, cid, status="granted", shown_hash=new)
    assert allowed(engine, cid)
    clock.advance(days=1)
    parent_portal.decide(engine, session, cid, status="revoked", shown_hash=new)
    assert not allowed(engine, cid)
    parent_portal.give_view(engine, session, cid, party="leerling", text="Ik wil beter lezen.")
    assert replay_case(engine, cid, actor="auditor").ok
    with engine.uow(write=False) as uow:
        assert verify(uow).ok
    # the export holds each online decision with its document hash, and passes the schema and checker
    events = assert_valid_export(_export(engine, tmp_path / "export"))
    online = [e for e in events if e["payload"].get("fields", {}).get("channel") == "online"]
    assert [e["payload"]["fields"].get("status") for e in online] == ["granted", "granted", "revoked", None]
    assert all(e["role"] == "ouder" for e in online) and online[0]["payload"]["fields"]["opp_hash"] == shown


def test_links_once_seven_days_and_only_while_on_the_case(setup: tuple[Engine, Clock, str]) -> None:
    engine, clock, cid = setup
    sessions = ParentSessions(engine)
    pid = parents.add(engine, cid, actor=IB, name="Vader", email="vader@example.nl")
    inv = parents.invite(engine, cid, pid, actor=IB)
    token = sessions.consume(inv.token)
    with pytest.raises(LinkRefused, match="al gebruikt"):
        sessions.consume(inv.token)
    late = parents.invite(engine, cid, pid, actor=IB)
    clock.advance(days=7, seconds=1)
    with pytest.raises(LinkRefused, match="verlopen"):
        sessions.consume(late.token)
    assert sessions.resolve(token) is None  # idle and past its end
    fresh = parents.invite(engine, cid, pid, actor=IB)
    token = sessions.consume(fresh.token)
    assert sessions.resolve(token) is not None
    unused = parents.invite(engine, cid, pid, actor=IB)
    parents.remove(engine, cid, pid, actor=IB)
    assert sessions.resolve(token) is None
    with pytest.raises(LinkRefused):
        sessions.consume(unused.token)


def test_another_case_and_other_roles(setup: tuple[Engine, Clock, str]) -> None:
    engine, _clock, cid = setup
    other = engine.open_case(pupil="LL-9", school="de-linde", actor=IB, name="Ander kind")["case_id"]
    _, session = signed_in(engine, cid)
    with pytest.raises(NotFound):
        parent_portal.overview(engine, session, other)
    with pytest.raises(NotFound):
        parent_portal.give_view(engine, session, other, party="ouders", text="x")
    with pytest.raises(Refused):
        parents.add(engine, cid, actor=LK, name="X", email="x@example.nl")
    with pytest.raises(BadInput):
        parents.add(engine, cid, actor=IB, name="X", email="geen-adres")
    for _ in range(parents.INVITES_PER_DAY - 1):
        parents.invite(engine, cid, session.parent_id, actor=IB)
    with pytest.raises(BadInput, match="vandaag al"):
        parents.invite(engine, cid, session.parent_id, actor=IB)


def test_cli_parent_add_list_remove(cli: Any) -> None:
    assert cli("init").code == 0
    r = cli("case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", IB, "--json")
    cid = str(r.json()["case_id"])
    r = cli("parent", "add", cid, "--name", "Mevrouw Bakker", "--email", "Ouder@Example.nl", "--actor", IB)
    assert r.code == 0, r.err
    r = cli("parent", "add", cid, "--name", "X", "--email", "geen-adres", "--actor", IB)
    assert r.code == 2 and r.err.startswith("passend: ") and "Traceback" not in r.err
    r = cli("parent", "add", cid, "--name", "X", "--email", "x@example.nl", "--actor", LK)
    assert r.code == 3
    r = cli("parent", "list", cid, "--actor", IB, "--json")
    assert [p["email"] for p in r.json()] == ["ouder@example.nl"]
    assert cli("parent", "remove", cid, "--email", "ander@example.nl", "--actor", IB).code == 2
    assert cli("parent", "remove", cid, "--email", "ouder@example.nl", "--actor", IB).code == 0
    assert cli("parent", "list", cid, "--actor", IB).out.strip() == f"{cid}: geen ouders"

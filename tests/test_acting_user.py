"""The acting user of a command on one case is read in the command's own unit of work (on
PostgreSQL with the case's events, in one round trip: ServiceContext.acting_and_case), afresh
every time: nothing about a user is kept between commands, so a user disabled, given another
role or taken off a school by another process is judged as they are now by the very next
command of this one. On SQLite and PostgreSQL; the other process is a second Engine on the same
store, with its own connections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.engine_support import dump
from workflow.bootstrap import bootstrap
from workflow.domain.errors import BadInput, NotFound, Refused
from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"
CLOSE = {"reason": "verhuisd"}


@pytest.fixture
def other(engine: Engine) -> Iterator[Engine]:
    """Another process on the same store (its own pool, reserve and kept reader)."""
    e = bootstrap(engine.config.path)
    yield e
    e.db.dispose()


def _change(other: Engine, user_id: str, **changes: Any) -> None:
    with other.uow() as uow:
        assert uow.users.update(user_id, changes, now=other.clock())  # type: ignore[arg-type]
        uow.commit()


def _codes(exc: pytest.ExceptionInfo[Refused]) -> list[str]:
    return [r["code"] for r in exc.value.details]


def _commands(engine: Engine, cid: str, actor: str = IB) -> list[Callable[[], Any]]:
    return [
        lambda: engine.fire(cid, "escalate", actor=actor),
        lambda: engine.check(cid, "escalate", actor=actor),
        lambda: engine.fire(cid, "escalate", actor=actor, dry_run=True),
        lambda: engine.record("signal", cid, actor=actor, area="lezen", note="n"),
    ]


def test_a_user_disabled_elsewhere_is_refused_by_the_next_command(engine: Engine, other: Engine) -> None:
    cid = str(engine.open_case(pupil="AU-1", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor=IB, area="lezen", note="n")  # this process has read the user
    engine.check(cid, "close", actor=IB, params=CLOSE)
    other.users.set_disabled(IB, True, now=other.clock())
    before = dump(engine.db)
    for command in _commands(engine, cid):
        with pytest.raises(Refused) as refused:
            command()
        assert _codes(refused) == ["user_disabled"]
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "close", actor=IB, params=CLOSE)
    assert _codes(refused) == ["user_disabled"]
    assert dump(engine.db) == before
    other.users.set_disabled(IB, False, now=other.clock())
    assert engine.fire(cid, "close", actor=IB, params=CLOSE)["state"] == "afgesloten"


def test_another_role_counts_from_the_next_command(engine: Engine, other: Engine) -> None:
    cid = str(engine.open_case(pupil="AU-2", school="de-linde", actor=IB)["case_id"])
    assert engine.check(cid, "close", actor=IB, params=CLOSE).allowed
    _change(other, IB, role="leerkracht")
    before = dump(engine.db)
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "close", actor=IB, params=CLOSE)
    assert _codes(refused) == ["role_may_not_fire"]
    assert not engine.check(cid, "close", actor=IB, params=CLOSE).allowed
    assert dump(engine.db) == before
    _change(other, IB, role="ib")
    assert engine.fire(cid, "close", actor=IB, params=CLOSE)["state"] == "afgesloten"
    version = engine.case(cid, actor=IB)["version"]
    with engine.uow(write=False) as uow:
        events = uow.store.events_of(cid)
    assert len(events) == version and events[-1].role == "ib"  # the role as read by that command


def test_a_school_taken_away_counts_from_the_next_command(engine: Engine, other: Engine) -> None:
    cid = str(engine.open_case(pupil="AU-3", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor=LK, area="lezen", note="n")
    _change(other, LK, schools=["het-anker"])
    with pytest.raises(Refused) as refused:
        engine.record("signal", cid, actor=LK, area="lezen", note="n")
    assert _codes(refused) == ["no_school_access"]


def test_the_user_is_judged_before_the_case_and_the_kind(engine: Engine, other: Engine) -> None:
    """As when the user was read before the unit of work: an unknown or disabled user is told so,
    whatever is wrong with the case id or the kind of evidence."""
    cid = str(engine.open_case(pupil="AU-4", school="de-linde", actor=IB)["case_id"])
    for case_id in ("C-NOTTHERE", "not a case id", cid):
        with pytest.raises(NotFound, match="onbekende gebruiker"):
            engine.fire(case_id, "close", actor="nobody", params=CLOSE)
        with pytest.raises(NotFound, match="onbekende gebruiker"):
            engine.record("no-such-kind", case_id, actor="nobody")
    with pytest.raises(NotFound, match="bestaat niet"):
        engine.fire("C-NOTTHERE", "close", actor=IB, params=CLOSE)
    with pytest.raises(BadInput, match="onbekende soort"):
        engine.record("no-such-kind", "C-NOTTHERE", actor=IB)
    other.users.set_disabled(LK, True, now=other.clock())
    with pytest.raises(Refused) as refused:
        engine.record("no-such-kind", "C-NOTTHERE", actor=LK)
    assert _codes(refused) == ["user_disabled"]


def test_an_api_token_still_acts_as_its_role(engine: Engine, other: Engine) -> None:
    """`api:<name>` actors are judged by their token (not by the users table), read in the
    command's own unit: a token revoked by another process is refused by the very next command,
    with nothing stored, and an unknown one is exit 2 before the case is looked at."""
    from workflow.service_layer import tokens

    cid = str(engine.open_case(pupil="AU-5", school="de-linde", actor=IB)["case_id"])
    tokens.add(engine, name="koppeling", role="ib", schools=["de-linde"], roles=engine.definition.roles,
               known_schools=engine.config.schools, created_by="test")
    tokens.add(engine, name="elders", role="ib", schools=["het-anker"], roles=engine.definition.roles,
               known_schools=engine.config.schools, created_by="test")
    actor = tokens.actor_of("koppeling")
    assert engine.check(cid, "close", actor=actor, params=CLOSE).allowed
    with pytest.raises(Refused) as refused:
        engine.fire(cid, "close", actor=tokens.actor_of("elders"), params=CLOSE)
    assert _codes(refused) == ["no_school_access"]
    tokens.revoke(other, "koppeling")
    before = dump(engine.db)
    for case_id in ("C-NOTTHERE", cid):
        with pytest.raises(NotFound, match="nergens"):
            engine.fire(case_id, "close", actor=tokens.actor_of("nergens"), params=CLOSE)
    for command in _commands(engine, cid, actor):
        with pytest.raises(Refused) as refused:
            command()
        assert _codes(refused) == ["token_revoked"]
    with pytest.raises(Refused):
        engine.check(cid, "close", actor=actor, params=CLOSE)
    assert dump(engine.db) == before

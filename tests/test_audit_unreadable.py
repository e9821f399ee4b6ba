"""A case whose stored events no longer fold: one line naming the case, exit 5, store unchanged.

Before, `case show` and `audit timeline` on such a case ended in "interne fout (...)", exit 1,
which hid that the store had been changed around the engine.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from tests.audit_support import IB, LK, clocked_engine, journey_to_opp
from tests.engine_support import dump
from tests.tamper import drop_append_only
from workflow.adapters.store.tables import events
from workflow.domain.errors import IntegrityError
from workflow.domain.events import canonical_json

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)


def _edit(conn: Connection, case_id: str, type_: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the payload of the case's last event of `type_` (its hash is left as it was)."""
    row = conn.execute(select(events).where(events.c.case_id == case_id, events.c.type == type_)
                       .order_by(events.c.seq.desc())).first()
    assert row is not None
    payload = json.loads(row.payload)
    change(payload)
    conn.execute(update(events).where(events.c.id == row.id).values(payload=canonical_json(payload)))


def _wrong_source(p: dict[str, Any]) -> None:
    p["source"] = "niveau_1"  # a transition from a state the case is not in: ValueError


def _no_kind(p: dict[str, Any]) -> None:
    del p["kind"]  # evidence without its kind: KeyError


def _not_json(conn: Connection, case_id: str) -> None:
    conn.execute(update(events).where(events.c.case_id == case_id, events.c.seq == 3)
                 .values(payload="not json"))


TAMPERINGS: dict[str, Callable[[Connection, str], None]] = {
    "wrong_source": lambda conn, cid: _edit(conn, cid, "transitioned", _wrong_source),
    "no_kind": lambda conn, cid: _edit(conn, cid, "evidence_recorded", _no_kind),
    "not_json": _not_json,
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_a_case_that_does_not_fold_is_an_integrity_error(config_path: Path, cli: Any, how: str) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_opp(engine, clock, name="Sanne", note="traag")
    with engine.db.begin() as conn:
        drop_append_only(conn)
        TAMPERINGS[how](conn, cid)
    with pytest.raises(IntegrityError) as raised:
        engine.case(cid, actor=IB)
    assert raised.value.exit_code == 5
    before = dump(engine.db)
    engine.db.dispose()

    for args in (("case", "show", cid, "--actor", IB), ("audit", "timeline", cid),
                 ("case", "fire", cid, "revise_opp", "--actor", IB),
                 ("record", "signal", cid, "--area", "lezen", "--note", "x", "--actor", LK)):
        r = cli(*args)
        assert r.code == 5, (args, r.out, r.err)
        assert r.out == "" and len(r.err.strip().splitlines()) == 1, (args, r.err)
        assert cid in r.err and "passend audit verify" in r.err
        assert "interne fout" not in r.err and "Traceback" not in r.err
        assert "Sanne" not in r.err and "traag" not in r.err
    js = cli("--json", "case", "show", cid, "--actor", IB)
    assert js.code == 5 and js.json()["exit_code"] == 5 and cid in js.json()["error"]
    assert dump(engine.db) == before  # nothing written, not even an access record
    assert cli("audit", "verify").code == 5  # and verify names what is broken
    engine.db.dispose()


def test_compliance_lists_an_unreadable_case_apart_and_exits_5(config_path: Path, cli: Any) -> None:
    engine, clock = clocked_engine(config_path, T0)
    bad = journey_to_opp(engine, clock, pupil="KAPOT")
    good = journey_to_opp(engine, clock, pupil="HEEL")
    with engine.db.begin() as conn:
        drop_append_only(conn)
        TAMPERINGS["wrong_source"](conn, bad)
    engine.db.dispose()
    r = cli("audit", "compliance")
    assert r.code == 5, r.err
    assert f"  {bad:<12} gebeurtenissen niet te lezen (ValueError); controleer met 'passend audit verify'" in r.out
    assert "interne fout" not in r.err
    js = cli("--json", "audit", "compliance")
    assert js.code == 5
    report = js.json()
    assert [u["case_id"] for u in report["unreadable"]] == [bad]
    assert [c["case_id"] for c in report["cases"]] == [good]  # the rest is judged as ever
    assert report["summary"]["de-linde"]["opp_binnen_6_weken"]["pass"] == 1

"""Helpers for the case-engine tests: a pure case builder (no database) and a table dump."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as SAEngine
from sqlalchemy import MetaData, select

from workflow.domain import evidence
from workflow.domain.case import Case, Decision, decide, transition_payload
from workflow.domain.definition import ProcessDefinition, load_definition
from workflow.domain.events import GENESIS_HASH, make_event

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "states" / "passend_po_v1.toml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def default_definition() -> ProcessDefinition:
    return load_definition(DEFAULT)


class PureCase:
    """A case built from real events by the real domain code, with no store in sight."""

    def __init__(self, definition: ProcessDefinition | None = None, *, now: dt.datetime = NOW) -> None:
        self.d = definition or default_definition()
        self.now = now
        opened = make_event(
            case_id="C-PURE0001", seq=1, type="case_opened", process_id=self.d.id,
            process_version=self.d.version, actor="ib.jansen", role="ib", recorded_at=now,
            payload={"school": "de-linde", "pupil": "x", "state": self.d.initial,
                     "level": self.d.level_of(self.d.initial)},
            prev_hash=GENESIS_HASH,
        )
        self.case = Case.from_events([opened])

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def tick(self, days: int = 1) -> PureCase:
        self.now += dt.timedelta(days=days)
        return self

    def record(self, kind: str, /, **fields: Any) -> PureCase:
        valid = evidence.validate(kind, fields, today=self.today,
                                  consent_scopes=self.d.consent_scopes, plans=self.case.plans,
                                  opp_active=self.case.opp_active)
        payload = {
            "kind": kind, "date": valid.date.isoformat(), "level": self.case.level,
            "state": self.case.state,
            "fields": {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in valid.plain.items()},
            "secret": {k: {"$enc": "v1.x"} for k in valid.secret},
        }
        self.case.apply(self.case.next_event(type="evidence_recorded", payload=payload,
                                             actor="ib.jansen", role="ib", recorded_at=self.now,
                                             process=self.d))
        return self

    def decide(self, trigger: str, role: str = "ib", **params: str) -> Decision:
        return decide(self.case, self.d, trigger, params, role)

    def fire(self, trigger: str, role: str = "ib", **params: str) -> PureCase:
        d = self.decide(trigger, role, **params)
        assert d.allowed, d.reasons
        self.case.apply(self.case.next_event(type="transitioned", payload=transition_payload(d, self.d),
                                             actor="ib.jansen", role=role, recorded_at=self.now,
                                             process=self.d))
        return self

    @property
    def state(self) -> str:
        return self.case.state

    # ---- ready-made evidence --------------------------------------------------------------
    def plan(self, days: int = 56) -> PureCase:
        return self.record("plan", start=self.today - dt.timedelta(days=days), end=self.today,
                           goals="g", who="w", frequency="3x")

    def evaluated(self, outcome: str, n: int = 1) -> PureCase:
        for _ in range(n):
            self.plan().record("evaluation", outcome=outcome)
        return self

    def consent(self, scope: str, status: str = "granted") -> PureCase:
        return self.record("consent", scope=scope, status=status, by="moeder")

    def to_level_4(self) -> PureCase:
        self.record("signal", area="lezen", note="n").fire("escalate")
        self.evaluated("onvoldoende").record("contact", method="telefoon").fire("escalate")
        self.evaluated("onvoldoende", 2).record("meeting", kind="expert", participants="p")
        return self.consent("externe_deskundige").fire("escalate")

    def to_opp_vastgesteld(self) -> PureCase:
        self.to_level_4().fire("start_opp")
        self.record("meeting", kind="oogo", participants="ouders").consent("opp_handelingsdeel")
        self.record("view", party="ouders", text="eens").record("view", party="leerling", text="ja")
        return self.fire("adopt_opp")


def dump(db: SAEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (alembic's bookkeeping too), in a stable order."""
    meta = MetaData()
    meta.reflect(bind=db)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            rows = [tuple(r) for r in conn.execute(select(table))]
            out[name] = sorted(rows, key=repr)
    return out


def walk_to_niveau_4(engine: Any, pupil: str = "LL-1", ib: str = "ib.jansen",
                     lk: str = "lk.devries", *, school: str = "de-linde",
                     group: int | None = None) -> str:
    """Open a case through the Engine API and walk it to niveau_4, on the engine's clock's day,
    with the evidence it needs."""
    cid = str(engine.open_case(pupil=pupil, school=school, actor=ib, group=group)["case_id"])
    today = engine.today()
    start = today - dt.timedelta(days=56)
    engine.record("signal", cid, actor=lk, area="lezen", note="n")
    engine.fire(cid, "escalate", actor=lk)
    engine.record("plan", cid, actor=lk, start=start, end=today, goals="g", who="w", frequency="4x")
    engine.record("evaluation", cid, actor=lk, outcome="onvoldoende")
    engine.record("contact", cid, actor=ib, method="telefoon")
    engine.fire(cid, "escalate", actor=ib)
    for _ in range(2):
        engine.record("plan", cid, actor=lk, start=start, end=today, goals="g", who="w", frequency="3x")
        engine.record("evaluation", cid, actor=lk, outcome="onvoldoende")
    engine.record("meeting", cid, actor=ib, kind="expert", participants="IB, expert")
    engine.record("consent", cid, actor=ib, scope="externe_deskundige", status="granted", by="moeder")
    engine.fire(cid, "escalate", actor=ib)
    return cid


def adopt(engine: Any, cid: str, ib: str = "ib.jansen") -> None:
    """From niveau_4 to opp_vastgesteld."""
    engine.fire(cid, "start_opp", actor=ib)
    engine.record("meeting", cid, actor=ib, kind="oogo", participants="ouders, IB")
    engine.record("consent", cid, actor=ib, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=ib, party="ouders", text="eens")
    engine.record("view", cid, actor=ib, party="leerling", text="ja")
    engine.fire(cid, "adopt_opp", actor=ib)


def in_threads(target: Callable[[Any], None], args: Iterable[Any]) -> list[BaseException]:
    """Run target(a) for each a, each in a thread of its own, all at once; returns what they raised
    (a thread's exception would otherwise only be printed, and the test pass)."""
    errors: list[BaseException] = []

    def run(a: Any) -> None:
        try:
            target(a)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors

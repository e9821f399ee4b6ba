"""No refusal, message or email shown to a person carries a trigger id, a field key or key=value.

A population of cases in every stage of the default process is generated (the demo generator,
which decides every step with the real guards); then every trigger is tried from every case by
every role, every evidence kind is recorded wrongly, `case show` is printed for every case, and
every reminder, escalation and digest the planner has for the coming year is rendered. Each text
is scanned for ids: `=`, a word with an underscore (niveau_1, start_opp, with_parents, ...), a
trigger id, or an English field key.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from workflow.bootstrap import bootstrap, reminder_service
from workflow.demo.population import populate
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, PassendError, Refused
from workflow.entrypoints.cli.case import render_case
from workflow.service_layer.engine import Engine

from .conftest import write_config

NOW = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)
# English field keys that are no Dutch word (start, plan, kind and status are Dutch too).
KEYS = ("area", "note", "notes", "goals", "who", "frequency", "outcome", "subject", "scope", "by", "recipient",
        "purpose", "party", "participants", "summary", "method", "date", "end", "text")
UNDERSCORED = re.compile(r"\b[A-Za-z0-9]+_[A-Za-z0-9_]+\b")
TAG = re.compile(r"<[^>]+>")


def scan(text: str, d: ProcessDefinition, where: str) -> None:
    plain = TAG.sub(" ", text)
    assert "=" not in plain, (where, plain)
    assert not UNDERSCORED.search(plain), (where, UNDERSCORED.findall(plain), plain)
    for word in (*d.triggers, *KEYS):
        assert not re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", plain), (where, word, plain)


@pytest.fixture
def populated(tmp_path: Path, sqlite_url: str) -> Engine:
    clock = [NOW]
    engine = bootstrap(write_config(tmp_path, sqlite_url), create_key=True, clock=lambda: clock[0])
    engine.init()
    populate(engine, pupils=120, years=2, seed=11, now=NOW)
    return engine


def _ib(engine: Engine, school: str) -> str:
    return next(u.id for u in engine.config.users.values() if u.role == "ib" and u.serves(school))


def test_refusals_and_case_show_name_no_ids(populated: Engine) -> None:
    engine, d = populated, populated.definition
    users = list(engine.config.users.values())
    cases = engine.list_cases(actor="auditor")
    assert len({c["state"] for c in cases}) >= 6  # the population reaches most of the process
    refusals = 0
    for c in cases:
        cid, ib = c["case_id"], _ib(engine, c["school"])
        scan(render_case(engine.case(cid, actor=ib)), d, f"case show {cid}")
        for trigger, tdef in d.triggers.items():
            variants = [{}] if not tdef.params else [
                {name: choice} for name, p in tdef.params.items() for choice in (p.choices or ())]
            for params in variants:
                for user in users:
                    try:
                        engine.fire(cid, trigger, actor=user.id, params=params, dry_run=True)
                    except Refused as exc:
                        refusals += 1
                        for text in (exc.message, *exc.reasons):
                            scan(text.replace(cid, "CASUS").replace(user.id, "GEBRUIKER"), d, f"{trigger} {cid}")
                        assert len(exc.details) == len(exc.reasons)
                        assert all(r["text"] == t for r, t in zip(exc.details, exc.reasons, strict=True))
        for kind in d.evidence_kinds:
            for user in users:
                try:
                    engine.record(kind, cid, actor=user.id)
                except (BadInput, Refused) as exc:
                    for text in (exc.message, *exc.reasons):
                        scan(text.replace(cid, "CASUS").replace(user.id, "GEBRUIKER"), d, f"record {kind}")
    assert refusals > 1000


def test_reminders_escalations_and_digests_name_no_ids(populated: Engine) -> None:
    engine, d = populated, populated.definition
    planner = reminder_service(engine).planner()
    kinds: set[str] = set()
    for week in range(0, 52, 2):
        now = NOW + dt.timedelta(weeks=week, hours=8)
        for item in planner.due(now):
            try:
                row = planner.render(item, now)
            except PassendError:  # pragma: no cover - a case the planner cannot render is a failure too
                raise
            kinds.add(item.kind)
            for part in ("subject", "body_text", "body_html"):
                scan(str(row[part]).replace(str(item.case_id), "CASUS"), d, f"{item.kind} {part}")
    assert kinds == {"reminder", "escalation", "digest"}

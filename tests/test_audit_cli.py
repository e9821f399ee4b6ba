"""The audit commands as a whole: help, schema heads, the append-only access log, bad input,
and the auditor who reads everything and writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tests.audit_support import IB, clocked_engine, journey_to_opp
from workflow.adapters.store.migrate import MIGRATIONS, current_heads
from workflow.adapters.store.tables import access_log, events

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)


def test_init_applies_every_head(engine: Any) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = sorted(ScriptDirectory.from_config(cfg).get_heads())
    assert "0008_access_chain" in heads  # the audit branch: 0003_audit, then its hash chain
    assert current_heads(engine.db) == heads
    assert engine.init() == heads  # idempotent


def test_access_log_is_append_only(engine: Any) -> None:
    cid = engine.open_case(pupil="P", school="de-linde", actor=IB)["case_id"]
    engine.case(cid, actor="auditor", purpose="controle")
    for stmt in ("UPDATE access_log SET purpose = 'x'", "DELETE FROM access_log"):
        with pytest.raises(Exception, match="append-only"), engine.db.begin() as conn:
            conn.execute(text(stmt))
    with engine.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(access_log)).scalar_one() == 1


def test_auditor_reads_everything_and_writes_nothing(config_path: Path, cli: Any) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_opp(engine, clock)
    with engine.db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(events)).scalar_one()
    engine.db.dispose()
    for args in (("case", "show", cid, "--actor", "auditor"), ("audit", "timeline", cid),
                 ("audit", "replay", cid), ("audit", "compliance"), ("audit", "access", cid),
                 ("audit", "verify")):
        r = cli(*args)
        assert r.code == 0, (args, r.err)
    for args in (("case", "fire", cid, "revise_opp", "--actor", "auditor"),
                 ("record", "signal", cid, "--actor", "auditor", "--area", "lezen", "--note", "n"),
                 ("case", "erase", cid, "--actor", "auditor", "--reason", "x")):
        assert cli(*args).code == 3, args
    with engine.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == before
        roles = {r.role for r in conn.execute(select(access_log))}
    assert roles == {"auditor"}


@pytest.mark.parametrize("args", [
    ("audit", "timeline", "C-AAAAAAAA", "--format", "pdf"),
    ("audit", "replay", "C-AAAAAAAA", "--all"),
    ("audit", "replay", "--all", "--as-of", "31-12-2025"),
    ("audit", "export", "--out", "/tmp/x", "--since", "nooit"),
    ("audit", "timeline", "C-AAAAAAAA", "--actor", "niemand"),
    ("audit", "timeline", "C-AAAAAAAA", "--purpose", ""),
    ("case", "erase"),
    ("case", "erase", "C-AAAAAAAA", "--due"),
])
def test_bad_input_is_one_line_exit_2(engine: Any, cli: Any, args: tuple[str, ...]) -> None:
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_help_lists_the_audit_commands(cli: Any) -> None:
    r = cli("audit", "--help")
    assert r.code == 0
    for name in ("verify", "replay", "timeline", "export", "compliance", "access"):
        assert name in r.out

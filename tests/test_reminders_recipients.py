"""Who reminders go to: the store's active users with an e-mail address who serve the school,
and a school whose reminders or escalations have nobody to go to is named, not passed over.

The test config gives Het Anker an IB but no directeur, so its escalations have no recipient.
A user added with `passend user add --email` is a recipient from the next tick on; a disabled
user (from config.toml or not) gets nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.reminders_support import AMS, Clock, clocked_engine, to_niveau_4
from workflow.bootstrap import bootstrap, load_settings, reminder_service
from workflow.entrypoints.cli.main import main as cli_main
from workflow.service_layer.engine import Engine
from workflow.service_layer.reminders.service import unreachable

MONDAY = "2026-11-30T08:00"
HET_ANKER_DIRECTEUR = """
[[users]]
id = "dir.visser"
role = "directeur"
schools = ["het-anker"]
email = "directie@het-anker.school.example"
"""


def test_reminders_due_names_the_school_without_a_recipient(cli: Any) -> None:
    assert cli("init").code == 0
    r = cli("reminders", "due", "--now", MONDAY)
    assert r.code == 0, r.err
    assert ("let op: school 'het-anker' heeft geen directeur met een e-mailadres; escalaties "
            "voor haar casussen worden niet verstuurd") in r.out
    assert "'de-linde'" not in r.out  # it has both an IB and a directeur with an address
    # The service's start says it too, in the log (school ids only, no addresses).
    assert "reminders.no_recipient" in r.err and "het-anker" in r.err
    assert "@" not in r.err


def test_a_fully_staffed_config_has_no_gaps(tmp_path: Path, sqlite_url: str) -> None:
    engine = bootstrap(write_config(tmp_path, sqlite_url, extra=HET_ANKER_DIRECTEUR),
                                create_key=True)
    engine.init()
    assert unreachable(engine, load_settings(engine)) == []
    reminder_service(engine)  # starts without a warning to give


def test_a_user_without_an_address_does_not_count(tmp_path: Path, sqlite_url: str) -> None:
    no_address = HET_ANKER_DIRECTEUR.replace('email = "directie@het-anker.school.example"\n', "")
    engine = bootstrap(write_config(tmp_path, sqlite_url, extra=no_address), create_key=True)
    engine.init()
    assert unreachable(engine, load_settings(engine)) == [("het-anker", "escalations", ("directeur",))]


# ---- the recipients are the store's users, not config.toml's ------------------------------------

START = dt.date(2026, 9, 7)  # a Monday; the OPP clock of a case at niveau_4 runs 6 weeks from here
REMIND_AT = dt.datetime.combine(START + dt.timedelta(weeks=4), dt.time(9), tzinfo=AMS)  # 2 weeks before


def _engine(tmp_path: Path, db_url: str, clock: Clock, **reminders: Any) -> Engine:
    settings = "".join(f"{k} = {v}\n" for k, v in {"digest": "false", **reminders}.items())
    extra = f'\n[reminders]\n{settings}\n[notifier]\nbackend = "file"\nfolder = "{tmp_path / "outbox"}"\n'
    return clocked_engine(write_config(tmp_path, db_url, extra=extra), clock)


def _due(engine: Engine, at: dt.datetime) -> list[tuple[str, str, str | None]]:
    service = reminder_service(engine, lambda: at.astimezone(dt.UTC))
    return sorted((i.kind, i.recipient, i.case_id) for i in service.planner().due(at))


def test_a_user_added_with_an_address_gets_reminders_and_a_disabled_one_none(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock(START)
    engine = _engine(tmp_path, db_url, clock)
    cid = to_niveau_4(engine)
    assert _due(engine, REMIND_AT) == [("reminder", "ib.jansen", cid)]
    code = cli_main(["--config", str(engine.config.path), "user", "add", "ib.berg", "--role", "ib",
                     "--school", "de-linde", "--email", "berg@de-linde.school.example"])
    assert code == 0, capsys.readouterr().err
    assert _due(engine, REMIND_AT) == [("reminder", "ib.berg", cid), ("reminder", "ib.jansen", cid)]
    engine.users.set_disabled("ib.jansen", True, now=clock.now)  # a config user, disabled
    assert _due(engine, REMIND_AT) == [("reminder", "ib.berg", cid)]
    service = reminder_service(engine, lambda: REMIND_AT.astimezone(dt.UTC))
    assert service.tick()["sent"] == 1
    assert [(m.recipient, m.status) for m in engine.store.outbox.rows()] == [("ib.berg", "sent")]
    engine.users.set_disabled("ib.berg", True, now=clock.now)
    assert _due(engine, REMIND_AT) == []
    assert ("de-linde", "reminders", ("ib",)) in unreachable(engine, load_settings(engine))


def test_a_disabled_ib_gets_no_digest(tmp_path: Path, db_url: str) -> None:
    clock = Clock(START)
    engine = _engine(tmp_path, db_url, clock, digest="true", digest_time='"07:00"')
    to_niveau_4(engine)
    overdue = dt.datetime.combine(START + dt.timedelta(weeks=7), dt.time(9), tzinfo=AMS)
    assert ("digest", "ib.jansen", None) in _due(engine, overdue)
    engine.users.set_disabled("ib.jansen", True, now=clock.now)
    assert [d for d in _due(engine, overdue) if d[0] == "digest"] == []


def test_the_start_up_check_reads_the_users_table(tmp_path: Path, db_url: str) -> None:
    engine = _engine(tmp_path, db_url, Clock(START))
    settings = load_settings(engine)
    assert unreachable(engine, settings) == [("het-anker", "escalations", ("directeur",))]
    engine.users.add(user_id="dir.visser", role="directeur", schools=["het-anker"], name="",
                     email="directie@het-anker.school.example", roles=engine.definition.roles,
                     known_schools=engine.config.schools, now=engine.clock())
    assert unreachable(engine, settings) == []
    engine.users.set_disabled("dir.visser", True, now=engine.clock())
    assert unreachable(engine, settings) == [("het-anker", "escalations", ("directeur",))]


def test_a_tick_reads_the_users_once_however_many_cases_it_plans(tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import event

    clock = Clock(START)
    engine = _engine(tmp_path, db_url, clock)
    cases = [to_niveau_4(engine, pupil=f"LL-{i}") for i in range(4)]
    cases.append(to_niveau_4(engine, school="het-anker", pupil="LL-9", ib="ib.smit", lk=None))
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM users" in statement:
            reads.append(statement)

    service = reminder_service(engine, lambda: REMIND_AT.astimezone(dt.UTC))
    event.listen(engine.db, "before_cursor_execute", count)
    try:
        planned = service.plan()
    finally:
        event.remove(engine.db, "before_cursor_execute", count)
    assert planned == len(cases)
    assert len(reads) == 1

"""A school whose reminders or escalations have nobody to go to is named, not passed over in silence.

The planner plans a message only for a user with an e-mail address who serves the school; the
test config gives Het Anker an IB but no directeur, so its escalations have no recipient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write_config
from workflow.bootstrap import bootstrap, load_settings, reminder_service
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

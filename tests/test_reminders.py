"""The reminder service end to end: planning, the calendar, the outbox, SMTP on loopback.

Each test moves a clock for the events (Clock) and asks the service what is due at a moment
(`at`), so whole weeks pass in a second. Mail goes to a real aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.reminders_support import (
    AMS,
    IB,
    Clock,
    adopt_opp,
    clocked_engine,
    free_port,
    smtp_extra,
    smtp_server,
    to_niveau_4,
)
from workflow.adapters.store import outbox
from workflow.bootstrap import reminder_service
from workflow.service_layer.engine import Engine

D0 = dt.date(2026, 9, 7)  # Monday; niveau_4 entered -> OPP due Monday 19 October 2026


def at(day: dt.date, hour: int = 8) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(dt.UTC)


class Rig:
    """An engine with a movable clock, the reminder service, and the SMTP inbox."""

    def __init__(self, engine: Engine, clock: Clock, port: int, inbox: Any) -> None:
        self.engine, self.clock, self.port, self.inbox = engine, clock, port, inbox
        self.moment = at(D0)
        self.service = reminder_service(engine, lambda: self.moment)

    def tick(self, day: dt.date, hour: int = 8) -> dict[str, int]:
        self.moment = at(day, hour)
        return self.service.tick()

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.inbox.messages()]


def _rig(tmp_path: Path, url: str, **settings: Any) -> Iterator[Rig]:
    port = free_port()
    cfg = write_config(tmp_path, url, extra=smtp_extra(port, **settings))
    clock = Clock(D0)
    engine = clocked_engine(cfg, clock)
    with smtp_server(port) as (_, inbox):
        yield Rig(engine, clock, port, inbox)
    engine.db.dispose()


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Iterator[Rig]:
    yield from _rig(tmp_path, db_url)


@pytest.fixture
def srig(tmp_path: Path, sqlite_url: str) -> Iterator[Rig]:
    yield from _rig(tmp_path, sqlite_url)


def test_opp_reminders_arrive_once_on_their_days_then_the_escalation(rig: Rig) -> None:
    cid = rig.engine.open_case(pupil="LL-9", school="de-linde", actor=IB, name="Sanne de Vries",
                               group=5)["case_id"]
    rig.engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
    cid = to_niveau_4(rig.engine, pupil="LL-10")
    # Due by the rule on Monday 19 October, in the autumn holiday: the IB is given Friday 16
    # October. 2 weeks before is 2 October, a day off: the reminder goes on Thursday 1 October
    # (day 24); 3 days before is 13 October (day 36); 1 week overdue is in the holiday: Monday
    # 26 October (day 49).
    assert rig.tick(D0 + dt.timedelta(days=23))["planned"] == 0  # 2w reminder is on day 24
    assert rig.tick(D0 + dt.timedelta(days=24), hour=6)["planned"] == 0  # before send_time 07:00
    r = rig.tick(D0 + dt.timedelta(days=24))
    assert (r["planned"], r["sent"]) == (1, 1)
    assert rig.tick(D0 + dt.timedelta(days=24), hour=15)["planned"] == 0  # never twice
    rig.tick(D0 + dt.timedelta(days=36))  # 3 days before
    rig.tick(D0 + dt.timedelta(days=49))  # 1 week overdue: escalation to the directeur
    msgs = rig.inbox.messages()
    assert [str(m["To"]) for m in msgs] == ["ib@de-linde.school.example"] * 2 + ["directie@de-linde.school.example"]
    first = msgs[0]
    assert first["Subject"] == (f"[passend] Herinnering: OPP vaststellen (uiterlijk 6 weken na niveau 4, "
                                f"WPO art. 40a lid 2) voor casus {cid} uiterlijk 16-10-2026")
    text = first.get_body(("plain",)).get_content()
    assert "vrijdag 16 oktober 2026" in text and "nog 15 dagen" in text
    assert "Eerst de stap ‘OPP opstellen’." in text and "OOGO-gesprek met de ouders" in text
    # A link to the case's page ([web] base_url, its default here) and nothing else of the case.
    assert f"Open de casus in passend:\r\n  http://127.0.0.1:8000/casus/{cid}\r\n" in text
    assert "passend case show" not in text
    html = first.get_body(("html",)).get_content()
    assert f'<a href="http://127.0.0.1:8000/casus/{cid}">Open de casus in passend</a>' in html
    assert [u for u in re.findall(r"https?://\S+", text)] == [f"http://127.0.0.1:8000/casus/{cid}"]
    assert "Termijn verstreken" in str(msgs[2]["Subject"])
    for m in msgs:  # no pupil name or reference anywhere in the mail
        raw = m.as_string()
        assert "Sanne" not in raw and "LL-10" not in raw
    assert len(set(rig.inbox.message_ids())) == 3


def test_a_deadline_met_before_its_reminder_sends_nothing(srig: Rig) -> None:
    cid = to_niveau_4(srig.engine)
    srig.clock.set(D0 + dt.timedelta(days=10))
    adopt_opp(srig.engine, cid)
    for day in (28, 39, 49):
        srig.tick(D0 + dt.timedelta(days=day))
    assert not any("OPP vaststellen" in s for s in srig.subjects())
    assert srig.inbox.messages() == []


def test_geschil_pauses_reminders_and_resuming_moves_them(srig: Rig) -> None:
    cid = to_niveau_4(srig.engine)
    srig.engine.fire(cid, "start_opp", actor=IB)
    srig.clock.set(D0 + dt.timedelta(days=20))
    srig.engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="refused", by="v")
    srig.engine.fire(cid, "dispute", actor=IB)
    assert srig.tick(D0 + dt.timedelta(days=28))["planned"] == 0  # paused: nothing goes out
    srig.clock.set(D0 + dt.timedelta(days=30))
    srig.engine.fire(cid, "resolve", actor=IB)  # 10 days paused: due moves to 29 October
    assert srig.tick(D0 + dt.timedelta(days=31))["planned"] == 0  # new 2w date is day 38
    srig.tick(D0 + dt.timedelta(days=38))
    (subject,) = srig.subjects()
    assert subject.endswith("uiterlijk 29-10-2026")


def test_reminder_in_the_autumn_holiday_of_region_zuid_goes_on_the_school_day_before(srig: Rig) -> None:
    srig.clock.set(dt.date(2026, 9, 7))
    cid = srig.engine.open_case(pupil="AN-1", school="het-anker", actor="ib.smit")["case_id"]
    # Plan ends Wed 28 Oct: the 1-week reminder (Wed 21 Oct) falls in herfstvakantie zuid (17-25 Oct).
    srig.engine.record("plan", cid, actor="ib.smit", start=dt.date(2026, 9, 7), end=dt.date(2026, 10, 28),
                       goals="g", who="lk", frequency="2x")
    assert srig.tick(dt.date(2026, 10, 15))["planned"] == 0
    assert srig.tick(dt.date(2026, 10, 16))["planned"] == 1
    (row,) = outbox.rows(srig.engine.db)
    assert (row.send_on, row.due_on, row.recipient) == (dt.date(2026, 10, 16), dt.date(2026, 10, 28), "ib.smit")
    assert srig.inbox.messages()[0]["To"] == "ib@het-anker.school.example"


def test_a_school_day_off_from_config_is_honoured(srig: Rig) -> None:
    cid = srig.engine.open_case(pupil="LL-3", school="de-linde", actor=IB)["case_id"]
    # Plan ends Fri 9 Oct; its reminder (Fri 2 Oct) is a studiedag of De Linde (config days_off).
    srig.engine.record("plan", cid, actor=IB, start=D0, end=dt.date(2026, 10, 9), goals="g", who="lk",
                       frequency="2x")
    assert srig.tick(dt.date(2026, 9, 30))["planned"] == 0
    assert srig.tick(dt.date(2026, 10, 1))["planned"] == 1
    assert outbox.rows(srig.engine.db)[0].send_on == dt.date(2026, 10, 1)


def test_downtime_catch_up_sends_the_latest_reminder_on_the_first_tick(srig: Rig) -> None:
    to_niveau_4(srig.engine)
    srig.tick(D0 + dt.timedelta(days=20))  # the service goes down after this tick ...
    r = srig.tick(D0 + dt.timedelta(days=37))  # ... and comes back after both reminder days (24, 36)
    # Only the latest reminder of the deadline goes out; the missed 2-week one is not sent late.
    assert (r["planned"], r["sent"]) == (1, 1)
    assert {row.key.split(":")[-2] for row in outbox.rows(srig.engine.db)} == {"3d"}


def test_smtp_refusing_then_down_then_back_delivers_each_reminder_once(tmp_path: Path, sqlite_url: str) -> None:
    from tests.reminders_support import Inbox

    port = free_port()
    cfg = write_config(tmp_path, sqlite_url, extra=smtp_extra(port, max_attempts=5))
    engine = clocked_engine(cfg, Clock(D0))
    for i in range(5):
        to_niveau_4(engine, pupil=f"LL-{i}")
    service = reminder_service(engine, lambda: at(D0 + dt.timedelta(days=28)))
    inbox = Inbox()
    inbox.refuse = 3  # the server answers 451 to the first three messages
    with smtp_server(port, inbox):
        r = service.tick()
    assert (r["planned"], r["sent"], r["retrying"]) == (5, 2, 3)
    r = service.tick()  # now the server is down altogether: all wait untried, no attempt spent
    assert (r["planned"], r["sent"], r["retrying"], r["deferred"], r["failed"]) == (0, 0, 0, 3, 0)
    assert sorted(row.attempts for row in outbox.rows(engine.db) if row.status == "pending") == [1, 1, 1]
    with smtp_server(port, inbox):  # back again
        r = service.tick()
        assert (r["sent"], r["retrying"]) == (3, 0)
        assert service.tick()["sent"] == 0
    ids = inbox.message_ids()
    assert len(ids) == 5 and len(set(ids)) == 5
    assert outbox.counts(engine.db) == {"sent": 5}
    engine.db.dispose()


def test_failed_after_max_attempts_is_listed_and_retried(tmp_path: Path, sqlite_url: str, capsys: Any) -> None:
    from tests.reminders_support import Inbox
    from workflow.entrypoints.cli.main import main

    port = free_port()  # nothing listens here yet: the mail server is down
    cfg = write_config(tmp_path, sqlite_url, extra=smtp_extra(port, max_attempts=2))
    clock = Clock(D0)
    engine = clocked_engine(cfg, clock)
    to_niveau_4(engine)
    moment = D0 + dt.timedelta(days=28)
    service = reminder_service(engine, lambda: at(moment))
    for _ in range(3):  # an outage spends no attempt, however long it lasts
        assert service.tick()["deferred"] == 1
    assert [r.attempts for r in outbox.rows(engine.db)] == [0]
    inbox = Inbox()
    inbox.refuse = 99  # up again, but answering 451 "try later" to every message
    with smtp_server(port, inbox):
        assert service.tick() == {"planned": 0, "sent": 0, "retrying": 1, "failed": 0, "lost_claim": 0,
                                  "deferred": 0, "cleared": 0}
        assert service.tick()["failed"] == 1
        assert service.tick()["failed"] == 0  # failed rows wait for a retry

    def cli(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["--config", str(cfg), *args])
        return code, capsys.readouterr().out

    code, out = cli("reminders", "list", "--failed", "--json")
    import json

    (row,) = json.loads(out)
    assert code == 0 and row["status"] == "failed" and row["attempts"] == 2
    assert "SMTP 451" in row["last_error"] and "probeer het later" in row["last_error"]
    with smtp_server(port) as (_, inbox):
        failed_id = str(row["id"])
        assert cli("reminders", "retry", failed_id, "999", "--actor", IB)[0] == 2  # 999 is no failed message
        assert outbox.counts(engine.db) == {"failed": 1}  # ... and nothing changed
        assert cli("reminders", "retry", failed_id)[0] == 2  # who does it must be said
        assert cli("reminders", "retry", failed_id, "--actor", "auditor")[0] == 3  # a read-only role
        code, out = cli("reminders", "retry", failed_id, "--actor", IB)
        assert code == 0 and f"1 bericht opnieuw in de wachtrij (door {IB})" in out
        (again,) = json.loads(cli("reminders", "list", "--pending", "--json")[1])
        assert again["retried_by"] == IB and again["retried_at"] is not None and again["attempts"] == 0
        code, out = cli("reminders", "dispatch", "--once", "--now", moment.isoformat() + "T09:00", "--json")
        assert json.loads(out)["sent"] == 1
    assert len(inbox.messages()) == 1
    assert cli("reminders", "list", "--failed", "--json")[1].strip() == "[]"
    engine.db.dispose()


def test_crash_between_send_and_mark_resends_with_the_same_message_id(srig: Rig) -> None:
    to_niveau_4(srig.engine)
    srig.moment = at(D0 + dt.timedelta(days=28))
    assert srig.service.plan() == 1
    # A service claims the row and sends it, then dies before marking it sent.
    now = dt.datetime.now(dt.UTC)
    claim = outbox.claim(srig.engine.db, now=now, batch=10, lease=dt.timedelta(seconds=300))
    from workflow.service_layer.reminders.dispatcher import row_message

    head = claim.rows[0]
    srig.service.notifier.send(row_message(head, outbox.load_body(srig.engine.db, head.id, claim.token)))
    srig.service.notifier.close()
    assert srig.service.dispatch()["sent"] == 0  # the lease still holds: nobody sends it again yet
    later = now + dt.timedelta(seconds=301)
    srig.service.real_clock = lambda: later  # the lease has run out
    assert srig.service.dispatch()["sent"] == 1
    ids = srig.inbox.message_ids()
    assert len(ids) == 2 and ids[0] == ids[1]  # the duplicate carries the same Message-ID
    assert outbox.counts(srig.engine.db) == {"sent": 1}


def test_planning_twice_or_from_two_services_plans_once(srig: Rig) -> None:
    to_niveau_4(srig.engine)
    srig.moment = at(D0 + dt.timedelta(days=28))
    other = reminder_service(srig.engine, lambda: srig.moment)
    planner = srig.service.planner()
    items = planner.due(srig.moment)
    rows = [planner.render(i, dt.datetime.now(dt.UTC)) for i in items]
    assert outbox.insert_new(srig.engine.db, rows, dt.datetime.now(dt.UTC)) == 1
    assert outbox.insert_new(srig.engine.db, rows + rows, dt.datetime.now(dt.UTC)) == 0
    assert other.plan() == 0 and srig.service.plan() == 0
    assert Counter(r.key for r in outbox.rows(srig.engine.db)).most_common(1)[0][1] == 1


def test_daily_digest_on_school_days(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    cfg = write_config(tmp_path, sqlite_url, extra=smtp_extra(port, digest=True, digest_time="07:30"))
    clock = Clock(dt.date(2023, 9, 4))
    engine = clocked_engine(cfg, clock)
    gone = engine.open_case(pupil="LL-0", school="de-linde", actor=IB)["case_id"]
    engine.fire(gone, "close", actor=IB, params={"reason": "verhuisd"})  # kept 2 years: erase since 2025
    clock.set(D0)
    overdue = to_niveau_4(engine, pupil="LL-1")
    quiet = engine.open_case(pupil="LL-2", school="de-linde", actor=IB)["case_id"]
    waiting = to_niveau_4(engine, pupil="LL-3")
    engine.fire(waiting, "start_opp", actor=IB)
    engine.record("meeting", waiting, actor=IB, kind="oogo", participants="ouders")
    engine.record("view", waiting, actor=IB, party="ouders", text="eens")
    engine.record("view", waiting, actor=IB, party="leerling", text="ok")
    clock.set(D0 + dt.timedelta(days=14))
    soon = to_niveau_4(engine, pupil="LL-4")  # due 2 November
    day = dt.date(2026, 10, 29)  # Thursday after the autumn holiday
    moment = [at(day, 7)]
    service = reminder_service(engine, lambda: moment[0])
    with smtp_server(port) as (_, inbox):
        service.tick()  # 07:00: before digest_time
        assert not any("Overzicht" in str(m["Subject"]) for m in inbox.messages())
        moment[0] = at(day)
        service.tick()
        service.tick()
        moment[0] = at(dt.date(2026, 10, 31))  # Saturday: no digest
        service.tick()
    (digest,) = [m for m in inbox.messages() if "Overzicht" in str(m["Subject"])]
    assert str(digest["Subject"]) == "[passend] Overzicht 29-10-2026: 1 deze week, 2 verstreken, 1 wacht op toestemming"
    text = digest.get_body(("plain",)).get_content()
    assert overdue in text and soon in text and quiet not in text
    assert f"{waiting} (OBS De Linde): het handelingsdeel van het OPP" in text
    assert f"{gone} (OBS De Linde): gesloten 2023-09-04, wissen vanaf 2025-09-04" in text
    engine.db.dispose()


def test_messages_escape_html_and_keep_the_subject_on_one_line() -> None:
    from workflow.service_layer.reminders.messages import render

    ctx = {"case_id": "C-X", "school": "OBS <De Linde> & Co", "group": 5, "label": "BOT\nOverleg <b>",
           "due": "01-02-2027", "due_long": "maandag 1 februari 2027", "days_left": 1, "overdue_days": 0,
           "state_label": "OPP vastgesteld", "missing": ["vast te leggen: <overleg>"], "meeting": True,
           "actor": "ib.jansen", "case_url": "https://passend.example/casus/C-X?a=1&b=<2>"}
    subject, text, html = render("reminder", ctx)
    assert "\n" not in subject and "BOT Overleg <b>" in subject
    assert 'href="https://passend.example/casus/C-X?a=1&amp;b=&lt;2&gt;"' in html
    assert "OBS &lt;De Linde&gt; &amp; Co" in html and "&lt;overleg&gt;" in html and "<b>" not in html
    assert "OBS <De Linde> & Co" in text and "nog 1 dag)" in text


def test_no_pupil_name_or_reference_in_the_service_logs(srig: Rig) -> None:
    import io

    from workflow.adapters.logs import configure

    stream = io.StringIO()
    configure("debug", json=True, stream=stream)
    try:
        cid = srig.engine.open_case(pupil="LL-777", school="de-linde", actor=IB, name="Sanne de Vries")["case_id"]
        srig.engine.record("plan", cid, actor=IB, start=D0, end=D0 + dt.timedelta(days=14), goals="lezen",
                           who="juf Anne", frequency="2x")
        srig.inbox.refuse = 1
        srig.tick(D0 + dt.timedelta(days=7))
        srig.tick(D0 + dt.timedelta(days=7), hour=9)
    finally:
        configure("warning")
    logs = stream.getvalue()
    assert "reminder.sent" in logs and "reminder.retry_later" in logs and cid in logs
    for secret in ("Sanne", "LL-777", "juf Anne", "lezen"):
        assert secret not in logs

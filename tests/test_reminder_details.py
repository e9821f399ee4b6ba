"""What the messages say (issue 15): each school's own sender and Message-ID domain; a due day
outside school days moved to the last school day before it, alike in the reminder, its .ics,
the digest and the case page; the files the file notifier writes readable by their owner only."""

from __future__ import annotations

import datetime as dt
import email
import grp
import os
from email import policy
from email.message import EmailMessage
from pathlib import Path

from tests.conftest import write_config
from tests.reminders_support import IB, Clock, adopt_opp, clocked_engine, to_niveau_4
from workflow.bootstrap import reminder_service

D0 = dt.date(2026, 9, 7)
AMS_HOUR = 9


def at(day: dt.date) -> dt.datetime:
    from tests.reminders_support import AMS

    return dt.datetime(day.year, day.month, day.day, AMS_HOUR, tzinfo=AMS).astimezone(dt.UTC)


EXTRA = """
[reminders]
send_time = "07:00"
digest = true
digest_time = "07:00"

[notifier]
backend = "file"
folder = "out"
from = "passend@de-linde.school.example"
"""


def config(tmp_path: Path, url: str, *, group: str | None = None) -> Path:
    cfg = write_config(tmp_path, url, extra=EXTRA)
    text = cfg.read_text().replace('name = "CBS Het Anker"',
                                   'name = "CBS Het Anker"\nfrom = "passend@het-anker.school.example"')
    if group is not None:
        text = text.replace('master_key_file = "var/master.key"',
                            f'master_key_file = "var/master.key"\nfile_group = "{group}"')
    cfg.write_text(text)
    return cfg


def mails(folder: Path) -> list[EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in sorted(folder.glob("*.eml"))]


def test_each_school_sends_from_its_own_address_and_domain(tmp_path: Path, sqlite_url: str) -> None:
    cfg = config(tmp_path, sqlite_url)
    engine = clocked_engine(cfg, Clock(D0))
    linde = to_niveau_4(engine, pupil="LL-1")
    anker = to_niveau_4(engine, pupil="LL-2", school="het-anker", ib="ib.smit", lk="ib.smit")
    assert reminder_service(engine, lambda: at(D0 + dt.timedelta(days=28))).tick()["sent"] == 2  # reminders
    # a week later each IB's digest lists a deadline of the week or one overdue
    assert reminder_service(engine, lambda: at(D0 + dt.timedelta(days=35))).tick()["sent"] >= 2
    by_to = {(str(m["To"]), "Herinnering" in str(m["Subject"])): m for m in mails(tmp_path / "out")}
    assert {k for k in by_to if not k[1]} == {("ib@de-linde.school.example", False),
                                               ("ib@het-anker.school.example", False)}  # the digests
    for (to, _reminder), m in by_to.items():
        school = "het-anker" if "het-anker" in to else "de-linde"
        assert str(m["From"]) == f"passend@{school}.school.example", (to, m["From"])
        assert str(m["Message-ID"]).endswith(f"@{school}.school.example>"), (to, m["Message-ID"])
    assert anker in str(by_to[("ib@het-anker.school.example", True)]["Subject"])
    assert linde in str(by_to[("ib@de-linde.school.example", True)]["Subject"])
    # the sender is fixed in the outbox row, so a resend is the same mail
    from workflow.adapters.store import outbox

    senders = {(row.recipient, row.sender) for row in outbox.rows(engine.db)}
    assert senders == {("ib.jansen", "passend@de-linde.school.example"),
                       ("ib.smit", "passend@het-anker.school.example")}
    engine.db.dispose()


def test_a_due_day_in_the_summer_holiday_moves_to_the_last_school_day_everywhere(tmp_path: Path,
                                                                                sqlite_url: str) -> None:
    cfg = config(tmp_path, sqlite_url)
    clock = Clock(D0)
    engine = clocked_engine(cfg, clock)
    cid = to_niveau_4(engine)
    adopt_opp(engine, cid)  # the yearly evaluation falls due on 31 July 2027, a Saturday in the holiday
    clock.set(dt.date(2027, 6, 1))
    shown = next(d for d in engine.case(cid, actor=IB)["deadlines"] if d["name"] == "opp_evaluatie")
    assert (shown["due"], shown["due_by_rule"]) == ("2027-07-16", "2027-07-31")  # Friday, last school day
    # the reminder, 4 weeks before the day people are given: Friday 18 June
    reminder_service(engine, lambda: at(dt.date(2027, 6, 17))).tick()
    assert not [m for m in mails(tmp_path / "out") if "Herinnering" in str(m["Subject"])]  # not a day early
    service = reminder_service(engine, lambda: at(dt.date(2027, 6, 18)))
    service.tick()
    (reminder,) = [m for m in mails(tmp_path / "out") if "Herinnering" in str(m["Subject"])]
    assert str(reminder["Subject"]).endswith("uiterlijk 16-07-2027")
    text = reminder.get_body(("plain",)).get_content()
    assert "vrijdag 16 juli 2027" in text and "31 juli" not in text
    (ics,) = [p for p in reminder.iter_attachments() if p.get_content_type() == "text/calendar"]
    body = ics.get_content()
    assert "DTSTART;VALUE=DATE:20270716" in body and "20270731" not in body
    # the digest of a day in the week before lists the same day
    service = reminder_service(engine, lambda: at(dt.date(2027, 7, 12)))
    service.tick()
    (digest,) = [m for m in mails(tmp_path / "out") if "12-07-2027" in str(m["Subject"])]
    dtext = digest.get_body(("plain",)).get_content()
    assert "16-07-2027" in dtext and "31-07-2027" not in dtext
    engine.db.dispose()


def test_eml_files_are_for_their_owner_or_the_configured_group(tmp_path: Path, sqlite_url: str) -> None:
    old = os.umask(0o022)  # the usual umask: files would be 0644 if left to it
    try:
        cfg = config(tmp_path, sqlite_url)
        engine = clocked_engine(cfg, Clock(D0))
        to_niveau_4(engine)
        reminder_service(engine, lambda: at(D0 + dt.timedelta(days=28))).tick()
        files = list((tmp_path / "out").glob("*.eml"))
        assert files and {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
        assert oct((tmp_path / "out").stat().st_mode & 0o777) == "0o700"
        engine.db.dispose()
        group = grp.getgrgid(os.getgid()).gr_name
        other = tmp_path / "groep"
        other.mkdir()
        cfg = config(other, f"sqlite:///{other / 'p.db'}", group=group)
        engine = clocked_engine(cfg, Clock(D0))
        to_niveau_4(engine)
        reminder_service(engine, lambda: at(D0 + dt.timedelta(days=28))).tick()
        files = list((other / "out").glob("*.eml"))
        assert files and {oct(f.stat().st_mode & 0o777) for f in files} == {"0o640"}
        assert {f.stat().st_gid for f in files} == {os.getgid()}
        engine.db.dispose()
    finally:
        os.umask(old)

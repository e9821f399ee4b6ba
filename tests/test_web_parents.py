"""The parents' portal in process (Starlette's TestClient) on a real store, SQLite and PostgreSQL:
the IB adds and invites a parent on the case page; the parent signs in from the mail, reads the
draft OPP and grants consent on the handelingsdeel, which makes adopt_opp allowed; the IB gets a
mail without pupil data. And what must fail and change nothing: another child's case (404), a
reused or expired link, the link and session of a removed parent, a forged document hash, a POST
without CSRF token (403)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import write_config
from tests.opp_support import V2, draft_full, to_concept
from tests.web_support import IB_MAIL, Clock, body, csrf_of, make_app, new_mail, notifier_section, sign_in
from workflow.adapters.store.tables import access_log, case_parents, events, parent_sessions
from workflow.bootstrap import bootstrap
from workflow.service_layer import cases, parents
from workflow.service_layer.engine import Engine

IB = "ib.jansen"
LINK = re.compile(r"(https?://[^\s]+/ouder/link/[A-Za-z0-9_-]+)")
HASH = re.compile(r'name="versie" value="([0-9a-f]{64})"')


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def engine(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Engine]:
    cfg = write_config(tmp_path, db_url, definition=V2, extra=notifier_section(tmp_path / "outbox"))
    e = bootstrap(cfg, create_key=True, clock=clock)
    e.init()
    yield e
    e.db.dispose()


@pytest.fixture
def app(engine: Engine) -> Any:
    return make_app(engine)


def counts(engine: Engine) -> tuple[int, ...]:
    with engine.db.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                     for t in (events, case_parents, parent_sessions))


def parent_reads(engine: Engine) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_log)
                                .where(access_log.c.role == "ouder")).scalar_one())


def invite(ib: TestClient, cid: str, outbox: Path, name: str = "Mevrouw Bakker",
           email: str = "ouder@example.nl") -> tuple[str, str]:
    page = ib.get(f"/casus/{cid}")
    assert page.status_code == 200 and "Ouders" in page.text
    r = ib.post(f"/casus/{cid}/ouders", data={"name": name, "email": email, "csrf": csrf_of(page.text)},
                follow_redirects=False)
    assert r.status_code == 303, r.text
    page = ib.get(f"/casus/{cid}")
    pid = pid_of(page.text, cid, name)
    r = ib.post(f"/casus/{cid}/ouders/{pid}/uitnodigen", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    mail = new_mail(outbox)
    assert mail["To"] == email and "Sanne" not in mail["Subject"] and "Sanne" not in body(mail)
    found = LINK.search(body(mail))
    assert found
    return pid, urlsplit(found.group(1)).path


def pid_of(page: str, cid: str, name: str) -> str:
    found = re.search(rf"<td>{name}</td>.*?/casus/{cid}/ouders/(P-[0-9a-f]+)/uitnodigen", page, re.S)
    assert found, f"no row for {name}"
    return found.group(1)


def use(client: TestClient, path: str) -> Any:
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)


def test_ib_invites_parent_grants_consent_and_adoption_is_allowed(app: Any, engine: Engine, clock: Clock,
                                                                  tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    cid = to_concept(engine, clock)
    draft_full(engine, cid)
    ib = TestClient(app)
    sign_in(ib, outbox, IB_MAIL, clock)
    pid, link = invite(ib, cid, outbox)
    parent = TestClient(app)
    r = use(parent, link)
    assert r.status_code == 303 and r.headers["location"] == "/ouder"
    page = parent.get("/ouder", follow_redirects=True)
    assert page.status_code == 200 and "Toestemming voor de hulp aan uw kind" in page.text
    assert "RT lezen" in page.text and "Sanne" in page.text
    # the timeline's dates as people write them (a plan's begin and end), never 2025-09-02
    assert re.search(r'<dd class="text">\d{1,2} (september|oktober) 2025</dd>', page.text)
    assert not re.search(r'<dd class="text">\d{4}-\d{2}-\d{2}</dd>', page.text)
    reads = parent_reads(engine)
    assert reads >= 1
    printable = parent.get(f"/ouder/casus/{cid}/opp/1")
    assert printable.status_code == 200 and "sha256-" in printable.headers["content-security-policy"]
    assert parent_reads(engine) == reads + 1
    shown = HASH.search(page.text)
    assert shown
    assert not cases.check(engine, cid, "adopt_opp", actor=IB).allowed
    r = parent.post(f"/ouder/casus/{cid}/besluit", data={"status": "granted", "versie": shown.group(1),
                                                          "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert cases.check(engine, cid, "adopt_opp", actor=IB).allowed
    news = new_mail(outbox)
    assert news["To"] == IB_MAIL and "Sanne" not in news["Subject"] + body(news) and cid in body(news)
    ib_page = ib.get(f"/casus/{cid}").text
    assert "Online gegeven door de ouder zelf" in ib_page and shown.group(1) in ib_page
    assert f"ouder:{pid}" not in ib_page  # no internal id on the IB's page
    # the parent's view and the pupil's, in their words
    page = parent.get(f"/ouder/casus/{cid}")
    r = parent.post(f"/ouder/casus/{cid}/mening", data={"party": "leerling", "text": "Ik lees graag met de RT'er.",
                                                         "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    new_mail(outbox)
    assert "Ik lees graag met de RT" in parent.get(f"/ouder/casus/{cid}").text


def test_what_must_fail_changes_nothing(app: Any, engine: Engine, clock: Clock, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    cid = to_concept(engine, clock)
    draft_full(engine, cid)
    other = str(engine.open_case(pupil="LL-2", school="de-linde", actor=IB, name="Ander kind")["case_id"])
    ib = TestClient(app)
    secret = sign_in(ib, outbox, IB_MAIL, clock)
    pid, link = invite(ib, cid, outbox)
    parent = TestClient(app)
    assert use(parent, link).status_code == 303
    page = parent.get(f"/ouder/casus/{cid}")
    token, shown = csrf_of(page.text), HASH.search(page.text)
    assert shown
    before = counts(engine)
    # another child's case: 404, nothing of it, nothing stored
    for path in (f"/ouder/casus/{other}", f"/ouder/casus/{other}/opp/1", "/ouder/casus/C-NOTTHERE"):
        r = parent.get(path)
        assert r.status_code == 404 and "Ander kind" not in r.text
    r = parent.post(f"/ouder/casus/{other}/mening", data={"party": "ouders", "text": "x", "csrf": token})
    assert r.status_code == 404
    # a forged or stale hash, and a POST without the CSRF token
    r = parent.post(f"/ouder/casus/{cid}/besluit", data={"status": "granted", "versie": "a" * 64, "csrf": token})
    assert r.status_code == 400 and "Er is niets opgeslagen" in r.text
    r = parent.post(f"/ouder/casus/{cid}/besluit", data={"status": "granted", "versie": shown.group(1)})
    assert r.status_code == 403
    # the staff's session is not the parent's: the IB's CSRF token does not work on /ouder
    r = ib.post(f"/ouder/casus/{cid}/besluit", data={"status": "granted", "versie": shown.group(1),
                                                      "csrf": csrf_of(ib.get(f"/casus/{cid}").text)})
    assert r.status_code == 403
    # a reused link
    r = use(TestClient(app), link)
    assert r.status_code == 400 and "al gebruikt" in r.text
    assert counts(engine) == before
    assert not cases.check(engine, cid, "adopt_opp", actor=IB).allowed
    # an expired link
    _, late = invite(ib, cid, outbox, name="Meneer Bakker", email="vader@example.nl")
    clock.advance(days=7, minutes=1)
    r = use(TestClient(app), late)
    assert r.status_code == 400 and "verlopen" in r.text
    # a removed parent: their session and a fresh link stop at once
    ib = TestClient(app)  # the IB's session ended meanwhile
    sign_in(ib, outbox, IB_MAIL, clock, secret)
    pid2, fresh = invite(ib, cid, outbox, name="Oma Bakker", email="oma@example.nl")
    grandma = TestClient(app)
    assert use(grandma, fresh).status_code == 303
    assert grandma.get(f"/ouder/casus/{cid}").status_code == 200
    _, unused = invite(ib, cid, outbox, name="Opa Bakker", email="opa@example.nl")
    page = ib.get(f"/casus/{cid}")
    pid3 = pid_of(page.text, cid, "Opa Bakker")
    for p in (pid2, pid3):
        r = ib.post(f"/casus/{cid}/ouders/{p}/verwijderen", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303
    r = grandma.get(f"/ouder/casus/{cid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ouder"
    r = use(TestClient(app), unused)
    assert r.status_code == 400 and "Deze link werkt niet" in r.text
    assert sorted(p.name for p in parents.listing(engine, cid, actor=IB)) == ["Meneer Bakker", "Mevrouw Bakker"]
    assert pid in {p.id for p in parents.listing(engine, cid, actor=IB)}

"""Asking the parents online for consent, in process (Starlette's TestClient) on a real store,
SQLite and PostgreSQL: the IB asks on the case page (the form starts with the catalog's words),
the parent signed in by the invitation link answers in the portal, escalate is allowed and the
IB's page shows the answer; the IB gets the mail without pupil data. And what must fail and store
nothing: another child's case (404), a POST without CSRF token (403), a forged hash, an answered
or replaced request, an empty text, a read-only role (no form; its POST refused) and a role that
may not record consent."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.opp_support import to_niveau_3_ready
from tests.test_web_parents import app, clock, counts, engine, invite, use  # noqa: F401  (app, clock, engine: the fixtures, as test_web_parents has them)
from tests.web_support import DIR_MAIL, IB_MAIL, Clock, body, csrf_of, new_mail, sign_in
from workflow.service_layer import cases
from workflow.service_layer.engine import Engine

IB = "ib.jansen"
LK_MAIL = "groep5@de-linde.school.example"
ASK = "Mogen wij de orthopedagoog van het samenwerkingsverband laten meekijken bij Sanne?"
REQUEST = re.compile(r'name="verzoek" value="(\d+)">\s*<input type="hidden" name="tekst" value="([0-9a-f]{64})"')


def ask(ib: TestClient, cid: str, scope: str, text: str, **extra: str) -> Any:
    page = ib.get(f"/casus/{cid}")
    return ib.post(f"/casus/{cid}/ouders/toestemming",
                   data={"scope": scope, "text": text, "csrf": csrf_of(page.text), **extra}, follow_redirects=False)


def requests_on(page: str) -> list[tuple[str, str]]:
    return REQUEST.findall(page)


@pytest.mark.slow
def test_ib_asks_parent_answers_and_the_step_is_allowed(app: Any, engine: Engine, clock: Clock,  # noqa: F811
                                                        tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    cid = to_niveau_3_ready(engine, clock)
    ib = TestClient(app)
    sign_in(ib, outbox, IB_MAIL, clock)
    page = ib.get(f"/casus/{cid}").text
    # the ask form, one per scope the parents may be asked online, with the catalog's words
    assert "Toestemming vragen voor inschakelen van een externe deskundige" in page
    assert "Toestemming vragen voor aanmelding bij het BOT" in page
    offered = re.findall(r'<input type="hidden" name="scope" value="([a-z_]+)">', page)
    assert offered == ["externe_deskundige", "bot_aanmelding"]  # not the OPP's, not a sharing scope
    assert "De school vraagt uw toestemming voor: inschakelen van een externe deskundige." in html.unescape(page)
    _pid, link = invite(ib, cid, outbox)
    r = ask(ib, cid, "externe_deskundige", ASK)
    assert r.status_code == 303 and r.headers["location"].endswith("#toestemming-vragen"), r.text
    page = ib.get(r.headers["location"]).text
    assert "De vraag om toestemming staat klaar voor de ouders" in page
    assert "gevraagd, nog geen antwoord" in page
    assert "Toestemming gevraagd: inschakelen van een externe deskundige" in page  # the staff timeline
    parent = TestClient(app)
    assert use(parent, link).status_code == 303
    page = parent.get(f"/ouder/casus/{cid}").text
    assert "De school vraagt uw toestemming" in page and ASK in page
    assert "Dat geldt als uw handtekening" in page
    [(seq, shown)] = requests_on(page)
    assert shown == hashlib.sha256(ASK.encode()).hexdigest() and shown in page
    assert not cases.check(engine, cid, "escalate", actor=IB).allowed
    r = parent.post(f"/ouder/casus/{cid}/verzoek", data={"verzoek": seq, "tekst": shown, "status": "granted",
                                                          "csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert cases.check(engine, cid, "escalate", actor=IB).allowed
    news = new_mail(outbox)
    assert news["To"] == IB_MAIL and "Sanne" not in news["Subject"] + body(news) and ASK not in body(news)
    page = parent.get(r.headers["location"]).text
    assert "Uw besluit is opgeslagen" in page and "Ik trek mijn toestemming in" in page
    assert "De school vroeg uw toestemming voor inschakelen van een externe deskundige" in page  # their timeline
    ib_page = ib.get(f"/casus/{cid}").text
    assert "toestemming gegeven" in ib_page and shown in ib_page and "Online gegeven door de ouder zelf" in ib_page


@pytest.mark.slow
def test_what_must_fail_stores_nothing(app: Any, engine: Engine, clock: Clock, tmp_path: Path) -> None:  # noqa: F811
    outbox = tmp_path / "outbox"
    cid = to_niveau_3_ready(engine, clock)
    other = str(engine.open_case(pupil="LL-2", school="de-linde", actor=IB, name="Ander kind")["case_id"])
    ib = TestClient(app)
    sign_in(ib, outbox, IB_MAIL, clock)
    _pid, link = invite(ib, cid, outbox)
    assert ask(ib, cid, "externe_deskundige", "eerste vraag").status_code == 303
    parent = TestClient(app)
    assert use(parent, link).status_code == 303
    [(old_seq, old_hash)] = requests_on(parent.get(f"/ouder/casus/{cid}").text)
    assert ask(ib, cid, "externe_deskundige", ASK).status_code == 303  # replaces the first
    page = parent.get(f"/ouder/casus/{cid}").text
    [(seq, shown)] = requests_on(page)
    assert seq != old_seq
    token = csrf_of(page)
    before = counts(engine)
    # the IB: an empty text, a scope that is not asked online, no CSRF token
    r = ask(ib, cid, "bot_aanmelding", "   ")
    assert r.status_code == 400 and "Schrijf de vraag aan de ouders." in r.text
    for scope in ("opp_handelingsdeel", "gegevensdeling_swv", "bestaat_niet"):
        r = ask(ib, cid, scope, "x")
        assert r.status_code == 400 and "Om deze toestemming kunt u de ouders hier niet vragen" in r.text
    r = ib.post(f"/casus/{cid}/ouders/toestemming", data={"scope": "bot_aanmelding", "text": "x"})
    assert r.status_code == 403
    assert ask(ib, "C-NOTTHERE", "bot_aanmelding", "x").status_code == 404
    # the parent: another child's case, no CSRF token, a forged hash, the replaced request
    data = {"verzoek": seq, "tekst": shown, "status": "granted", "csrf": token}
    r = parent.post(f"/ouder/casus/{other}/verzoek", data=data)
    assert r.status_code == 404 and "Ander kind" not in r.text
    r = parent.post(f"/ouder/casus/{cid}/verzoek", data={k: v for k, v in data.items() if k != "csrf"})
    assert r.status_code == 403
    r = parent.post(f"/ouder/casus/{cid}/verzoek", data={**data, "tekst": "a" * 64})
    assert r.status_code == 400 and "Er is niets opgeslagen" in r.text and "de vraag is veranderd" in r.text.lower()
    r = parent.post(f"/ouder/casus/{cid}/verzoek", data={**data, "verzoek": old_seq, "tekst": old_hash})
    assert r.status_code == 400 and "vervangen door een nieuwe vraag" in r.text
    r = parent.post(f"/ouder/casus/{cid}/verzoek", data={**data, "status": "revoked"})
    assert r.status_code == 400
    assert counts(engine) == before
    # answered once: not again
    assert parent.post(f"/ouder/casus/{cid}/verzoek", data=data, follow_redirects=False).status_code == 303
    new_mail(outbox)
    after = counts(engine)
    r = parent.post(f"/ouder/casus/{cid}/verzoek", data={**data, "status": "refused"})
    assert r.status_code == 400 and "niet meer antwoorden" in r.text
    assert counts(engine) == after
    # a read-only role sees no ask form, and its POST is refused; so is a role that may not record consent
    for mail in (DIR_MAIL, LK_MAIL):
        staff = TestClient(app)
        sign_in(staff, outbox, mail, clock)
        page = staff.get(f"/casus/{cid}")
        assert page.status_code == 200 and "/ouders/toestemming" not in page.text
        r = staff.post(f"/casus/{cid}/ouders/toestemming",
                       data={"scope": "bot_aanmelding", "text": "x", "csrf": csrf_of(page.text)})
        assert r.status_code == 403
    assert counts(engine) == after

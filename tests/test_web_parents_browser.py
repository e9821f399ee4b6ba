"""The parents' portal in a real browser (Debian's chromium through Playwright) against `passend
web` as a real uvicorn server on a loopback port, with a real SMTP server (aiosmtpd): the IB puts a
parent on the case and invites them; the parent signs in from the mail, reads the draft OPP and
grants consent on the handelingsdeel; the IB's page shows the online decision with the version's
hash, the IB got a mail without pupil data, and `adopt_opp` is allowed; a revised handelingsdeel
needs a fresh decision, and the parent's revocation blocks adoption again; the IB asks online for
consent on the BOT referral and the parent gives it. axe-core checks the
parent's pages and the IB's case page: no serious or critical violation.

Marked `slow`; skipped with the reason when /usr/bin/chromium is missing (.ci/run installs it).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.conftest import write_config
from tests.opp_support import FULL, V2, draft_full, to_concept
from tests.reminders_support import free_port, smtp_server
from tests.test_web_browser import CHROMIUM, _wait_until_up, accessible
from tests.web_support import Clock
from workflow.bootstrap import bootstrap
from workflow.service_layer import cases

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
IB = "ib.jansen"
SIGNIN = re.compile(r"(http://127\.0\.0\.1:\d+/inloggen/link/[A-Za-z0-9_-]+)")
INVITE = re.compile(r"(http://127\.0\.0\.1:\d+/ouder/link/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def inbox() -> Iterator[Any]:
    with smtp_server() as (port, box):
        box.port = port
        yield box


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, inbox: Any) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("parents")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = (f'\n[notifier]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {inbox.port}\nsecurity = "none"\n'
             f'from = "passend@test.example"\ntimeout = 5\n\n[web]\nbase_url = "{base}"\n')
    config = write_config(folder, f"sqlite:///{folder / 'passend.db'}", definition=V2, extra=extra)
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(config)]
    subprocess.run([*cmd, "init"], check=True, capture_output=True)
    # The case's history happened months ago (a clock of its own); the server runs on today.
    clock = Clock(dt.datetime.now(dt.UTC) - dt.timedelta(days=200))
    engine = bootstrap(config, clock=clock)
    cid = to_concept(engine, clock)
    draft_full(engine, cid)
    live = bootstrap(config)
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_until_up(base, proc)
        yield {"base": base, "engine": live, "case": cid}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        engine.store.dispose()
        live.store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _mail(inbox: Any, before: int, pattern: re.Pattern[str]) -> tuple[Any, str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = inbox.messages()
        if len(messages) > before:
            msg = messages[-1]
            found = pattern.search(msg.get_body(("plain",)).get_content())
            return msg, found.group(1) if found else ""
        time.sleep(0.1)
    raise AssertionError("no mail arrived")


def test_ib_invites_parent_consents_online_and_adoption_is_allowed(browser: Any, site: dict[str, Any],
                                                                   inbox: Any) -> None:
    base, cid, engine = site["base"], site["case"], site["engine"]
    ib = browser.new_context(locale="nl-NL", viewport={"width": 1200, "height": 900}).new_page()
    ib.goto(base + "/")
    before = len(inbox.messages())
    ib.get_by_label("E-mailadres").fill("ib@de-linde.school.example")
    ib.get_by_role("button", name="Stuur mij een inloglink").click()
    ib.get_by_role("heading", name="Kijk in uw e-mail").wait_for()
    ib.goto(_mail(inbox, before, SIGNIN)[1])
    ib.get_by_role("button", name="Verder met inloggen").click()
    secret = ib.locator("code.secret").inner_text().replace(" ", "")
    ib.get_by_label("Code van 6 cijfers").fill(pyotp.TOTP(secret).now())
    ib.get_by_role("button", name="Inloggen").click()
    ib.get_by_role("heading", name="Mijn werk").wait_for()

    # the IB puts a parent on the case and invites them
    ib.goto(f"{base}/casus/{cid}")
    ib.get_by_label("Naam van de ouder of verzorger").fill("Mevrouw Bakker")
    ib.get_by_label("E-mailadres").fill("ouder@example.nl")
    ib.get_by_role("button", name="Ouder toevoegen").click()
    ib.get_by_text("De ouder staat nu bij deze leerling.").wait_for()
    accessible(ib)
    before = len(inbox.messages())
    ib.get_by_role("button", name="Uitnodigen Mevrouw Bakker").click()
    ib.get_by_text("De uitnodiging is verstuurd.").wait_for()
    invitation, link = _mail(inbox, before, INVITE)
    assert invitation["To"] == "ouder@example.nl" and link
    assert "Sanne" not in invitation["Subject"] and "Sanne" not in invitation.get_body(("plain",)).get_content()

    # the parent signs in from the mail, reads the draft and grants consent on the handelingsdeel
    parent = browser.new_context(locale="nl-NL", viewport={"width": 1000, "height": 900}).new_page()
    parent.goto(link)
    accessible(parent)
    parent.get_by_role("button", name="Verder").click()
    parent.get_by_role("heading", name="Begeleiding van Sanne").wait_for()
    accessible(parent)
    parent.get_by_role("heading", name=re.compile("Het nieuwe plan, nog niet vastgesteld")).wait_for()
    shown = parent.locator("#toestemming code.hash").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", shown)
    assert not cases.check(engine, cid, "adopt_opp", actor=IB).allowed
    printable = parent.context.new_page()
    printable.goto(f"{base}/ouder/casus/{cid}/opp/1")
    assert shown in printable.content()
    printable.close()
    before = len(inbox.messages())
    parent.get_by_label("Ik geef toestemming").check()
    parent.get_by_role("button", name="Besluit versturen").click()
    parent.get_by_text("Uw besluit is opgeslagen.").wait_for()
    accessible(parent)
    news, _ = _mail(inbox, before, INVITE)
    assert news["To"] == "ib@de-linde.school.example" and "Sanne" not in news["Subject"]

    # the IB's page shows it, and adopt_opp is allowed
    ib.goto(f"{base}/casus/{cid}")
    ib.get_by_text("Online gegeven door de ouder zelf").first.wait_for()
    assert shown in ib.content()
    accessible(ib)
    assert cases.check(engine, cid, "adopt_opp", actor=IB).allowed

    # a revised handelingsdeel needs a fresh decision: the parent sees the new version's hash
    draft_full(engine, cid, texts={**FULL["texts"], "frequency": "2x per week 45 minuten"})
    assert not cases.check(engine, cid, "adopt_opp", actor=IB).allowed
    parent.reload()
    fresh = parent.locator("#toestemming code.hash").inner_text().strip()
    assert fresh != shown and "2x per week 45 minuten" in parent.content()
    parent.get_by_label("Ik geef toestemming").check()
    parent.get_by_role("button", name="Besluit versturen").click()
    parent.get_by_text("Uw besluit is opgeslagen.").wait_for()
    assert cases.check(engine, cid, "adopt_opp", actor=IB).allowed
    # and a revocation blocks what depends on it
    parent.get_by_label("Ik trek mijn toestemming in").check()
    parent.get_by_role("button", name="Besluit versturen").click()
    parent.get_by_text("Uw besluit is opgeslagen.").wait_for()
    accessible(parent)
    assert not cases.check(engine, cid, "adopt_opp", actor=IB).allowed

    # the IB asks online for consent on the BOT referral, in their own words; the parent answers
    ib.goto(f"{base}/casus/{cid}")
    ib.get_by_text("Toestemming vragen voor aanmelding bij het BOT").click()
    words = ib.locator("#verzoek-bot_aanmelding")
    assert "aanmelding bij het BOT" in words.input_value()  # the catalog's words, to edit
    words.fill("Mogen wij Sanne aanmelden bij het BOT van het samenwerkingsverband?")
    ib.get_by_role("button", name="Vraag klaarzetten aanmelding bij het BOT").click()
    ib.get_by_text("De vraag om toestemming staat klaar voor de ouders.", exact=False).wait_for()
    accessible(ib)
    parent.goto(f"{base}/ouder/casus/{cid}")
    asked = parent.locator("#verzoeken")
    asked.get_by_text("Mogen wij Sanne aanmelden bij het BOT").wait_for()
    accessible(parent)
    before = len(inbox.messages())
    asked.get_by_label("Ik geef toestemming").check()
    asked.get_by_role("button", name="Besluit versturen aanmelding bij het BOT").click()
    parent.get_by_text("Uw besluit is opgeslagen.").wait_for()
    news, _ = _mail(inbox, before, INVITE)
    assert "Sanne" not in news["Subject"] + news.get_body(("plain",)).get_content()
    ib.goto(f"{base}/casus/{cid}")
    ib.get_by_role("cell", name="toestemming gegeven").wait_for()
    accessible(ib)
    ib.context.close()
    parent.context.close()

"""The IB's journey through the work pages in a real browser (Debian's chromium through
Playwright) against `passend web` as a real uvicorn server on a loopback port, with a real SMTP
server (aiosmtpd) for the sign-in link and the reminders: sign in by e-mail link and TOTP, open
a case, record evidence (a required field left out shows its error next to the field), see a
refused step with its reasons, walk an OPP draft to an adopted OPP through the forms, the preview
and the confirmation, reach every action by keyboard, and follow a reminder's link to the case.
axe-core checks every page: no serious or critical violation. And the README's first command
(`passend demo --serve`) serves these pages and prints a link that signs the demo IB in.

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
from tests.engine_support import walk_to_niveau_4
from tests.reminders_support import free_port, smtp_server
from tests.test_web_browser import CHROMIUM, accessible
from workflow.bootstrap import bootstrap
from workflow.domain.instants import SCHOOL_TZ

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
IB, LK = "ib.jansen", "lk.devries"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/inloggen/link/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def inbox() -> Iterator[Any]:
    with smtp_server() as (port, box):
        box.port = port
        yield box


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, inbox: Any) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("pages")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = (f'\n[notifier]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {inbox.port}\nsecurity = "none"\n'
             f'from = "passend@test.example"\ntimeout = 5\n\n[web]\nbase_url = "{base}"\n')
    config = write_config(folder, f"sqlite:///{folder / 'passend.db'}", extra=extra)
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(config)]
    subprocess.run([*cmd, "init"], check=True, capture_output=True)
    engine = bootstrap(config)
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        from tests.test_web_browser import _wait_until_up

        _wait_until_up(base, proc)
        yield {"base": base, "engine": engine, "cmd": cmd}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        engine.store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser: Any, site: dict[str, Any], inbox: Any) -> Iterator[Any]:
    """One browser, signed in once as the IB by link and code (the code app is enrolled then)."""
    context = browser.new_context(locale="nl-NL", viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.goto(site["base"] + "/")
    before = len(inbox.messages())
    p.get_by_label("E-mailadres").fill("ib@de-linde.school.example")
    p.get_by_role("button", name="Stuur mij een inloglink").click()
    p.get_by_role("heading", name="Kijk in uw e-mail").wait_for()
    p.goto(_mail_link(inbox, before))
    p.get_by_role("button", name="Verder met inloggen").click()
    secret = p.locator("code.secret").inner_text().replace(" ", "")
    p.get_by_label("Code van 6 cijfers").fill(pyotp.TOTP(secret).now())
    p.get_by_role("button", name="Inloggen").click()
    p.get_by_role("heading", name="Mijn werk").wait_for()
    yield p
    context.close()


def _mail_link(inbox: Any, before: int) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = inbox.messages()
        if len(messages) > before:
            found = LINK.search(messages[-1].get_body(("plain",)).get_content())
            assert found, "no link in the mail"
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError("no sign-in mail arrived")


def record(page: Any, kind: str, summary: str, fields: dict[str, str], choose: dict[str, str] | None = None) -> None:
    form = page.locator(f"#vastleggen-{kind}")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    for label, value in (choose or {}).items():
        form.get_by_label(label).select_option(label=value)
    for label, value in fields.items():
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name=f"{summary} vastleggen").click()
    page.get_by_text(f"Vastgelegd: {summary.lower()}.").wait_for()


def take_step(page: Any, label: str) -> None:
    page.get_by_role("button", name=f"Bekijk wat er gebeurt: {label}").click()
    page.get_by_role("heading", name=f"Dit gebeurt er: {label}").wait_for()
    accessible(page)
    page.get_by_role("button", name=f"Bevestigen: {label}").click()
    page.get_by_text(f"Gedaan: {label}.").wait_for()


def test_the_ib_opens_a_case_records_evidence_and_sees_a_refused_step(page: Any, site: dict[str, Any]) -> None:
    accessible(page)  # Mijn werk
    page.get_by_role("link", name="Nieuwe casus").click()
    page.get_by_role("heading", name="Nieuwe casus").wait_for()
    accessible(page)
    page.get_by_role("button", name="Casus openen").click()  # nothing filled in
    assert "Vul het leerlingnummer in" in page.locator("#leerling-fout").inner_text()
    accessible(page)
    page.get_by_label("Leerlingnummer").fill("LL-5001")
    page.get_by_label("Groep").select_option(label="Groep 5")
    page.get_by_role("button", name="Casus openen").click()
    page.get_by_text("De casus is geopend.").wait_for()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Casus C-")
    accessible(page)
    step = page.locator("li.step", has_text="Opschalen")
    assert "Dit kan nog niet" in step.inner_text()
    assert "Er is nog geen signalering vastgelegd" in step.inner_text()  # the reason, in plain Dutch
    form = page.locator("#vastleggen-signal")
    form.locator("summary").click()
    form.get_by_label("Gebied").select_option(label="lezen")
    form.get_by_role("button", name="Signalering vastleggen").click()  # the note is left out
    error = page.locator("#signal-note-fout")
    assert "verplicht" in error.inner_text()
    assert page.locator("#signal-note").get_attribute("aria-invalid") == "true"
    assert "signal-note-fout" in (page.locator("#signal-note").get_attribute("aria-describedby") or "")
    assert page.locator("#signal-area").input_value() == "lezen"  # what was filled in stays
    accessible(page)
    record(page, "signal", "Signalering", {"Notitie": "Leest traag en raadt woorden. <b>niet vet</b>"})
    assert "<b>niet vet</b>" in page.locator("#vastgelegd").inner_text()  # text, not markup
    take_step(page, "Opschalen")
    assert "Niveau 2: extra aandacht in de klas" in page.locator("dl.facts").first.inner_text()


def test_the_ib_walks_an_opp_draft_to_an_adopted_opp_through_the_pages(page: Any, site: dict[str, Any]) -> None:
    engine = site["engine"]
    cid = walk_to_niveau_4(engine, "LL-5002", group=6)
    engine.fire(cid, "start_opp", actor=IB)
    page.goto(site["base"] + f"/casus/{cid}")
    adopt = page.locator("li.step", has_text="OPP vaststellen")
    assert "OOGO-gesprek met de ouders" in adopt.inner_text() and "handelingsdeel" in adopt.inner_text()
    record(page, "meeting", "Overleg", {"Deelnemers": "ouders, leerkracht, IB"},
           {"Soort overleg": "OOGO-gesprek met de ouders"})
    record(page, "consent", "Toestemming", {"Wie besliste": "moeder"},
           {"Waarvoor": "het handelingsdeel van het OPP", "Besluit": "verleend"})
    record(page, "view", "Mening", {"Mening in eigen woorden": "Wij steunen het plan."},
           {"Van wie": "mening van de ouders"})
    record(page, "view", "Mening", {"Mening in eigen woorden": "Ik wil beter lezen."},
           {"Van wie": "mening van de leerling"})
    page.get_by_role("button", name="Bekijk wat er gebeurt: OPP vaststellen").click()
    page.get_by_role("heading", name="Dit gebeurt er: OPP vaststellen").wait_for()
    text = page.locator("main").inner_text()
    assert "Stopt: OPP vaststellen" in text and "Begint: OPP evalueren met ouders" in text
    assert "Het OPP is vanaf nu vastgesteld." in text
    accessible(page)
    page.get_by_role("button", name="Bevestigen: OPP vaststellen").click()
    page.get_by_text("Gedaan: OPP vaststellen.").wait_for()
    assert "OPP vastgesteld" in page.locator("dl.facts").first.inner_text()
    assert engine.case(cid, actor=IB)["state"] == "opp_vastgesteld"


def test_every_action_on_the_case_page_is_reached_by_keyboard(page: Any, site: dict[str, Any]) -> None:
    engine = site["engine"]
    cid = walk_to_niveau_4(engine, "LL-5003")
    page.goto(site["base"] + f"/casus/{cid}")
    seen: list[str] = []
    for _ in range(160):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("(e => e.tagName + ':' + (['SELECT', 'INPUT', 'TEXTAREA'].includes(e.tagName)"
                                  " ? e.name : e.innerText))(document.activeElement)"))
    joined = "\n".join(seen)
    assert seen[0] == "A:Naar de inhoud"
    for wanted in ("A:Leerlingen", "BUTTON:Bekijk wat er gebeurt", "SUMMARY:Signalering", "SUMMARY:Contact",
                   "SELECT:keuze-reason", "BUTTON:Uitloggen"):
        assert wanted in joined, wanted
    # Open a form, fill it and send it with the keyboard alone.
    page.locator("#vastleggen-contact summary").focus()
    page.keyboard.press("Enter")

    def tab_to(test: str) -> None:
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate(f"(e => {test})(document.activeElement)"):
                return
        raise AssertionError(f"never reached by Tab: {test}")

    tab_to("e.name === 'veld-method'")
    page.keyboard.press("ArrowDown")  # the first way: a conversation
    tab_to("e.tagName === 'BUTTON' && e.innerText === 'Contact vastleggen'")
    page.keyboard.press("Enter")
    page.get_by_text("Vastgelegd: contact.").wait_for()


def test_the_caseload_filters_in_place_and_a_reminder_links_to_the_case(page: Any, site: dict[str, Any],
                                                                         inbox: Any) -> None:
    engine = site["engine"]
    cid = walk_to_niveau_4(engine, "LL-5004", group=2)
    page.goto(site["base"] + "/leerlingen")
    accessible(page)
    page.get_by_label("Groep").select_option(label="Groep 2")  # htmx: only the results change
    page.wait_for_url(re.compile(r"groep=2"))
    page.locator(f'#resultaten a[href="/casus/{cid}"]').wait_for()
    assert page.locator("#resultaten tbody tr").count() == 1
    assert page.get_by_label("Groep").input_value() == "2"
    accessible(page)
    # The reminder two weeks before the OPP's deadline, sent by the reminder service.
    when = (dt.datetime.now(SCHOOL_TZ) + dt.timedelta(days=30)).strftime("%Y-%m-%dT12:00")
    subprocess.run([*site["cmd"], "serve", "--once", "--now", when], check=True, capture_output=True)
    mail = next(m for m in inbox.messages() if cid in str(m["Subject"]) and "Herinnering" in str(m["Subject"]))
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"(http://127\.0\.0\.1:\d+/casus/" + cid + r")\s", text)
    assert link and "LL-5004" not in mail.as_string()
    page.goto(link.group(1))
    page.get_by_role("heading", name=f"Casus {cid}").wait_for()
    assert "LL-5004" in page.locator("dl.facts").first.inner_text()
    accessible(page)


def test_the_directeur_lands_on_the_page_asked_for_and_reads_directie_and_audit(
        browser: Any, site: dict[str, Any], inbox: Any) -> None:
    """Signed out, the directeur opens the Directie page (a bookmark), signs in by link and code
    and is back on it; then Audit: a verification run, the compliance report, a case's access
    log and the export download, each page checked by axe-core; no write control anywhere."""
    engine = site["engine"]
    cid = walk_to_niveau_4(engine, "LL-5005")
    engine.case(cid, actor=IB)  # one read in the access log
    context = browser.new_context(locale="nl-NL", viewport={"width": 1200, "height": 900}, accept_downloads=True)
    p = context.new_page()
    try:
        p.goto(site["base"] + "/directie")
        p.get_by_label("E-mailadres").wait_for()
        before = len(inbox.messages())
        p.get_by_label("E-mailadres").fill("directie@de-linde.school.example")
        p.get_by_role("button", name="Stuur mij een inloglink").click()
        p.get_by_role("heading", name="Kijk in uw e-mail").wait_for()
        p.goto(_mail_link(inbox, before))
        p.get_by_role("button", name="Verder met inloggen").click()
        secret = p.locator("code.secret").inner_text().replace(" ", "")
        p.get_by_label("Code van 6 cijfers").fill(pyotp.TOTP(secret).now())
        p.get_by_role("button", name="Inloggen").click()
        p.get_by_role("heading", name="Directie", level=1).wait_for()
        assert p.url == site["base"] + "/directie"
        assert p.locator('svg[role="img"] title').count() >= 3
        assert p.locator('form[method="post"]').count() == 1  # sign-out only
        accessible(p)
        p.get_by_role("navigation").get_by_role("link", name="Audit").click()
        p.get_by_role("heading", name="Audit", level=1).wait_for()
        accessible(p)
        p.get_by_role("button", name="Nu controleren").click()
        p.get_by_text("Alles is intact.").wait_for()
        accessible(p)
        p.goto(site["base"] + "/audit/naleving")
        p.get_by_role("heading", name="Naleving van de wettelijke regels").wait_for()
        accessible(p)
        p.goto(site["base"] + "/audit")
        p.get_by_label("Casusnummer").fill(cid)
        p.get_by_role("button", name="Inzagelog tonen").click()
        p.get_by_role("heading", name=f"Inzage van casus {cid}").wait_for()
        assert "casus bekeken" in p.locator("table").inner_text()
        accessible(p)
        p.goto(site["base"] + "/audit")
        with p.expect_download() as download:
            p.get_by_role("button", name="Export downloaden").click()
        assert download.value.suggested_filename.endswith(".zip")
    finally:
        context.close()


def test_the_quick_start_command_serves_the_pages_and_signs_the_demo_ib_in(tmp_path: Path, browser: Any) -> None:
    """`passend demo --pupils N --serve`, as the README's first command runs it: its link and
    demo code key sign the demo IB in, and every page is photographed (tests/screenshots.py)."""
    from tests.screenshots import take

    shots = take(tmp_path / "shots", browser)
    assert {p.name for p in shots} >= {"mijn-werk.png", "leerlingen.png", "casus.png", "nieuwe-casus.png",
                                       "casus-formulier-fout.png", "directie.png", "audit-controle.png"}
    assert all(p.stat().st_size > 10_000 for p in shots)

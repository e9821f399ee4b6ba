"""The sign-in journeys in a real browser (Debian's chromium through Playwright) against
`passend web` running as a real uvicorn server on a loopback port, with a real SMTP server
(aiosmtpd) catching the link mail and a real local OpenID Connect provider (oidc-provider-mock).
axe-core checks every sign-in page: no serious or critical violation.

Marked `slow`; skipped with the reason when /usr/bin/chromium is missing (.ci/run installs it).
"""

from __future__ import annotations

import os
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
from tests.reminders_support import free_port, smtp_server

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
SECRET_ENV = "PASSEND_TEST_OIDC_SECRET"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/inloggen/link/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def inbox() -> Iterator[Any]:
    with smtp_server() as (port, box):
        box.port = port
        yield box


@pytest.fixture(scope="module")
def provider() -> Iterator[int]:
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub="ib-smit", claims={"email": "IB@het-anker.school.example", "email_verified": True}),
             User(sub="onbekend", claims={"email": "onbekend@het-anker.school.example", "email_verified": True})]
    with run_server_in_thread(port=free_port(), require_nonce=True, user_claims=users) as server:
        yield int(server.server_port)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, inbox: Any, provider: int) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("web")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = (f'\n[notifier]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {inbox.port}\nsecurity = "none"\n'
             f'from = "passend@test.example"\ntimeout = 5\n'
             f'\n[web]\nbase_url = "{base}"\n'
             f'\n[web.oidc]\nissuer = "http://localhost:{provider}"\nclient_id = "passend-test"\n'
             f'client_secret_env = "{SECRET_ENV}"\nlabel = "Inloggen met het schoolaccount"\n')
    config = write_config(folder, f"sqlite:///{folder / 'passend.db'}", extra=extra)
    env = {**os.environ, SECRET_ENV: "geheim-van-de-test"}
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(config)]
    subprocess.run([*cmd, "init"], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_until_up(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _wait_until_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"passend web stopped: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(base + "/gezond", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("passend web did not start within 30 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="nl-NL")
    yield context.new_page()
    context.close()


def accessible(page: Any) -> None:
    """axe-core on the page as shown: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in result.response["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, (page.url, bad)


def _link_mail(inbox: Any, before: int) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = inbox.messages()
        if len(messages) > before:
            msg = messages[-1]
            assert msg["Subject"] == "Uw inloglink voor passend"
            found = LINK.search(msg.get_body(("plain",)).get_content())
            assert found, "no link in the mail"
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError("no sign-in mail arrived")


def test_sign_in_by_link_and_code_then_sign_out(page: Any, server: str, inbox: Any) -> None:
    page.goto(server + "/")
    assert page.url == server + "/inloggen"
    accessible(page)
    before = len(inbox.messages())
    page.get_by_label("E-mailadres").fill("ib@de-linde.school.example")
    page.get_by_role("button", name="Stuur mij een inloglink").click()
    page.get_by_role("heading", name="Kijk in uw e-mail").wait_for()
    accessible(page)
    link = _link_mail(inbox, before)
    page.goto(link)
    accessible(page)
    page.get_by_role("button", name="Verder met inloggen").click()
    page.get_by_role("heading", name="Stel uw authenticator-app in").wait_for()
    assert page.locator("svg.qr").count() == 1
    accessible(page)
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("Code van 6 cijfers").fill("123")
    page.get_by_role("button", name="Inloggen").click()
    assert "klopt niet" in page.get_by_role("alert").inner_text()
    accessible(page)
    page.get_by_label("Code van 6 cijfers").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_role("heading", name="Mijn werk").wait_for()  # the IB starts on Mijn werk
    assert "intern begeleider" in page.content() and "OBS De Linde" in page.content()
    accessible(page)
    cookies = page.context.cookies()
    assert any(c["name"] == "passend" and c["httpOnly"] and c["sameSite"] == "Lax" for c in cookies)
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Naar de inhoud"
    page.get_by_role("button", name="Uitloggen").click()
    page.get_by_text("U bent uitgelogd.").wait_for()
    again = page.context.browser.new_context()  # the old cookie, in a fresh browser: worth nothing
    again.add_cookies([c for c in cookies if c["name"] == "passend"])
    other = again.new_page()
    other.goto(server + "/")
    assert other.url == server + "/inloggen"
    again.close()
    page.goto(link)  # the link was used: it does not work again
    page.get_by_role("button", name="Verder met inloggen").click()
    assert "al gebruikt" in page.get_by_role("alert").inner_text()


def test_sign_in_through_the_schools_provider(page: Any, server: str) -> None:
    page.goto(server + "/inloggen")
    page.get_by_role("link", name="Inloggen met het schoolaccount").click()
    page.get_by_role("button", name="ib-smit").click()  # the provider's own page: this person signs in
    page.get_by_role("heading", name="Mijn werk").wait_for()  # the IB starts on Mijn werk
    assert page.url == server + "/"
    assert "ib.smit" in page.content() and "CBS Het Anker" in page.content()
    cookies = [c for c in page.context.cookies() if c["name"] == "passend"]
    page.get_by_role("button", name="Uitloggen").click()
    page.get_by_text("U bent uitgelogd.").wait_for()
    again = page.context.browser.new_context()
    again.add_cookies(cookies)
    other = again.new_page()
    other.goto(server + "/")
    assert other.url == server + "/inloggen"
    again.close()


def test_a_person_the_provider_knows_but_passend_does_not_is_refused(page: Any, server: str) -> None:
    page.goto(server + "/inloggen")
    page.get_by_role("link", name="Inloggen met het schoolaccount").click()
    page.get_by_role("button", name="onbekend").click()
    page.get_by_role("heading", name="Inloggen lukt niet").wait_for()
    assert "geen toegang tot passend" in page.get_by_role("alert").inner_text()
    accessible(page)
    page.goto(server + "/")
    assert page.url == server + "/inloggen"

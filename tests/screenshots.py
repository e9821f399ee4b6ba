"""Screenshots of the web app's pages for the README, taken with the real browser.

    python -m tests.screenshots [FOLDER]        # default: docs/screenshots

Runs what the README's first Quick start command runs (`passend demo --pupils 120 --serve`) in
a fresh temporary folder on a free loopback port, signs in as the demo IB with the link and the
demo code key it prints, and photographs each page in Debian's chromium (Playwright). Nothing is
sent anywhere but loopback; the messages land as .eml files in the temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(folder: Path, pupils: int = 120) -> tuple[subprocess.Popen[str], str, str, str]:
    """`passend demo --pupils N --serve` in `folder`; returns (process, address, link, secret)."""
    port = free_port()
    config = (REPO / "config.toml").read_text(encoding="utf-8")
    states = REPO / "states"
    config = config.replace('definition = "states/passend_po_v2.toml"', f'definition = "{states}/passend_po_v2.toml"')
    config = config.replace('folder = "states"', f'folder = "{REPO}/states"')
    config = config.replace("health_port = 9464", "health_port = 0")  # a test's service takes no fixed port
    config = config.replace('base_url = "http://127.0.0.1:8000"', f'base_url = "http://127.0.0.1:{port}"')
    (folder / "config.toml").write_text(config, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config",
                             str(folder / "config.toml"), "demo", "--pupils", str(pupils), "--seed", "7", "--serve"],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out = ""
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError("passend demo --serve stopped:\n" + out)
            continue
        out += line
        if "Ctrl-C stopt alles" in line:
            break
    link = re.search(r"(http://127\.0\.0\.1:\d+/inloggen/link/\S+)", out)
    secret = re.search(r"DEMO-sleutel: (\S+)", out)
    if not link or not secret:
        raise RuntimeError("no link or demo key in the output:\n" + out)
    base = f"http://127.0.0.1:{port}"
    _wait_until_up(base)
    return proc, base, link.group(1), secret.group(1)


def _wait_until_up(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/gezond", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("passend web did not start")


def sign_in(page: Any, link: str, secret: str) -> None:
    import pyotp

    page.goto(link)
    page.get_by_role("button", name="Verder met inloggen").click()
    page.get_by_label("Code van 6 cijfers").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Inloggen").click()
    page.get_by_role("heading", name="Mijn werk").wait_for()


def _invitation(outbox: Path) -> str:
    """The parent's sign-in link from the invitation the file notifier wrote (it may take a moment)."""
    import email
    from email import policy

    pattern = re.compile(r"(http://127\.0\.0\.1:\d+/ouder/link/[A-Za-z0-9_-]+)")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for eml in outbox.glob("*.eml"):
            msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
            body = msg.get_body(("plain",))
            found = pattern.search(body.get_content() if body is not None else "")
            if found:
                return found.group(1)
        time.sleep(0.2)
    raise RuntimeError("no invitation arrived")


def take(folder: Path, browser: Any = None) -> list[Path]:
    """Photograph every page into `folder`; `browser`: a Playwright chromium already running
    (else one is started here)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            own = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                return take(folder, own)
            finally:
                own.close()
    folder.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, link, secret = start_demo(Path(tmp))
        context = browser.new_context(locale="nl-NL", viewport={"width": 1200, "height": 900})
        try:
            page = context.new_page()

            def shot(name: str, full: bool = True) -> None:
                path = folder / f"{name}.png"
                page.screenshot(path=str(path), full_page=full)
                shots.append(path)

            page.goto(base + "/inloggen")
            shot("inloggen", full=False)
            sign_in(page, link, secret)
            shot("mijn-werk")
            page.goto(base + "/leerlingen?termijn=overdue")
            shot("leerlingen")
            case_url = page.locator("#resultaten tbody a").first.get_attribute("href")
            page.goto(base + "/nieuwe-casus")
            shot("nieuwe-casus", full=False)
            page.get_by_label("Leerlingnummer").fill("LL-2001")
            page.get_by_label("Groep").select_option(label="Groep 4")
            page.get_by_role("button", name="Casus openen").click()
            page.get_by_text("De casus is geopend.").wait_for()
            page.locator("#vastleggen-signal summary").click()
            page.get_by_role("button", name="Signalering vastleggen").click()
            page.locator("#vastleggen-signal .alert").wait_for()
            page.locator("#vastleggen-signal").scroll_into_view_if_needed()
            shot("casus-formulier-fout", full=False)
            page.goto(base + str(case_url))
            page.set_viewport_size({"width": 1200, "height": 1600})
            shot("casus", full=False)  # the top: who, where on the diagram, deadlines, steps
            page.set_viewport_size({"width": 1200, "height": 900})
            step = page.get_by_role("button", name=re.compile("Bekijk wat er gebeurt"))
            if step.count():
                step.first.click()
                page.get_by_role("heading", name=re.compile("Dit gebeurt er")).wait_for()
                shot("stap-bekijken")
            page.goto(base + "/leerlingen?status=opp_vastgesteld")
            opp_case = page.locator("#resultaten tbody a").first.get_attribute("href")
            if opp_case:
                page.goto(base + str(opp_case) + "/opp")
                page.get_by_role("heading", name=re.compile("Ontwikkelingsperspectiefplan")).wait_for()
                shot("opp")
                # A parent on that case: the IB invites, the parent opens the mail's link.
                page.goto(base + str(opp_case))
                page.get_by_label("Naam van de ouder of verzorger").fill("Mevrouw Bakker")
                page.get_by_label("E-mailadres").fill("ouder@example.nl")
                page.get_by_role("button", name="Ouder toevoegen").click()
                page.get_by_text("De ouder staat nu bij deze leerling.").wait_for()
                page.get_by_role("button", name="Uitnodigen Mevrouw Bakker").click()
                page.get_by_text("De uitnodiging is verstuurd.").wait_for()
                link = _invitation(Path(tmp) / "var" / "outbox")
                parent = browser.new_context(locale="nl-NL", viewport={"width": 1000, "height": 900}).new_page()
                parent.goto(link)
                parent.get_by_role("button", name="Verder").click()
                parent.get_by_role("heading", name=re.compile("Begeleiding van")).wait_for()
                parent.screenshot(path=str(folder / "ouder.png"), full_page=True)
                shots.append(folder / "ouder.png")
                parent.context.close()
            page.goto(base + "/directie")
            shot("directie")
            page.goto(base + "/audit")
            page.get_by_role("button", name="Nu controleren").click()
            page.get_by_role("heading", name="Controle van de geschiedenis").wait_for()
            shot("audit-controle")
        finally:
            context.close()
            proc.terminate()
            proc.wait(timeout=20)
    return shots


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    for path in take(target):
        print(path)

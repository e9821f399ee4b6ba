"""The OPP in a real browser (Debian's chromium through Playwright) against `passend web` on
process version 2: the IB writes a first draft with parts missing, sees what is missing and that
adoption is refused, completes it through the same form, prints it, and adopts it once the
parents' consent names the version. axe-core checks each page."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.engine_support import walk_to_niveau_4
from tests.opp_support import V2
from tests.reminders_support import free_port
from tests.test_web_browser import CHROMIUM, accessible
from tests.test_web_pages_browser import IB, browser, inbox, page, take_step  # noqa: F401  (fixtures)
from workflow.bootstrap import bootstrap

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, inbox: Any) -> Iterator[dict[str, Any]]:  # noqa: F811
    folder = tmp_path_factory.mktemp("opp")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = (f'\n[notifier]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {inbox.port}\nsecurity = "none"\n'
             f'from = "passend@test.example"\ntimeout = 5\n\n[web]\nbase_url = "{base}"\n')
    config = write_config(folder, f"sqlite:///{folder / 'passend.db'}", definition=V2, extra=extra)
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(config)]
    subprocess.run([*cmd, "init"], check=True, capture_output=True)
    engine = bootstrap(config)
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        from tests.test_web_browser import _wait_until_up

        _wait_until_up(base, proc)
        yield {"base": base, "engine": engine}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        engine.store.dispose()


def test_the_ib_drafts_completes_prints_and_adopts_the_opp(page: Any, site: dict[str, Any]) -> None:  # noqa: F811
    engine = site["engine"]
    cid = walk_to_niveau_4(engine, "LL-7001", group=7)
    engine.fire(cid, "start_opp", actor=IB)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders, IB")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", text="ik wil beter lezen")
    page.goto(site["base"] + f"/casus/{cid}")
    page.get_by_role("link", name="Het OPP bekijken of opstellen").click()
    page.get_by_role("heading", name="Eerste versie vastleggen").wait_for()
    accessible(page)
    page.get_by_label("De verwachte uitstroombestemming").select_option(label="vmbo kaderberoepsgerichte leerweg")
    page.get_by_label("De onderbouwing van de uitstroombestemming").fill("Toetsen wijzen op kader.")
    page.get_by_role("button", name="Versie vastleggen").click()
    page.get_by_text("Nieuwe OPP-versie vastgelegd.").wait_for()
    missing = page.locator("main").inner_text()
    assert "Versie 1" in missing and "ontbreekt nog" in missing and "de onderwijsbehoeften" in missing
    accessible(page)
    # Completing it: the form starts from version 1, so only the missing parts are typed.
    assert page.get_by_label("De onderbouwing van de uitstroombestemming").input_value() == "Toetsen wijzen op kader."
    for label, text in (("De bevorderende factoren", "gemotiveerd"), ("De belemmerende factoren", "leestempo"),
                        ("De onderwijsbehoeften", "korte instructie"),
                        ("De ondersteuning en begeleiding (handelingsdeel)", "RT lezen"),
                        ("Wie de ondersteuning geeft (handelingsdeel)", "de RT'er"),
                        ("Hoe vaak (handelingsdeel)", "3x per week"),
                        ("De afwijkingen van het reguliere onderwijsprogramma (handelingsdeel)", "geen")):
        page.get_by_label(label).fill(text)
    page.get_by_label("Gebied van doel 1").select_option(value="lezen")
    page.get_by_label("Doel 1", exact=True).fill("AVI E5")
    page.get_by_label("Evaluatiemoment 1").fill("2027-01-20")
    page.get_by_role("button", name="Versie vastleggen").click()
    page.get_by_text("Alle verplichte onderdelen zijn ingevuld.").wait_for()
    assert "Versie 2" in page.locator("main").inner_text()
    printed = page.request.get(site["base"] + f"/casus/{cid}/opp/afdruk")  # the browser's own session
    assert printed.status == 200 and "RT lezen" in printed.text()
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="moeder")
    page.reload()
    assert "ingestemd met het handelingsdeel van deze versie" in page.locator("main").inner_text()
    page.get_by_role("link", name=f"Terug naar casus {cid}").click()
    take_step(page, "OPP vaststellen")
    assert engine.case(cid, actor=IB)["state"] == "opp_vastgesteld"


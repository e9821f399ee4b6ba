"""The OPP in the browser (in process, on a real store, SQLite and PostgreSQL): the IB drafts it
part by part from the case page, sees what is still missing, prints it; a form opened on an older
version, a form without its CSRF token, a read-only role and another school's user change
nothing and see nothing they should not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import write_config
from tests.opp_support import V2, to_concept
from tests.web_support import (
    DIR_MAIL,
    IB_MAIL,
    Clock,
    csrf_of,
    make_app,
    notifier_section,
    sign_in,
)
from workflow.adapters.store.tables import access_log, events
from workflow.bootstrap import bootstrap
from workflow.service_layer.engine import Engine

IB = "ib.jansen"
SMIT_MAIL = "ib@het-anker.school.example"
SCRIPT = "<script>alert('x')</script>"


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
def concept(engine: Engine, clock: Clock) -> str:
    return to_concept(engine, clock)


def client(app: Any, tmp_path: Path, address: str, clock: Clock) -> TestClient:
    c = TestClient(app)
    sign_in(c, tmp_path / "outbox", address, clock)
    return c


def counts(engine: Engine) -> tuple[int, int]:
    with engine.db.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())  # type: ignore[return-value]
                     for t in (events, access_log))


def version_of(page: str) -> int:
    found = re.search(r'name="versie" value="(\d+)"', page)
    assert found
    return int(found.group(1))


FULL = {
    "deel-uitstroombestemming": "vmbo_kader", "deel-rationale": "Leerrendement wijst op kader.",
    "deel-helping_factors": "gemotiveerd", "deel-hindering_factors": "concentratie", "deel-needs": "korte instructie",
    "deel-support": "RT lezen", "deel-who": "de RT'er", "deel-frequency": "3x per week",
    "deel-deviations": "geen", "doel-0-gebied": "lezen", "doel-0-tekst": "AVI E5",
    "moment-0": "2026-01-20",
}


def test_the_ib_drafts_the_opp_part_by_part_and_sees_what_is_missing(
        engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    ib = client(make_app(engine), tmp_path, IB_MAIL, clock)
    case_page = ib.get(f"/casus/{concept}")
    assert f'href="/casus/{concept}/opp"' in case_page.text
    page = ib.get(f"/casus/{concept}/opp")
    assert page.status_code == 200 and "nog geen versie" in page.text
    first = {"csrf": csrf_of(page.text), "versie": version_of(page.text),
             "deel-uitstroombestemming": "vmbo_kader", "deel-hindering_factors": SCRIPT}
    r = ib.post(f"/casus/{concept}/opp", data=first, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = ib.get(r.headers["location"])
    assert "Versie 1" in page.text and "de onderbouwing van de uitstroombestemming".capitalize() in page.text
    assert "ontbreekt nog" in page.text and SCRIPT not in page.text and "&lt;script&gt;" in page.text
    assert 'value="vmbo_kader" selected' in page.text  # the form starts from the current version
    # Adoption is refused while parts are missing, and says which.
    refused = ib.get(f"/casus/{concept}/stap/adopt_opp?versie={version_of(page.text)}")
    assert refused.status_code == 422 and "onderbouwing" in refused.text
    second = {**FULL, "csrf": csrf_of(page.text), "versie": version_of(page.text)}
    r = ib.post(f"/casus/{concept}/opp", data=second, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = ib.get(f"/casus/{concept}/opp")
    assert "Versie 2" in page.text and "Alle verplichte onderdelen zijn ingevuld" in page.text
    assert 'href="/casus/' + concept + '/opp?opp=1"' in page.text
    # The consent names version 2's handelingsdeel; then the OPP can be adopted in the browser.
    engine.record("consent", concept, actor=IB, scope="opp_handelingsdeel", status="granted", by="moeder")
    page = ib.get(f"/casus/{concept}/opp")
    assert "ingestemd met het handelingsdeel van deze versie" in page.text
    preview = ib.get(f"/casus/{concept}/stap/adopt_opp?versie={version_of(page.text)}")
    assert preview.status_code == 200, preview.text
    with engine.db.connect() as conn:
        actions = [a for (a,) in conn.execute(select(access_log.c.action).where(access_log.c.actor == IB))]
    assert "opp.show" in actions


def test_a_goal_without_its_area_is_refused_next_to_the_form_and_nothing_is_stored(
        engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    ib = client(make_app(engine), tmp_path, IB_MAIL, clock)
    page = ib.get(f"/casus/{concept}/opp")
    before = counts(engine)[0]
    r = ib.post(f"/casus/{concept}/opp", data={"csrf": csrf_of(page.text), "versie": version_of(page.text),
                                                "doel-0-tekst": "AVI E5", "deel-needs": "rust"})
    assert r.status_code == 400 and "ontwikkelingsgebied" in r.text and "rust</textarea>" in r.text
    r = ib.post(f"/casus/{concept}/opp", data={"csrf": csrf_of(page.text), "versie": version_of(page.text),
                                                "moment-0": "20-01-2026"})
    assert r.status_code == 400 and r.text.count('role="alert"') == 1
    assert counts(engine)[0] == before


def test_an_older_form_and_a_missing_csrf_token_change_nothing(
        engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    ib = client(make_app(engine), tmp_path, IB_MAIL, clock)
    page = ib.get(f"/casus/{concept}/opp")
    old = version_of(page.text)
    engine.record("contact", concept, actor=IB, method="telefoon")
    before = counts(engine)[0]
    r = ib.post(f"/casus/{concept}/opp", data={**FULL, "csrf": csrf_of(page.text), "versie": old})
    assert r.status_code == 409 and "niets opgeslagen" in r.text
    r = ib.post(f"/casus/{concept}/opp", data={**FULL, "versie": old + 1})
    assert r.status_code == 403
    assert counts(engine)[0] == before


def test_a_read_only_role_reads_the_opp_but_gets_no_form_and_its_post_is_refused(
        engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    from tests.opp_support import draft_full

    draft_full(engine, concept)
    director = client(make_app(engine), tmp_path, DIR_MAIL, clock)
    page = director.get(f"/casus/{concept}/opp")
    assert page.status_code == 200 and "Versie 1" in page.text
    assert re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page.text) == ["/uitloggen"]
    before = counts(engine)[0]
    r = director.post(f"/casus/{concept}/opp", data={**FULL, "csrf": csrf_of(page.text), "versie": 1})
    assert r.status_code == 403 and counts(engine)[0] == before


def test_another_schools_user_finds_no_opp(engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    from tests.opp_support import draft_full

    draft_full(engine, concept)
    smit = client(make_app(engine), tmp_path, SMIT_MAIL, clock)
    before = counts(engine)
    for path in (f"/casus/{concept}/opp", f"/casus/{concept}/opp/afdruk", f"/casus/{concept}/opp?opp=1"):
        r = smit.get(path)
        assert r.status_code == 404 and "Sanne" not in r.text and "RT lezen" not in r.text
    page = smit.get("/")
    r = smit.post(f"/casus/{concept}/opp", data={**FULL, "csrf": csrf_of(page.text), "versie": 30})
    assert r.status_code == 404
    assert counts(engine) == before


def test_the_printable_opp_carries_every_part_and_its_hash_and_runs_no_script(
        engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    from tests.opp_support import draft_full

    made = draft_full(engine, concept)
    ib = client(make_app(engine), tmp_path, IB_MAIL, clock)
    r = ib.get(f"/casus/{concept}/opp/afdruk?opp=1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert made["hash"] in r.text and "RT lezen" in r.text and "<script>alert(1)" not in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "'sha256-" in csp and "unsafe-inline" not in csp
    assert ib.get(f"/casus/{concept}/opp/afdruk?opp=7").status_code == 404
    assert ib.get(f"/casus/{concept}/opp?opp=x").status_code == 404


@pytest.mark.slow
def test_the_opp_downloads_as_a_pdf(engine: Engine, concept: str, tmp_path: Path, clock: Clock) -> None:
    pytest.importorskip("weasyprint")
    from tests.opp_support import draft_full

    draft_full(engine, concept)
    ib = client(make_app(engine), tmp_path, IB_MAIL, clock)
    r = ib.get(f"/casus/{concept}/opp/afdruk?formaat=pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and "attachment" in r.headers["content-disposition"]

"""The work pages in process (Starlette's TestClient) on a real store, SQLite and PostgreSQL: Mijn
werk, Leerlingen, Casus (forms, preview, confirmation), Nieuwe casus; and what must never happen:
a form without its CSRF token, another school's case, a write by a read-only role, a script in a
note, a form opened on an older version of the case. Each of those is checked to have stored
nothing (the events, the access log and the work list rows are counted before and after)."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.engine_support import walk_to_niveau_4
from tests.web_support import DIR_MAIL, IB_MAIL, Clock, csrf_of, make_app, make_engine, sign_in
from workflow.adapters.store.tables import access_log, case_deadlines, case_waiting, events
from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"
LK_MAIL = "groep5@de-linde.school.example"
SMIT_MAIL = "ib@het-anker.school.example"
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def engine(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Engine]:
    e = make_engine(tmp_path, db_url, clock)
    yield e
    e.db.dispose()


@pytest.fixture
def app(engine: Engine) -> Any:
    return make_app(engine)


def client_for(app: Any, tmp_path: Path, address: str, clock: Clock) -> TestClient:
    c = TestClient(app)
    sign_in(c, tmp_path / "outbox", address, clock)
    return c


@pytest.fixture
def ib(app: Any, tmp_path: Path, clock: Clock) -> TestClient:
    return client_for(app, tmp_path, IB_MAIL, clock)


def counts(engine: Engine) -> tuple[int, ...]:
    with engine.db.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                     for t in (events, access_log, case_deadlines, case_waiting))


def text_of(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def version_of(page: str) -> int:
    found = re.search(r'name="versie" value="(\d+)"', page)
    assert found, "no version on the page"
    return int(found.group(1))


def case_with_script(engine: Engine) -> str:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB, group=5, name=SCRIPT)["case_id"])
    engine.record("signal", cid, actor=LK, area="lezen", note=SCRIPT)
    return cid


def test_the_ib_starts_on_mijn_werk_with_the_digests_lists(app: Any, tmp_path: Path, engine: Engine,
                                                          clock: Clock) -> None:
    late = walk_to_niveau_4(engine, "LL-2", group=4)
    clock.advance(days=45)  # 6 weeks and 3 days: the OPP is late
    soon = walk_to_niveau_4(engine, "LL-3")
    clock.advance(days=38)  # soon's OPP is due in 4 days
    ib = client_for(app, tmp_path, IB_MAIL, clock)  # signed in now (a session ends after 30 idle minutes)
    page = ib.get("/")
    assert page.status_code == 200 and "<h1>Mijn werk</h1>" in page.text
    week = page.text.split('id="week-de-linde"')[1].split('id="laat-de-linde"')[0]
    overdue = page.text.split('id="laat-de-linde"')[1].split('id="ouders-de-linde"')[0]
    assert soon in week and late not in week and "nog 4 dagen" in week
    assert late in overdue and soon not in overdue and "te laat" in overdue
    assert "Wacht op toestemming van de ouders (0)" in page.text and "Gesloten en te wissen (0)" in page.text
    assert "het-anker" not in page.text  # the IB's own school only


def test_a_leerkracht_sees_the_deadlines_and_a_read_only_role_a_start_page(app: Any, tmp_path: Path,
                                                                         clock: Clock) -> None:
    lk = client_for(app, tmp_path, LK_MAIL, clock)
    page = lk.get("/")
    assert "<h1>Mijn werk</h1>" in page.text and "Wacht op toestemming" not in page.text
    assert 'href="/nieuwe-casus"' in page.text
    director = client_for(app, tmp_path, DIR_MAIL, clock)
    page = director.get("/")
    assert "Welkom" in page.text and "niets wijzigen" in page.text and 'href="/nieuwe-casus"' not in page.text


def test_the_caseload_filters_by_label_and_pages_without_javascript(ib: TestClient, engine: Engine) -> None:
    ids = [walk_to_niveau_4(engine, f"LL-{n}", group=3) for n in range(3)]
    other = str(engine.open_case(pupil="LL-9", school="de-linde", actor=IB, group=6)["case_id"])
    engine.open_case(pupil="LL-9", school="het-anker", actor="ib.smit", group=6)
    page = ib.get("/leerlingen")
    assert page.status_code == 200 and "Niveau 4" in page.text and "Groep 3" in page.text
    assert "Niveau 4: intensieve individuele ondersteuning" in page.text  # states by label
    assert '<option value="overdue">Te laat</option>' in page.text
    listed = re.findall(r'href="/casus/(C-[A-Z0-9]+)"', page.text)
    assert sorted(listed) == sorted([*ids, other])  # de-linde's only
    assert re.findall(r'href="/casus/(C-[A-Z0-9]+)"', ib.get("/leerlingen?groep=6").text) == [other]
    assert sorted(re.findall(r'href="/casus/(C-[A-Z0-9]+)"', ib.get("/leerlingen?niveau=4&termijn=ok").text)) \
        == sorted(ids)
    assert re.findall(r'href="/casus/(C-[A-Z0-9]+)"', ib.get("/leerlingen?leerling=LL-9").text) == [other]
    assert "Geen casussen gevonden" in ib.get("/leerlingen?leerling=LL").text
    partial = ib.get("/leerlingen?groep=6", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<section id="resultaten"') and "<html" not in partial.text
    assert ib.get("/leerlingen?groep=12").status_code == 400
    assert ib.get("/leerlingen?school=het-anker").status_code == 403


def test_the_caseload_pages_with_keys(ib: TestClient, engine: Engine, clock: Clock) -> None:
    for n in range(30):
        engine.open_case(pupil=f"LL-{n}", school="de-linde", actor=IB)
        clock.advance(seconds=1)
    first = ib.get("/leerlingen")
    nxt = re.search(r'href="(/leerlingen\?na=[^"]+)"', first.text)
    assert nxt and "Vorige pagina" not in first.text
    second = ib.get(htmllib.unescape(nxt.group(1)))
    ids = re.findall(r'href="/casus/(C-[A-Z0-9]+)"', first.text) + re.findall(r'href="/casus/(C-[A-Z0-9]+)"',
                                                                                second.text)
    assert len(ids) == len(set(ids)) == 30 and "Volgende pagina" not in second.text
    prev = re.search(r'href="(/leerlingen\?voor=[^"]+)"', second.text)
    assert prev and re.findall(r'href="/casus/(C-[A-Z0-9]+)"', ib.get(htmllib.unescape(prev.group(1))).text) \
        == ids[:25]


def test_the_case_page_shows_where_the_case_is_and_logs_the_read(ib: TestClient, engine: Engine) -> None:
    cid = walk_to_niveau_4(engine, "LL-5", group=5)
    before = counts(engine)
    page = ib.get(f"/casus/{cid}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "LL-5" in text and "Niveau 4: intensieve individuele ondersteuning" in text
    assert 'src="/proces.svg?proces=passend-po%401&amp;staat=niveau_4"' in page.text
    assert "OPP vaststellen (uiterlijk 6 weken na niveau 4" in text
    # 6 weeks from 16 November is 28 December, in the Christmas holiday: due the school day before
    assert "18 december 2026" in text and "nog 32 dagen" in text
    assert "OPP opstellen" in text and "Bekijk wat er gebeurt" in text  # an allowed step
    assert "Dit kan nog niet" in text and "evaluatie" in text  # a refused one, with what it needs
    assert "Signalering vastleggen" in page.text and "Tijdlijn" in text
    assert counts(engine)[1] == before[1] + 1
    with engine.uow(write=False) as uow:
        record = uow.access_log.of_case(cid)[-1]
    assert (record.actor, record.action, record.source) == (IB, "case.show", "web")
    svg = ib.get("/proces.svg?proces=passend-po@1&staat=niveau_4")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<script" not in svg.text
    assert svg.text.count('font-weight="700"') >= 1 and ">nu</text>" in svg.text
    assert ib.get("/proces.svg?proces=passend-po@99").status_code == 404


def test_a_missing_required_field_is_named_next_to_it_and_nothing_is_stored(ib: TestClient, engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-6", school="de-linde", actor=IB)["case_id"])
    page = ib.get(f"/casus/{cid}")
    before = counts(engine)
    r = ib.post(f"/casus/{cid}/vastleggen/signal", data={"csrf": csrf_of(page.text), "versie": version_of(page.text),
                                                         "veld-date": "", "veld-note": "  "})
    assert r.status_code == 400
    area = r.text.split('id="signal-area-fout"')[1][:80]
    note = r.text.split('id="signal-note-fout"')[1][:80]
    assert "verplicht" in area and "verplicht" in note  # both at once, each next to its field
    assert 'aria-invalid="true"' in r.text and '<details class="record" id="vastleggen-signal" open>' in r.text
    assert counts(engine)[0] == before[0]
    r = ib.post(f"/casus/{cid}/vastleggen/plan", data={
        "csrf": csrf_of(page.text), "versie": version_of(page.text), "veld-start": "2026-11-10",
        "veld-end": "2026-11-01", "veld-goals": "g", "veld-who": "w", "veld-frequency": "1x"})
    assert r.status_code == 400 and "einde moet na het begin" in r.text.split('id="plan-end-fout"')[1][:120]
    r = ib.post(f"/casus/{cid}/vastleggen/signal", data={
        "csrf": csrf_of(page.text), "versie": version_of(page.text), "veld-area": "lezen", "veld-note": "Leest traag."},
        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/casus/{cid}?gedaan=vastgelegd")
    assert "Vastgelegd: signalering." in ib.get(r.headers["location"]).text


def test_the_blank_forms_drawn_once_keep_no_error_and_follow_the_language(
        ib: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The case page's blank evidence forms are drawn once per process version and language
    (pages.fragment): a form sent back with errors is drawn apart and leaves them as they were,
    and switching the language draws them afresh."""
    cid = str(engine.open_case(pupil="LL-7", school="de-linde", actor=IB)["case_id"])
    page = ib.get(f"/casus/{cid}")
    blank = page.text.split('id="vastleggen-signal"')[1].split("</details>")[0]
    assert 'aria-invalid="true"' not in blank and "(verplicht)" in blank
    r = ib.post(f"/casus/{cid}/vastleggen/signal", data={"csrf": csrf_of(page.text), "versie": version_of(page.text),
                                                         "veld-note": "Leest traag."})
    sent = r.text.split('id="vastleggen-signal"')[1].split("</details>")[0]
    assert r.status_code == 400 and 'aria-invalid="true"' in sent and "Leest traag." in sent
    other = str(engine.open_case(pupil="LL-8", school="de-linde", actor=IB)["case_id"])
    again = ib.get(f"/casus/{other}").text.split('id="vastleggen-signal"')[1].split("</details>")[0]
    assert again.replace(other, cid) == blank  # the same controls, nothing of the form sent back
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = ib.get(f"/casus/{cid}").text.split('id="vastleggen-signal"')[1].split("</details>")[0]
    assert "(required)" in english and "(verplicht)" not in english


def test_the_page_environment_reads_a_dict_as_jinja_does() -> None:
    """PageEnvironment looks a plain dict's keys up at once; what a template gets is what
    Jinja's own lookup gives, for keys, missing keys, dict's own methods and other objects."""
    from collections import OrderedDict

    import jinja2

    from workflow.entrypoints.web.pages import PageEnvironment

    ours, theirs = PageEnvironment(), jinja2.Environment()
    values = {"state": "niveau_4", "items": "a key named like a method", "n": None}
    for obj, name in ((values, "state"), (values, "n"), (values, "items"), (values, "get"),
                      (OrderedDict(values), "state"), (OrderedDict(values), "items"), ("text", "upper")):
        assert ours.getattr(obj, name) == theirs.getattr(obj, name), name
    for obj, name in ((values, "missing"), (OrderedDict(), "missing"), (3, "missing")):
        got, expected = ours.getattr(obj, name), theirs.getattr(obj, name)
        assert isinstance(got, jinja2.Undefined) and type(got) is type(expected) and str(got) == str(expected)
    assert ours.from_string("{{ v.state }} {{ v.missing }}").render(v=values) == "niveau_4 "


def test_a_step_is_previewed_then_confirmed(ib: TestClient, engine: Engine) -> None:
    cid = walk_to_niveau_4(engine, "LL-7")
    page = ib.get(f"/casus/{cid}")
    version = version_of(page.text)
    before = counts(engine)
    preview = ib.get(f"/casus/{cid}/stap/start_opp?versie={version}")
    assert preview.status_code == 200 and "Dit gebeurt er: OPP opstellen" in preview.text
    assert "OPP in concept" in preview.text and "Er is nog niets opgeslagen" in preview.text
    assert counts(engine)[0] == before[0]
    closing = ib.get(f"/casus/{cid}/stap/close?versie={version}&keuze-reason=verhuisd")
    assert "Stopt: OPP vaststellen" in text_of(closing.text) and "De casus wordt gesloten" in closing.text
    r = ib.post(f"/casus/{cid}/stap/start_opp", data={"csrf": csrf_of(preview.text), "versie": version},
                follow_redirects=False)
    assert r.status_code == 303 and engine.case(cid, actor=IB)["state"] == "opp_concept"
    refused = ib.get(f"/casus/{cid}/stap/adopt_opp?versie={version + 1}")
    assert refused.status_code == 422 and "Dit kan nog niet: OPP vaststellen." in refused.text
    assert "OOGO-gesprek met de ouders" in refused.text


def test_a_form_opened_on_an_older_version_is_refused_with_the_fresh_page(ib: TestClient, engine: Engine) -> None:
    cid = walk_to_niveau_4(engine, "LL-8")
    page = ib.get(f"/casus/{cid}")
    old = version_of(page.text)
    engine.record("contact", cid, actor=LK, method="telefoon")  # someone else, meanwhile
    before = counts(engine)
    r = ib.post(f"/casus/{cid}/vastleggen/contact", data={"csrf": csrf_of(page.text), "versie": old,
                                                          "veld-method": "brief"})
    assert r.status_code == 409 and "Er is niets opgeslagen" in r.text and version_of(r.text) == old + 1
    r = ib.post(f"/casus/{cid}/stap/start_opp", data={"csrf": csrf_of(page.text), "versie": old})
    assert r.status_code == 409 and "Iemand anders heeft deze casus intussen gewijzigd" in r.text
    assert ib.get(f"/casus/{cid}/stap/start_opp?versie={old}").status_code == 409
    assert counts(engine)[0] == before[0] and engine.case(cid, actor=IB)["state"] == "niveau_4"


def test_a_post_without_its_csrf_token_is_refused_and_stores_nothing(ib: TestClient, engine: Engine) -> None:
    cid = walk_to_niveau_4(engine, "LL-10")
    version = version_of(ib.get(f"/casus/{cid}").text)
    before = counts(engine)
    for path, data in ((f"/casus/{cid}/vastleggen/contact", {"versie": version, "veld-method": "brief"}),
                       (f"/casus/{cid}/stap/start_opp", {"versie": version}),
                       ("/nieuwe-casus", {"leerling": "LL-11", "school": "de-linde"})):
        assert ib.post(path, data=data).status_code == 403
        assert ib.post(path, data={**data, "csrf": "vals"}).status_code == 403
    assert counts(engine) == before


def test_another_schools_case_is_not_found_and_shows_nothing(app: Any, tmp_path: Path, engine: Engine,
                                                             clock: Clock) -> None:
    theirs = str(engine.open_case(pupil="LL-77", school="het-anker", actor="ib.smit", name="Pim")["case_id"])
    lk = client_for(app, tmp_path, LK_MAIL, clock)
    page = lk.get(f"/casus/{theirs}")
    assert page.status_code == 404 and "LL-77" not in page.text and "Pim" not in page.text
    assert "het-anker" not in page.text and theirs not in page.text
    csrf = csrf_of(lk.get("/").text)
    before = counts(engine)
    assert lk.post(f"/casus/{theirs}/vastleggen/signal", data={"csrf": csrf, "versie": 1, "veld-area": "lezen",
                                                               "veld-note": "n"}).status_code == 404
    assert lk.get(f"/casus/{theirs}/stap/close?versie=1&keuze-reason=verhuisd").status_code == 404
    assert counts(engine) == before
    assert lk.get("/casus/C-BESTAATNT").status_code == 404
    assert theirs not in lk.get("/leerlingen?afgesloten=ja").text


def test_a_read_only_role_sees_no_write_control_and_every_post_is_refused(app: Any, tmp_path: Path,
                                                                          engine: Engine, clock: Clock) -> None:
    cid = walk_to_niveau_4(engine, "LL-12")
    director = client_for(app, tmp_path, DIR_MAIL, clock)
    pages = [director.get(p) for p in ("/", "/werk", "/leerlingen", f"/casus/{cid}")]
    for page in pages:
        assert page.status_code == 200
        forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page.text)
        assert forms == ["/uitloggen"], forms  # sign-out only
        assert "Bekijk wat er gebeurt" not in page.text and "vastleggen</button>" not in page.text
    assert 'href="/nieuwe-casus"' not in pages[0].text
    assert director.get("/nieuwe-casus").status_code == 403
    assert director.get(f"/casus/{cid}/stap/start_opp?versie=1").status_code == 403
    csrf = csrf_of(pages[3].text)
    before = counts(engine)
    for path, data in ((f"/casus/{cid}/vastleggen/contact", {"versie": 20, "veld-method": "brief"}),
                       (f"/casus/{cid}/stap/start_opp", {"versie": 20}), ("/nieuwe-casus", {"leerling": "LL-13"})):
        assert director.post(path, data={**data, "csrf": csrf}).status_code == 403
    assert counts(engine) == before


def test_a_script_in_a_note_is_text_on_every_page(ib: TestClient, engine: Engine) -> None:
    cid = case_with_script(engine)
    engine.record("contact", cid, actor=IB, method="brief", note=SCRIPT)
    pages = [ib.get(f"/casus/{cid}"), ib.get("/"), ib.get("/leerlingen"),
             ib.get(f"/casus/{cid}/stap/escalate?versie=3")]
    r = ib.post(f"/casus/{cid}/vastleggen/contact", data={"csrf": csrf_of(pages[0].text), "versie": 3,
                                                          "veld-note": SCRIPT})  # an error page echoes it
    for page in [*pages, r]:
        assert "<script>alert" not in page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert pages[0].text.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 3  # name, signal, contact
    assert "&lt;script&gt;" in r.text


def test_a_new_case_is_opened_and_a_second_one_for_the_pupil_refused(ib: TestClient, engine: Engine) -> None:
    form = ib.get("/nieuwe-casus")
    assert form.status_code == 200 and "Leerlingnummer" in form.text and "OBS De Linde" in form.text
    assert "CBS Het Anker" not in form.text
    csrf = csrf_of(form.text)
    r = ib.post("/nieuwe-casus", data={"csrf": csrf, "leerling": "", "school": "de-linde"})
    assert r.status_code == 400 and 'id="leerling-fout"' in r.text
    r = ib.post("/nieuwe-casus", data={"csrf": csrf, "leerling": "LL 1", "school": "de-linde"})
    assert r.status_code == 400 and "letters, cijfers" in r.text
    r = ib.post("/nieuwe-casus", data={"csrf": csrf, "leerling": "LL-21", "school": "de-linde", "groep": "6",
                                       "naam": "Sanne"}, follow_redirects=False)
    assert r.status_code == 303
    cid = r.headers["location"].split("/casus/")[1].split("?")[0]
    page = ib.get(r.headers["location"])
    assert "De casus is geopend." in page.text and "LL-21" in page.text and "Sanne" in page.text
    again = ib.post("/nieuwe-casus", data={"csrf": csrf, "leerling": "LL-21", "school": "de-linde"})
    assert again.status_code == 409 and f'href="/casus/{cid}"' in again.text
    r = ib.post("/nieuwe-casus", data={"csrf": csrf, "leerling": "LL-22", "school": "het-anker"})
    assert r.status_code == 403 and engine.list_cases(actor="auditor")[-1]["case_id"] == cid

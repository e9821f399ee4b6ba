"""The Directie and Audit pages in process on a real store (SQLite, and PostgreSQL when set):
who may see them, the counts, overdue deadlines and compliance rules per school as tables and
as SVG charts, the chain heads and a verification run, the export download, a case's access
log; and what must never happen: another school's case shown, a write control for a read-only
role, a POST by it doing anything, a page's wording missing from the catalog."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.engine_support import walk_to_niveau_4
from tests.test_web_pages import LK_MAIL, SMIT_MAIL, client_for, counts, text_of
from tests.web_support import DIR_MAIL, IB_MAIL, Clock, csrf_of, make_app, make_engine
from workflow.entrypoints.web.audit import ACTIONS
from workflow.messages.build import LOCALE
from workflow.service_layer.audit.compliance import RULES
from workflow.service_layer.engine import Engine

AUDITOR_MAIL = "audit@bestuur.example"
WEB = Path(__file__).resolve().parents[1] / "workflow" / "entrypoints" / "web"


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def engine(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Engine]:
    e = make_engine(tmp_path, db_url, clock)
    e.users.add(user_id="audit.visser", role="auditor", schools=["*"], email=AUDITOR_MAIL,
                roles=e.definition.roles, known_schools=e.config.schools, now=clock.now)
    yield e
    e.db.dispose()


@pytest.fixture
def app(engine: Engine) -> Any:
    return make_app(engine)


@pytest.fixture
def cases(engine: Engine, clock: Clock) -> dict[str, str]:
    """A late OPP and a running one at De Linde, a case at niveau 1 there, one at Het Anker."""
    late = walk_to_niveau_4(engine, "LL-2", group=4)
    clock.advance(days=45)  # 6 weeks and 3 days: the OPP is late
    running = walk_to_niveau_4(engine, "LL-3")
    new = str(engine.open_case(pupil="LL-4", school="de-linde", actor="ib.jansen", group=6)["case_id"])
    theirs = str(engine.open_case(pupil="LL-77", school="het-anker", actor="ib.smit", name="Pim")["case_id"])
    return {"late": late, "running": running, "new": new, "theirs": theirs}


def post_forms(html: str) -> list[str]:
    return re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html)


def section(html: str, start: str, end: str | None = None) -> str:
    part = html.split(start, 1)[1]
    return part.split(end, 1)[0] if end else part


def rows(table_html: str) -> list[tuple[str, ...]]:
    """The body rows of the first table in `table_html`, as text cells."""
    body = table_html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [tuple(text_of(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S))
            for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def bars(svg: str) -> list[tuple[str, int]]:
    texts = [text_of(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]
    return [(texts[i], int(texts[i + 1])) for i in range(0, len(texts), 2)]


# ---- Directie -----------------------------------------------------------------------------------
def test_the_directie_page_counts_per_level_and_state_with_charts_and_tables(
        app: Any, tmp_path: Path, clock: Clock, cases: dict[str, str]) -> None:
    director = client_for(app, tmp_path, DIR_MAIL, clock)
    home = director.get("/")
    assert 'href="/directie"' in home.text and 'href="/audit"' in home.text
    page = director.get("/directie")
    assert page.status_code == 200 and "<h1>Directie</h1>" in page.text
    assert "OBS De Linde" in page.text and "CBS Het Anker" not in page.text
    assert cases["theirs"] not in page.text and "Pim" not in page.text and "LL-" not in page.text
    assert "Open casussen: 3" in page.text
    levels = section(page.text, 'id="niveaus-de-linde-kop"', 'id="stappen-de-linde-kop"')
    assert rows(levels) == [("Niveau 1", "1"), ("Niveau 4", "2")]
    svg = re.search(r"<svg.*?</svg>", levels, re.S)
    assert svg and 'role="img"' in svg.group(0) and "<title" in svg.group(0)
    assert bars(svg.group(0)) == [("Niveau 1", 1), ("Niveau 4", 2)]  # the chart holds the table's numbers
    states = section(page.text, 'id="stappen-de-linde-kop"', 'id="laat-de-linde"')
    assert ("Niveau 4: intensieve individuele ondersteuning", "2") in rows(states)
    overdue = section(page.text, 'id="laat-de-linde"', 'id="regels-de-linde-kop"')
    assert "Termijnen die voorbij zijn (1)" in overdue
    ((case, label, due, days),) = rows(overdue)
    assert case == cases["late"] and label.startswith("OPP vaststellen") and due == "18 december 2026"
    assert int(days) == (clock.now.date() - dt.date(2026, 12, 18)).days
    rules = section(page.text, 'id="regels-de-linde-kop"')
    table = rows(rules)
    assert len(table) == len(RULES) and table[0][0] == "OPP binnen 6 weken vastgesteld"
    assert table[0][2] == "1"  # the late OPP fails the 6-week rule
    assert post_forms(page.text) == ["/uitloggen"]  # a read-only role: sign-out only
    assert "<script>" not in page.text and 'style="' not in page.text


def test_the_directie_page_is_for_directeur_ib_and_auditor_only(app: Any, tmp_path: Path, clock: Clock,
                                                                cases: dict[str, str]) -> None:
    lk = client_for(app, tmp_path, LK_MAIL, clock)
    assert 'href="/directie"' not in lk.get("/").text and 'href="/audit"' not in lk.get("/").text
    for path in ("/directie", "/audit", "/audit/controle", "/audit/naleving", "/audit/export",
                 f"/audit/inzage?casus={cases['new']}"):
        r = lk.get(path)
        assert r.status_code == 403 and cases["new"] not in r.text, path
    ib = client_for(app, tmp_path, IB_MAIL, clock)
    assert ib.get("/directie").status_code == 200
    smit = client_for(app, tmp_path, SMIT_MAIL, clock)
    theirs = smit.get("/directie")
    assert "CBS Het Anker" in theirs.text and "OBS De Linde" not in theirs.text
    assert cases["late"] not in theirs.text
    auditor = client_for(app, tmp_path, AUDITOR_MAIL, clock)
    every = auditor.get("/directie")
    assert "CBS Het Anker" in every.text and "OBS De Linde" in every.text
    assert director_get_signed_out(app).status_code == 303


def director_get_signed_out(app: Any) -> Any:
    return TestClient(app).get("/directie", follow_redirects=False)


# ---- Audit --------------------------------------------------------------------------------------
def test_the_audit_page_shows_the_heads_and_no_write_control(app: Any, tmp_path: Path, engine: Engine,
                                                             clock: Clock, cases: dict[str, str]) -> None:
    auditor = client_for(app, tmp_path, AUDITOR_MAIL, clock)
    page = auditor.get("/audit")
    assert page.status_code == 200 and "<h1>Audit</h1>" in page.text
    with engine.uow(write=False) as uow:
        head = uow.access_log.head()
    assert head["head_hash"] in page.text and "nog geen dagelijkse controlewaarde" in page.text
    assert post_forms(page.text) == ["/uitloggen"]
    check = auditor.get("/audit/controle")
    assert check.status_code == 200 and "Alles is intact." in check.text
    assert "4 casussen" in check.text and head["head_hash"] in check.text
    naleving = auditor.get("/audit/naleving")
    assert naleving.status_code == 200 and "OBS De Linde" in naleving.text and "CBS Het Anker" in naleving.text
    failing = section(naleving.text, 'id="niet-voldaan"')
    assert "Niet voldaan (1)" in failing and cases["late"] in failing and "OPP binnen 6 weken" in failing
    for p in (check, naleving):
        assert post_forms(p.text) == ["/uitloggen"]


def test_the_newest_witness_root_is_shown_to_note_outside(app: Any, tmp_path: Path, engine: Engine,
                                                          clock: Clock, cases: dict[str, str]) -> None:
    from workflow.service_layer.witness.roots import make_root

    root = make_root(engine, clock.now.date(), clock.now)
    assert root is not None
    page = client_for(app, tmp_path, AUDITOR_MAIL, clock).get("/audit")
    assert root.root in page.text and root.access_head in page.text
    facts = text_of(section(page.text, 'id="ketens"', "Nu controleren"))
    assert f"Casussen {root.cases}" in " ".join(facts.split()) and "nog geen dagelijkse" not in facts


def test_any_post_by_a_read_only_role_is_refused_and_changes_nothing(app: Any, tmp_path: Path, engine: Engine,
                                                                    clock: Clock, cases: dict[str, str]) -> None:
    for address in (AUDITOR_MAIL, DIR_MAIL):
        who = client_for(app, tmp_path, address, clock)
        csrf = csrf_of(who.get("/audit").text)
        before = counts(engine)
        # These pages have no POST route: the method is not allowed (405) before anything runs.
        for path in ("/audit", "/audit/controle", "/audit/export", "/audit/inzage", "/audit/naleving", "/directie"):
            assert who.post(path, data={"csrf": csrf, "casus": cases["new"]}).status_code == 405, path
        # A POST that would write, with its token: refused for the role (guard.protect), whatever the route.
        for path, data in ((f"/casus/{cases['new']}/vastleggen/contact", {"versie": 1, "veld-method": "brief"}),
                           ("/nieuwe-casus", {"leerling": "LL-13", "school": "de-linde"})):
            assert who.post(path, data={**data, "csrf": csrf}).status_code == 403, path
        assert counts(engine) == before


def test_the_export_downloads_as_a_zip_and_is_access_logged(app: Any, tmp_path: Path, engine: Engine,
                                                           clock: Clock, cases: dict[str, str]) -> None:
    director = client_for(app, tmp_path, DIR_MAIL, clock)
    before = counts(engine)
    r = director.get("/audit/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = sorted(n.split("/", 1)[1] for n in z.namelist())
        assert names == ["SHA256SUMS", "events.jsonl", "manifest.json", "proofs.jsonl"]
        events = next(n for n in z.namelist() if n.endswith("events.jsonl"))
        exported = {line.split('"case_id":"', 1)[1].split('"', 1)[0] for line in z.read(events).decode().splitlines()}
    assert exported == {cases["late"], cases["running"], cases["new"]}  # the directeur's school only
    assert counts(engine)[1] == before[1] + 3  # one access record per exported case
    with engine.uow(write=False) as uow:
        record = uow.access_log.of_case(cases["new"])[-1]
    assert (record.actor, record.action, record.source) == ("dir.bakker", "audit.export", "web")
    now = counts(engine)
    assert director.get("/audit/export?school=het-anker").status_code == 403
    assert director.get("/audit/export?school=nergens").status_code == 400
    assert counts(engine) == now


def test_the_access_log_of_a_case_and_never_of_another_schools(app: Any, tmp_path: Path, engine: Engine,
                                                              clock: Clock, cases: dict[str, str]) -> None:
    ib = client_for(app, tmp_path, IB_MAIL, clock)
    assert ib.get(f"/casus/{cases['new']}").status_code == 200  # a read: one access record
    page = ib.get(f"/audit/inzage?casus={cases['new']}")
    assert page.status_code == 200
    ((at, user, role, action, purpose, _behalf, source),) = rows(section(page.text, 'id="inzage-lijst"'))
    assert (user, action, purpose, source) == ("ib.jansen", "casus bekeken", "begeleiding leerling", "web-app")
    assert role == "intern begeleider (IB)" and "2026" in at
    for ref in (cases["theirs"], "C-BESTAATNT", "x" * 300):
        r = ib.get("/audit/inzage", params={"casus": ref})
        assert r.status_code == 404 and "niet gevonden bij uw scholen" in r.text
        assert cases["theirs"] not in r.text and "Pim" not in r.text and "LL-77" not in r.text
    assert "Niemand heeft deze casus ingezien" in client_for(app, tmp_path, SMIT_MAIL, clock).get(
        "/audit/inzage", params={"casus": cases["theirs"]}).text


def test_a_broken_chain_is_named_for_its_own_school_and_counted_for_others(
        app: Any, tmp_path: Path, engine: Engine, clock: Clock, cases: dict[str, str]) -> None:
    from tests.tamper import tamper

    with engine.db.begin() as conn:
        tamper(conn, cases["theirs"], "edit_payload", 0)
    director = client_for(app, tmp_path, DIR_MAIL, clock)
    page = director.get("/audit/controle")
    assert page.status_code == 200 and "Niet alles is intact" in page.text
    assert "zijn 1 casussen gebroken" in page.text and cases["theirs"] not in page.text
    smit = client_for(app, tmp_path, SMIT_MAIL, clock)
    assert cases["theirs"] in smit.get("/audit/controle").text


# ---- charts -------------------------------------------------------------------------------------
def test_a_chart_is_an_accessible_svg_with_its_text_escaped() -> None:
    from workflow.entrypoints.web.charts import LABEL_CHARS, bar_chart

    svg = str(bar_chart("c1", "Open <b>casussen</b>", [("<script>x</script>", 3), ("Nul", 0), ("L" * 80, 6)],
                        desc="Zie de tabel."))
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="c1-titel c1-uitleg"' in svg
    assert '<title id="c1-titel">Open &lt;b&gt;casussen&lt;/b&gt;</title>' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "style=" not in svg
    widths = [int(w) for w in re.findall(r'<rect[^>]*width="(\d+)"', svg)]
    assert widths[1] == 0 and widths[2] == 2 * widths[0]  # to scale; a zero is no bar
    assert ("L" * (LABEL_CHARS - 1) + "…") in svg and "L" * LABEL_CHARS not in svg
    empty = str(bar_chart("c2", "Niets", []))
    assert 'role="img"' in empty and "<rect" not in empty


# ---- wording ------------------------------------------------------------------------------------
def test_every_word_of_the_new_pages_is_in_both_catalogs() -> None:
    from babel.messages.pofile import read_po

    used = re.compile(r"""\b(?:t|text)\(\s*f?["'](web\.[a-z0-9_.]*[a-z0-9_])["']""")
    keys = set()
    for p in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        keys |= set(used.findall(p.read_text(encoding="utf-8")))
    keys |= {f"web.rule.{r}" for r in RULES}  # built from a rule's id
    keys |= {f"web.access.action.{a}" for a in ACTIONS}
    assert "web.dash.title" in keys and "web.audit.title" in keys
    for lang in ("nl", "en"):
        with (LOCALE / lang / "LC_MESSAGES" / "passend.po").open("rb") as f:
            have = {str(m.id) for m in read_po(f) if m.id}
        assert not keys - have, (lang, sorted(keys - have))

"""Every word a page shows comes from the message catalog: no template holds Dutch (or any
other words) outside `{{ t("web.…") }}`, so a page can be read in English and the Dutch is
written in one place.

A template is read with Jinja's own lexer: its text (the HTML between the template's tags) and
the string literals inside its expressions. The text, parsed as HTML, may hold words only inside
tags that are not shown (script, style) and not in the attributes a person reads or hears (alt,
title, aria-label, placeholder); a string literal with words (a space between letters, or a
capital) may only be the key of a `t(...)`. A few words are not Dutch to translate: the product's
name and the commands a person types; they are listed here, by the exact text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from workflow.entrypoints.web.pages import TEMPLATES, page_text

TEMPLATE_DIR = Path(TEMPLATES.env.loader.searchpath[0])  # type: ignore[union-attr]
SPOKEN_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "aria-description", "placeholder"})
NOT_TO_TRANSLATE = (  # longest first: each is taken out where it stands alone
    "passend case erase --due",  # commands a person types, shown in <code>
    "passend case erase",
    "passend",  # the product's name (the title's "· passend", the brand link)
)
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
WORDS_IN_LITERAL = re.compile(r"[^\W\d_]\s+[^\W\d_]|^[^\W\d_a-z]", re.UNICODE)


class _Text(HTMLParser):
    """The text nodes and spoken attributes of a page with letters in them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        for name, value in attrs:
            if name in SPOKEN_ATTRIBUTES and value:
                self._check(value, f"{tag}[{name}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self._check(data, "text")

    def _check(self, text: str, where: str) -> None:
        words = " ".join(text.split())
        words = re.sub(r"=\w*&", "=&", words)  # a query string's value (`wacht=ja&`) is an id
        words = re.sub(r'[\w-]+="[^"]*"', "", words)  # attributes made in a `{% set %}` block
        for allowed in NOT_TO_TRANSLATE:
            words = re.sub(rf"(?<![\w-]){re.escape(allowed)}(?![\w-])", "", words)
        if LETTERS.search(words):
            self.found.append(f"{where}: {words!r}")


def inline_words(name: str) -> list[str]:
    """What a person would read in template `name` that does not come from the catalog."""
    return inline_words_in((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def inline_words_in(source: str) -> list[str]:
    html: list[str] = []
    found: list[str] = []
    previous: list[tuple[str, str]] = []
    for _, kind, value in TEMPLATES.env.lex(source):
        if kind == "data":
            html.append(value)
        elif kind in ("variable_begin", "block_begin"):
            html.append(" ")  # an expression stands where its value will be
        elif kind == "string":
            literal = value[1:-1]
            is_key = [k for k, _ in previous[-2:]] == ["name", "lparen"] and previous[-2][1] == "t"
            if not is_key and WORDS_IN_LITERAL.search(literal):
                found.append(f"string in an expression: {literal!r}")
        if kind not in ("whitespace",):
            previous.append((kind, value))
    parser = _Text()
    parser.feed("".join(html))
    parser.close()
    return parser.found + found


TEMPLATE_NAMES = sorted(p.name for p in TEMPLATE_DIR.glob("*.html"))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_a_template_shows_no_words_outside_the_catalog(name: str) -> None:
    assert inline_words(name) == [], "put these in passend.po (nl and en) and show them with t(...)"


def test_the_printable_opp_shows_no_words_outside_the_catalog() -> None:
    """The OPP's print template (the HTML and the PDF, service_layer/templates) too; its CSS is
    not read by a person (the page footer's words come in through t())."""
    source = (WEB.parent.parent / "service_layer" / "templates" / "opp.html.j2").read_text(encoding="utf-8")
    source = re.sub(r"<style>.*?</style>", "", source, flags=re.S)
    assert inline_words_in(source) == []


def test_the_scan_finds_inline_words_where_they_are() -> None:
    """The scan itself: text, a spoken attribute and a literal are found; a key, an id, the
    product's name and markup are not."""
    found = inline_words_in(
        '<p title="Uitleg">Hallo {{ t("web.nav.work") }}</p><p>{{ x or "Niets hier" }}</p>'
        '<p class="{{ c or \'none\' }}">{{ t("web.nav.start") }}: 3</p><p>passend</p>'
        "<script>var hidden = 'words';</script>")
    assert found == ["p[title]: 'Uitleg'", "text: 'Hallo'", "string in an expression: 'Niets hier'"]


def test_catalog_text_is_escaped_and_markup_from_the_template_is_kept() -> None:
    """`t()` escapes the catalog's text and each value, but keeps markup the template made (a
    link inside a sentence), so a sentence's words stay together in the catalog."""
    from markupsafe import Markup

    link = Markup('<a href="/x">de termijnen van deze week</a>')
    shown = page_text("web.home.where_next", pupils="<b>", week=link)
    assert shown == '&lt;b&gt; van uw scholen, of <a href="/x">de termijnen van deze week</a>.'
    assert page_text("web.caseload.pages") == "Pagina&#39;s"


# ---- every key is there, in both languages ------------------------------------------------------
WEB = TEMPLATE_DIR.parent
KEY = re.compile(r"""(?<!log\.info\()(?<!log\.error\()["'](web\.[a-z0-9_.]*[a-z0-9_])["']""")  # not a log event
BUILT_KEYS = {  # keys a module builds from an id, and the ids it builds them from
    **{f"web.role.{r}": "pages.ROLE_NAMES" for r in ("ib", "leerkracht", "directeur", "auditor", "ouder")},
    **{f"web.error.{s}": "app: the error pages" for s in (400, 403, 404, 405, 409, 429, 500)},
    **{f"web.status.{s}": "filters.status_nl" for s in ("ok", "soon", "overdue")},
}


def _keys(lang: str) -> set[str]:
    from babel.messages.pofile import read_po

    from workflow.messages.build import LOCALE

    with (LOCALE / lang / "LC_MESSAGES" / "passend.po").open("rb") as f:
        return {str(m.id) for m in read_po(f) if m.id}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_key_a_page_or_web_module_names_is_in_the_catalog(lang: str) -> None:
    files = [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]
    used = {k for p in files for k in KEY.findall(p.read_text(encoding="utf-8"))} | set(BUILT_KEYS)
    assert {"web.nav.work", "web.case.conflict", "web.parent.title", "web.opp.title"} <= used
    missing = used - _keys(lang)
    assert not missing, sorted(missing)


# ---- the pages in English ---------------------------------------------------------------------
@pytest.mark.slow
def test_with_passend_language_en_the_pages_read_in_english(tmp_path: Path, db_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog is the only source of a page's words: switch the language and the pages switch
    with it (the definition's own labels, states and steps, stay Dutch)."""
    import datetime as dt

    from fastapi.testclient import TestClient

    from tests.web_support import IB_MAIL, Clock, make_app, make_engine, sign_in

    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    clock = Clock(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC))
    engine = make_engine(tmp_path, db_url, clock)
    try:
        client = TestClient(make_app(engine))
        assert "Sign in" in client.get("/inloggen").text
        sign_in(client, tmp_path / "outbox", IB_MAIL, clock)
        cid = engine.open_case(pupil="LL-1", school="de-linde", actor="ib.jansen", group=5)["case_id"]
        work, pupils, case = client.get("/").text, client.get("/leerlingen").text, client.get(f"/casus/{cid}").text
        assert '<html lang="en">' in work and "My work" in work and "This week (" in work
        assert "16 November 2026" in work
        assert "Search by pupil number" in pupils and "All levels" in pupils
        assert f"Case {cid}" in case and "Timeline" in case and "Case opened (group 5)" in case
        assert "internal coordinator (IB)" in case and "Sign out" in case
        for dutch in ("Mijn werk", "Leerlingen", "Tijdlijn", "Uitloggen", "Termijnen", "verplicht"):
            assert dutch not in work + pupils + case, dutch
        missing = client.get("/casus/C-BESTAAT-NIET")
        assert missing.status_code == 404 and "Not found" in missing.text
        assert "For parents" in client.get("/ouder").text
    finally:
        engine.db.dispose()


# ---- the route modules ----------------------------------------------------------------------------
NOT_SHOWN_IN_MODULES = {
    ("forms.py", "standaard vandaag"),  # looked for in a declaration's help, never shown itself
}


def _sentences_in(path: Path, *, openapi: bool = False) -> list[str]:
    """String constants of a module with two words in them, docstrings and markup left out (and,
    with `openapi`, the OpenAPI texts for developers: `summary=` and `description=`)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    if openapi:
        docstrings |= {id(n) for kw in ast.walk(tree) if isinstance(kw, ast.keyword)
                       and kw.arg in ("summary", "description") for n in ast.walk(kw.value)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words = re.sub(r'[\w-]+="[^"]*"|</?\w+[^>]*>?|^[^<>]*>', " ", node.value)
            if re.search(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}", words) and (path.name, node.value) not in NOT_SHOWN_IN_MODULES:
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    return found


def test_the_web_modules_hold_no_sentence_outside_the_catalog(tmp_path: Path) -> None:
    """A route module's messages (a refusal, a notice, an error page's text) come from the catalog
    too; so do the JSON API's (api/auth.py, api/writes.py), whose OpenAPI descriptions are for
    developers and stay as they are (api/errors.py and models.py hold only those)."""
    found = [s for p in sorted(WEB.glob("*.py")) for s in _sentences_in(p)]
    found += [s for name in ("auth.py", "writes.py", "reads.py")
              for s in _sentences_in(WEB / "api" / name, openapi=True)]
    assert found == [], "put these in passend.po (nl and en) and show them with text(...)"
    probe = tmp_path / "probe.py"
    probe.write_text('"""Doc string words."""\nX = "Dit is een zin."\nY = \'<svg role="img" width="\'\n',
                     encoding="utf-8")
    assert [s.split(": ", 1)[1] for s in _sentences_in(probe)] == ["'Dit is een zin.'"]

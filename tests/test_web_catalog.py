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
# Templates whose wording is still inline: the OPP page and the parents' pages. Each one leaves
# this list when it moves to the catalog (a test below fails when a listed one has no words left).
NOT_YET = frozenset({"_opp_parts.html", "opp.html", "parent_base.html", "parent_case.html", "parent_link.html",
                     "parent_link_refused.html", "parent_signed_out.html"})
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
    source = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
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


@pytest.mark.parametrize("name", [n for n in TEMPLATE_NAMES if n not in NOT_YET])
def test_a_template_shows_no_words_outside_the_catalog(name: str) -> None:
    assert inline_words(name) == [], "put these in passend.po (nl and en) and show them with t(...)"


@pytest.mark.parametrize("name", sorted(NOT_YET))
def test_a_template_still_waiting_for_the_catalog_is_listed_only_while_it_waits(name: str) -> None:
    assert inline_words(name), f"{name} has no inline words left: take it off NOT_YET"


def test_the_scan_finds_inline_words_where_they_are(tmp_path: Path) -> None:
    """The scan itself: text, a spoken attribute and a literal are found; a key, an id, the
    product's name and markup are not."""
    (TEMPLATE_DIR / "_scan_probe.html").write_text(
        '<p title="Uitleg">Hallo {{ t("web.nav.work") }}</p><p>{{ x or "Niets hier" }}</p>'
        '<p class="{{ c or \'none\' }}">{{ t("web.nav.start") }}: 3</p><p>passend</p>'
        "<script>var hidden = 'words';</script>", encoding="utf-8")
    try:
        found = inline_words("_scan_probe.html")
    finally:
        (TEMPLATE_DIR / "_scan_probe.html").unlink()
    assert found == ["p[title]: 'Uitleg'", "text: 'Hallo'", "string in an expression: 'Niets hier'"]


def test_catalog_text_is_escaped_and_markup_from_the_template_is_kept() -> None:
    """`t()` escapes the catalog's text and each value, but keeps markup the template made (a
    link inside a sentence), so a sentence's words stay together in the catalog."""
    from markupsafe import Markup

    link = Markup('<a href="/x">de termijnen van deze week</a>')
    shown = page_text("web.home.where_next", pupils="<b>", week=link)
    assert shown == '&lt;b&gt; van uw scholen, of <a href="/x">de termijnen van deze week</a>.'
    assert page_text("web.caseload.pages") == "Pagina&#39;s"

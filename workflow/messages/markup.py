"""The catalog's wording for an HTML template: the web pages (`t` in
workflow/entrypoints/web/templates), the audit timeline's page and the HTML mails all draw their
sentences through `page_text`, so the escaping and its cache live once, here, below both the
entry points and the service layer (the layers: neither may import the other's copy).

markupsafe is imported here and not by the package: `workflow.messages` is read by every
`passend` call, this module only by what renders HTML.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from workflow.messages.render import language, text

__all__ = ["page_text"]

# (language, key): the catalog's text, escaped once; as is, and with its line breaks as spaces
_ESCAPED: dict[tuple[str, str], Markup] = {}
_ESCAPED_ONE_LINE: dict[tuple[str, str], Markup] = {}


def page_text(key: str, one_line: bool = False, /, **values: Any) -> Markup:
    """A sentence of the catalog for an HTML template: `{{ t("web.…", name=value) }}`. The
    catalog's text is escaped, and so is every value, except markup the template made itself (a
    link or a `<code>` in the middle of a sentence: `{% set link %}<a …>…</a>{% endset %}`), so
    a sentence keeps its words together in the catalog and a translation may put the markup where
    its language needs it. With `one_line` a line break in the catalog's text is a space (a
    mail's text wraps its lines there; its HTML must not).

    A page calls this a hundred times or more, so the escaped text is kept per language and key,
    and the values are escaped one by one and put in with `str.format` (what `Markup.format` does,
    without its formatter written in Python, three times the cost of the template's own work).
    The language is read once a page (the web app holds it: app.HeldLanguage; a mail and the
    timeline: messages.render.language_held or the environment)."""
    lang = language()
    cache = _ESCAPED_ONE_LINE if one_line else _ESCAPED
    found = cache.get((lang, key))
    if found is None:  # without values: the catalog's raw text, placeholders and all
        raw = text(key, lang)
        found = cache[(lang, key)] = escape(raw.replace("\n", " ") if one_line else raw)
    if not values:
        return found
    return Markup(str.format(found, **{k: escape(v) for k, v in values.items()}))

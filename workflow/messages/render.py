"""Reasons to sentences: the catalog's wording, filled in with the definition's labels.

Every id in a reason's parameters is looked up in the definition (the case's own version): a
state reads as its label, a trigger as its label, an evidence filter as the kind's and choices'
labels ("OOGO-gesprek met de ouders"), a consent scope as its label. An id the definition does
not know is shown with its underscores as spaces, so a reason is never lost for want of a label.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.domain.errors import use_renderer

if TYPE_CHECKING:
    # Imported where used, not here: the command line's help and error lines read the catalog
    # (`text`) and must not pay for the definition's modules (tests/test_serve.py's
    # test_help_is_light; tests/test_cli_words.py). A process that renders a reason has them
    # loaded already.
    from workflow.domain.definition import ProcessDefinition
    from workflow.domain.evidence import EvidenceKind, FieldSpec
    from workflow.domain.reasons import Reason

LOCALE = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_ENV = "PASSEND_LANGUAGE"


class Catalog:
    """The messages of one language's catalog; `gettext` answers as gettext.GNUTranslations'
    does (an id the catalog lacks stands for itself)."""

    def __init__(self, messages: dict[str, str]) -> None:
        self._messages = messages

    def gettext(self, key: str) -> str:
        return self._messages.get(key, key)


@cache
def _catalog(lang: str) -> Catalog:
    """The language's catalog (one of LANGUAGES, each shipped), read on first use."""
    return Catalog(read_mo((LOCALE / lang / "LC_MESSAGES" / "passend.mo").read_bytes()))


def read_mo(data: bytes) -> dict[str, str]:
    """id -> text of a compiled catalog, in GNU gettext's .mo format (a header; the lengths and
    offsets of the ids, then of the texts, each a table of unsigned 32-bit pairs), as Babel
    writes the catalogs passend ships: UTF-8, without plural forms or contexts, which nothing
    here asks for (a test holds the shipped ones to gettext's own reading of them).

    Why not gettext: a view that writes out its options' reasons reads the whole catalog, and a
    `case show` is a new process each time; gettext's import and its parse, message by message
    in Python, were about 10M of its 300M instructions (issue 17), a parse that takes the two
    tables in one piece each a third of that."""
    order = {b"\xde\x12\x04\x95": "<", b"\x95\x04\x12\xde": ">"}.get(data[:4])
    if order is None or len(data) < 20:
        raise ValueError("not a .mo file")
    version, count, ids, texts = struct.unpack(f"{order}4I", data[4:20])
    if version >> 16 not in (0, 1):
        raise ValueError(f"a .mo file of an unknown version ({version >> 16})")

    def strings(table: int) -> list[str]:
        pairs = struct.unpack(f"{order}{2 * count}I", data[table:table + 8 * count])
        return [data[at:at + n].decode("utf-8") for n, at in zip(pairs[::2], pairs[1::2], strict=True)]

    return dict(zip(strings(ids), strings(texts), strict=True))


_HELD: ContextVar[str | None] = ContextVar("passend_language", default=None)


def language(lang: str | None = None) -> str:
    """`lang`, else the language held (`language_held`), else $PASSEND_LANGUAGE, else Dutch; an
    unknown language falls back to Dutch."""
    got = lang or _HELD.get() or os.environ.get(LANGUAGE_ENV) or DEFAULT_LANGUAGE
    return got if got in LANGUAGES else DEFAULT_LANGUAGE


@contextmanager
def language_held() -> Iterator[str]:
    """The language in force, read once and held for what runs inside (in this context only):
    a web page asks for it at every date and every reason it shows, thirty times or more, and
    reading the environment each time was a twentieth of a case page."""
    token = _HELD.set(language())
    try:
        yield _HELD.get() or DEFAULT_LANGUAGE
    finally:
        _HELD.reset(token)


class _Words:
    """The catalog of one language, and the definition whose labels fill it in."""

    def __init__(self, d: ProcessDefinition | None, lang: str) -> None:
        self.d = d
        self.cat = _catalog(lang)

    def t(self, key: str, **values: Any) -> str:
        text = self.cat.gettext(key)
        return text.format(**values) if values else text

    def quote(self, label: str) -> str:
        return self.t("quote", label=label)

    def state(self, s: Any) -> str:
        sd = self.d.states.get(str(s)) if self.d is not None else None
        return self.quote(sd.label if sd is not None else _plain_id(s))

    def trigger(self, t: Any) -> str:
        td = self.d.triggers.get(str(t)) if self.d is not None else None
        return self.quote(td.label if td is not None else _plain_id(t))

    def role(self, r: Any) -> str:
        label = self.d.roles.get(str(r)) if self.d is not None else None
        label = label or _plain_id(r)
        return label[:1].lower() + label[1:]

    def kind(self, k: Any) -> EvidenceKind | None:
        from workflow.domain.evidence import BUILTIN_KINDS

        kinds = self.d.evidence_kinds if self.d is not None else BUILTIN_KINDS
        return kinds.get(str(k))

    def scope(self, s: Any) -> str:
        return self.d.scope_label(str(s)) if self.d is not None else _plain_id(s)

    def any_of(self, items: list[str], word: str = "word.or") -> str:
        if not items:
            return self.t("word.none")
        if len(items) == 1:
            return items[0]
        return ", ".join(items[:-1]) + f" {self.t(word)} " + items[-1]

    def value(self, spec: FieldSpec, value: Any) -> str:
        if value is None:
            return self.t("value.any")
        if isinstance(value, list | tuple):
            return self.any_of([self.value(spec, v) for v in value])
        if spec.choices_from == "consent_scopes":
            return self.scope(value)
        if spec.type == "choice":
            return spec.choice_label(value)
        return str(value)

    def what(self, kind_id: Any, where: Mapping[str, Any]) -> str:
        """An evidence filter as a phrase: "evaluatie van het handelingsplan met uitkomst onvoldoende"."""
        from workflow.domain.evidence import FieldSpec

        kind = self.kind(kind_id)
        if kind is None:
            return _plain_id(kind_id)
        base = kind.label
        parts: list[str] = []
        for name, value in where.items():
            spec = kind.field(name) or FieldSpec(name, "text")
            if spec.names and value is not None and not isinstance(value, list | tuple):
                base = spec.choice_label(value)
            elif spec.type == "bool" and isinstance(value, bool):
                parts.append((spec.yes if value else spec.no) or (spec.title if value else f"niet {spec.title}"))
            elif spec.phrase:
                parts.append(spec.phrase.format(value=self.value(spec, value)))
            else:
                parts.append(f"{spec.title} {self.value(spec, value)}")
        return " ".join([base, *parts])

    def other(self, code: str, p: Mapping[str, Any]) -> str:
        """A code without its own rule above: the catalog's text, else the wording the guard kind
        declared (`Guard.messages`), with ids among the parameters shown by their labels."""
        text = self.cat.gettext(code)
        shape: Callable[[str], str] = str  # the catalog's wording stands as written
        if text == code:
            from workflow.domain.guards import MESSAGES

            text, shape = MESSAGES.get(code, code), _sentence
        values: dict[str, Any] = {}
        for k, v in p.items():
            if k in ("state", "source", "dest"):
                values[k] = self.state(v)
            elif k == "trigger":
                values[k] = self.trigger(v)
            elif k == "kind":
                kind = self.kind(v)
                values[k] = kind.label if kind is not None else _plain_id(v)
            elif k == "scope":
                values[k] = self.scope(v)
            elif k == "role":
                values[k] = self.role(v)
            elif k == "where" and isinstance(v, Mapping):
                values[k] = self.what(p.get("kind"), v)
            else:
                values[k] = v
        if "where" in p and "what" not in values:
            values["what"] = self.what(p.get("kind"), p.get("where") or {})
        values["since"] = self.since(p)
        try:
            return shape(text.format(**values))
        except (KeyError, IndexError, ValueError):
            return shape(text)

    def since(self, p: Mapping[str, Any], lead: str = "") -> str:
        since = p.get("since")
        if since is None:
            return ""
        if since in ("state_entered", "entered"):
            text = self.t(f"since.{since}", state=self.state(p["state"])) if "state" in p else \
                self.t("since.state_entered.any")
        elif since == "level_entered":
            text = self.t("since.level_entered", level=p["level"]) if p.get("level") is not None else \
                self.t("since.level_entered.any")
        else:
            text = self.t("since.case_opened")
        return lead + text


def text(key: str, lang: str | None = None, /, **values: Any) -> str:
    """A sentence of the catalog by its key (a page's wording: `web.*`), filled in with
    `values`. A key the catalog lacks is a programming error, caught by the tests that read
    every key a template uses; at run time it shows the key rather than fail the page."""
    found = _catalog(language(lang)).gettext(key)
    return found.format(**values) if values else found


def _said(key: str, values: Mapping[str, Any]) -> str:
    return text(key, **values)


# What the domain and the adapters say (workflow.domain.errors.Said) is read through this catalog.
use_renderer(_said)


def _plain_id(value: Any) -> str:
    return str(value).replace("_", " ")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def render(reason: Reason, d: ProcessDefinition | None, lang: str | None = None) -> str:
    """One reason as a sentence a person reads."""
    p = reason.params
    if p.get("message"):  # the definition's own wording for this guard
        return str(p["message"])
    w = _Words(d, language(lang))
    code = reason.code
    if code in ("evidence_missing", "needs_evidence"):
        what = w.what(p.get("kind"), p.get("where") or {})
        many = int(p.get("min", 1)) > 1
        key = code + (".count" if many else "")
        text = _sentence(w.t(key, what=what, since=w.since(p), min=p.get("min", 1), have=p.get("have", 0)))
        if p.get("before") and p.get("before_date"):
            text += " " + _before(w, p)
        return text
    if code in OPP_CODES:
        return _opp(w, code, p)
    if code == "consent_missing":
        status = p.get("status") or "none"
        key = f"consent_missing.{status}" if status in ("refused", "revoked") else "consent_missing.none"
        return w.t(key, scope=w.scope(p.get("scope")), since=w.since(p, " "))
    if code == "consent_not_withheld":
        return w.t(code, scope=w.scope(p.get("scope")), status=w.t(f"status.{p.get('status') or 'none'}"))
    if code in ("needs_consent", "needs_consent_withheld"):
        return w.t(code, scope=w.scope(p.get("scope")), since=w.since(p, " "))
    if code in ("not_from_state", "needs_previous_state"):
        return w.t(code, state=w.state(p.get("state")))
    if code == "trigger_not_here":
        possible = [w.trigger(t) for t in p.get("possible", [])]
        if not possible:
            return w.t("trigger_not_here.none", trigger=w.trigger(p.get("trigger")), state=w.state(p.get("state")))
        return w.t(code, trigger=w.trigger(p.get("trigger")), state=w.state(p.get("state")),
                   possible=w.any_of(possible))
    if code == "role_may_not_fire":
        return w.t(code, role=w.role(p.get("role")), trigger=w.trigger(p.get("trigger")),
                   state=w.state(p.get("state")), roles=w.any_of([w.role(r) for r in p.get("roles", [])]))
    if code == "role_may_not_record":
        kind = w.kind(p.get("kind"))
        return w.t(code, role=w.role(p.get("role")), kind=kind.label if kind else _plain_id(p.get("kind")))
    if code == "role_may_not_open":
        return w.t(code, role=w.role(p.get("role")), roles=w.any_of([w.role(r) for r in p.get("roles", [])]))
    if code in ("step_ready", "step_first"):
        return w.t(code, trigger=w.trigger(p.get("trigger")))
    if code == "needed_for":
        from workflow.domain.reasons import Reason

        need = p.get("need")
        need_text = render(Reason(need["code"], need.get("params", {})), d, lang) if isinstance(need, Mapping) else ""
        return w.t(code, trigger=w.trigger(p.get("trigger")), need=need_text)
    if code == "to_record":
        return _sentence(w.t(code, what=w.what(p.get("kind"), p.get("where") or {})))
    return w.other(code, p)


OPP_CODES = ("opp_missing", "opp_incomplete", "needs_opp_complete", "consent_unbound", "consent_other_version")
_MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}


def date_words(day: str, lang: str) -> str:
    """`2025-09-03` as people write it: "3 september 2025"."""
    y, m, d = (int(x) for x in day.split("-"))
    return day_words(y, m, d, lang)


def day_words(year: int, month: int, day: int, lang: str) -> str:
    """A date as people write it ("3 september 2025"), from its numbers."""
    return f"{day} {_MONTHS.get(lang, _MONTHS['nl'])[month - 1]} {year}"


def _plural(label: str, lang: str) -> str:
    if lang == "en" or label.endswith("e"):
        return label + "s"
    if label.endswith(("ing", "ng")):
        return label + "en"
    return label + "s"


def _before(w: _Words, p: Mapping[str, Any]) -> str:
    """Why records the IB sees do not count: dated before the level (or step) began."""
    n = int(p["before"])
    kind = w.kind(p.get("kind"))
    label = kind.label if kind is not None else _plain_id(p.get("kind"))
    lang = "en" if w.t("word.and") == "and" else "nl"
    if p.get("since") == "level_entered" and p.get("level") is not None:
        began = w.t("began.level", level=p["level"])
    elif p.get("state") is not None:
        began = w.t("began.state", state=w.state(p["state"]))
    else:
        began = w.t("since.state_entered.any")
    key = "evidence_missing.before" + (".one" if n == 1 else "")
    return w.t(key, count=n, what=label if n == 1 else _plural(label, lang),
               date=date_words(str(p["before_date"]), lang), began=began)


def _opp(w: _Words, code: str, p: Mapping[str, Any]) -> str:
    spec = w.d.opp if w.d is not None else None
    names = p.get("missing") if code == "opp_incomplete" else p.get("required")
    parts = [spec.label(n) if spec is not None else _plain_id(n) for n in names or []]
    if code in ("consent_unbound", "consent_other_version"):
        return w.t(code, scope=w.scope(p.get("scope")), version=p.get("version"), current=p.get("current"))
    return w.t(code, parts=w.any_of(parts, "word.and"), version=p.get("version"))


def render_all(reasons: Iterable[Reason], d: ProcessDefinition | None, lang: str | None = None) -> list[str]:
    return [render(r, d, lang) for r in reasons]


def with_text(reason: Reason, d: ProcessDefinition | None, lang: str | None = None) -> dict[str, Any]:
    """What JSON carries for a reason: {code, params, text}."""
    return {**reason.as_dict(), "text": render(reason, d, lang)}


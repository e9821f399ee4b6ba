"""The message catalog: every reason code has Dutch (the default, complete) and English wording,
the shipped .mo files are what their .po sources compile to, and every placeholder is filled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflow.domain.reasons import Reason
from workflow.messages import render
from workflow.messages.build import compiled, sources

from .catalog_support import placeholders, po_catalog
from .engine_support import PureCase

REPO = Path(__file__).resolve().parents[1]
CODE = re.compile(r"""Reason\(\s*["']([a-z_]+)["']""")


def test_dutch_and_english_have_every_entry_with_the_same_placeholders() -> None:
    nl, en = po_catalog("nl"), po_catalog("en")
    assert nl.keys() == en.keys()
    for key in nl:
        assert nl[key].strip() and en[key].strip(), key
        assert placeholders(nl[key]) == placeholders(en[key]), key


def test_every_reason_code_in_the_code_has_a_dutch_entry() -> None:
    codes = {c for p in (REPO / "workflow").rglob("*.py") for c in CODE.findall(p.read_text(encoding="utf-8"))}
    assert {"evidence_missing", "consent_missing", "case_closed", "trigger_not_here"} <= codes
    nl = po_catalog("nl")
    for code in codes:
        assert code in nl or any(k.startswith(code + ".") for k in nl), code


@pytest.mark.parametrize("po", sources(), ids=lambda p: p.parent.parent.name)
def test_the_shipped_mo_holds_what_its_po_says(po: Path) -> None:
    """Compared message by message (the header carries Babel's version and the compile time)."""
    import gettext
    import io

    def messages(mo: bytes) -> dict[str, str]:
        cat = gettext.GNUTranslations(io.BytesIO(mo))._catalog  # type: ignore[attr-defined]
        return {str(k): str(v) for k, v in cat.items() if k}

    shipped = messages(po.with_suffix(".mo").read_bytes())
    assert shipped == messages(compiled(po)), "run: python -m workflow.messages.build"
    assert shipped == po_catalog(po.parent.parent.name)


@pytest.mark.parametrize("po", sources(), ids=lambda p: p.parent.parent.name)
def test_the_catalog_is_read_as_gettext_reads_it(po: Path) -> None:
    """render.read_mo (a case show reads the catalog without gettext) gives gettext's messages,
    the header included; what is no .mo file is refused."""
    import gettext
    import io

    from workflow.messages.render import read_mo

    mo = po.with_suffix(".mo").read_bytes()
    assert read_mo(mo) == gettext.GNUTranslations(io.BytesIO(mo))._catalog  # type: ignore[attr-defined]
    for bad in (b"", b"not a catalog at all", mo[:3]):
        with pytest.raises(ValueError):
            read_mo(bad)


def test_dutch_is_the_default_and_english_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    c = PureCase()
    (reason,) = c.decide("escalate").reasons
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    assert render(reason, c.d) == "Er is nog geen signalering vastgelegd sinds de casus op niveau 1 kwam."
    assert render(reason, c.d, "en") == "No signalering has been recorded since the case reached level 1 yet."
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert render(reason, c.d).startswith("No signalering")
    monkeypatch.setenv("PASSEND_LANGUAGE", "fr")  # unknown: Dutch
    assert render(reason, c.d).startswith("Er is nog geen")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_reason_of_a_walk_renders_without_a_placeholder(lang: str) -> None:
    c = PureCase()
    seen: set[str] = set()
    steps = [lambda: c.record("signal", area="lezen", note="n"), lambda: c.fire("escalate"),
             lambda: c.evaluated("onvoldoende").record("contact", method="telefoon").fire("escalate"),
             lambda: c.evaluated("onvoldoende", 2).record("meeting", kind="expert", participants="p"),
             lambda: c.consent("externe_deskundige").fire("escalate").fire("start_opp"),
             lambda: c.consent("opp_handelingsdeel", "refused")]
    for step in [lambda: c, *steps]:
        step()
        for trigger, tdef in c.d.triggers.items():
            params = {n: (p.choices or ("x",))[0] for n, p in tdef.params.items()}
            for role in ("ib", "leerkracht", "directeur"):
                for r in c.decide(trigger, role, **params).reasons:
                    seen.add(r.code)
                    text = render(r, c.d, lang)
                    assert "{" not in text and "}" not in text and text.lstrip("‘")[:1].isupper(), text
    assert {"evidence_missing", "consent_missing", "trigger_not_here", "role_may_not_fire"} <= seen
    for r in (Reason("case_closed"), Reason("case_already_open", {"case_id": "C-1"}),
              Reason("no_school_access", {"user": "u", "school": "s"}), Reason("user_disabled", {"user": "u"}),
              Reason("role_may_not_open", {"role": "directeur", "roles": ["ib"]}),
              Reason("role_may_not_record", {"role": "leerkracht", "kind": "view"})):
        text = render(r, c.d, lang)
        assert "{" not in text and text != r.code, text


def test_the_language_held_is_read_once_and_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """render.language_held: the language in force when it began holds inside, whatever the
    environment says meanwhile; an explicit language still wins; after it, the environment again."""
    from workflow.messages.render import language, language_held

    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    with language_held() as held:
        monkeypatch.setenv("PASSEND_LANGUAGE", "nl")
        assert held == "en" and language() == "en" and language("nl") == "nl"
        with language_held() as inner:  # nested: the same
            assert inner == "en"
        assert language() == "en"
    assert language() == "nl"
    monkeypatch.setenv("PASSEND_LANGUAGE", "xx")
    with language_held() as held:
        assert held == "nl"  # an unknown language falls back to Dutch, held as such

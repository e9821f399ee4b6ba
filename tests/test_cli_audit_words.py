"""`passend audit`'s lines and bad-input messages come from the message catalog (cli.audit.*):
every key workflow/entrypoints/cli/audit.py names is in both catalogs with the placeholders it
fills in, and no cli.audit key is left that it does not name. The Dutch of the lines that the
other tests do not reach (a refused step, a mismatch, a failed witness, unreadable cases) is
pinned here as the code wrote it before; with PASSEND_LANGUAGE=en the commands speak English.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from workflow.entrypoints.cli.audit import _render_replay, text
from workflow.messages.render import _catalog

from .catalog_support import placeholders

AUDIT = Path(__file__).resolve().parents[1] / "workflow" / "entrypoints" / "cli" / "audit.py"


def _uses() -> list[tuple[str, set[str] | None]]:
    """(key, the names it fills in, or None for a key written apart from its call)."""
    uses: list[tuple[str, set[str] | None]] = []
    in_calls: set[int] = set()
    tree = ast.parse(AUDIT.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "text" and node.args \
                and isinstance(node.args[0], ast.Constant):
            uses.append((str(node.args[0].value), {str(k.arg) for k in node.keywords}))
            in_calls.add(id(node.args[0]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_calls \
                and node.value.startswith("cli.audit."):
            uses.append((node.value, None))
    return uses


def test_every_key_is_in_both_catalogs_and_none_is_unused() -> None:
    uses = _uses()
    assert len({k for k, _ in uses}) > 30  # the scan sees the code
    for lang in ("nl", "en"):
        messages = _catalog(lang)
        for key, names in uses:
            assert messages.gettext(key) != key, (lang, key)
            if names is not None:
                assert placeholders(messages.gettext(key)) == names, (lang, key)
        # the line of `passend --help` is named in app.py (tests/test_cli_words.py reads every module)
        cli_keys = {k for k in messages._messages if k.startswith("cli.audit.")} - {"cli.audit.summary"}
        assert cli_keys == {k for k, _ in uses}, lang


REPLAYED: dict[str, Any] = {
    "case_id": "C-1", "state": "niveau_2", "level": 2, "version": 7, "process": "passend-po@1", "ok": False,
    "errors": ["e"], "mismatches": ["m"], "notes": [], "as_of": "2025-10-01", "evidence": [],
    "refused": [{"seq": 3, "step": "escalate", "role": "leerkracht", "reasons": ["r"]}],
    "deadlines": [{"name": "opp", "due": "2025-11-01", "status": "open"}],
}


def test_the_dutch_lines_read_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    assert _render_replay(REPLAYED).splitlines() == [
        "C-1          niveau_2         niveau 2  v7 passend-po@1: AFWIJKING",
        "  ! gebeurtenis 3 (escalate, leerkracht) zou niet zijn toegestaan:",
        "      - r", "  ≠ m", "  ! e", "  termijn opp op 2025-11-01 (open)"]
    assert text("cli.audit.witness.failed", findings=2, roots=3) == \
        "getuigen: NIET bevestigd: 2 bevinding(en) bij 3 controlewaarde(n)"
    assert text("cli.audit.access_log.more", n=4) == "... en nog 4"
    assert text("cli.audit.compliance.unreadable") == "Niet te lezen:"
    assert text("cli.audit.access_log.intact.one", n=1, hash="h") == "toegangslog intact: 1 regel, laatste hash h"
    assert text("cli.audit.access_log.intact", n=0, hash="h") == "toegangslog intact: 0 regels, laatste hash h"


def test_english_when_english_is_set(monkeypatch: pytest.MonkeyPatch, engine: Any, cli: Any) -> None:
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    assert _render_replay(REPLAYED).splitlines()[:2] == [
        "C-1          niveau_2         level 2  v7 passend-po@1: MISMATCH",
        "  ! event 3 (escalate, leerkracht) would not have been allowed:"]
    r = cli("audit", "verify")
    assert r.code == 0
    assert r.out.startswith("intact: 0 cases, 0 events (")
    assert "access log intact: 0 records, last hash " in r.out
    r = cli("audit", "replay")
    assert r.code == 2 and "give a CASE or --all" in r.err

"""What the tests of the message catalog share: the catalogs as their sources say them, the
placeholders a sentence fills in, and the two questions every scan for inline words asks of the
code (what a call is named; whether an argument is a sentence written in place).

Each words test (tests/test_*_messages.py, test_*_words.py) scans its own files with its own
rules; only these pieces are the same everywhere, so they live here once.
"""

from __future__ import annotations

import ast
import string
from functools import cache

from workflow.messages.build import LOCALE


@cache
def po_catalog(lang: str) -> dict[str, str]:
    """key -> text of one language's .po source (Babel's reader): what the sources say, not what
    the shipped .mo holds (tests/test_messages_catalog.py holds the two to each other)."""
    from babel.messages.pofile import read_po

    with (LOCALE / lang / "LC_MESSAGES" / "passend.po").open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id}


def placeholders(message: str) -> set[str]:
    """The names a catalog sentence fills in (`{case}` -> "case")."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def call_name(func: ast.expr) -> str | None:
    """`fail` for fail(...), c.fail(...) and self.fail(...) alike; None for anything else called."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def is_str(node: ast.expr | None) -> bool:
    """A sentence written in place: a literal, an f-string, strings glued with + or %, or a
    "...".format(...). A key passed to Said, a name or an attribute is not."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return is_str(node.left) or is_str(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return is_str(node.func.value)
    return False


def in_both_catalogs(where: str, key: str, names: set[str] | None) -> None:
    """`key`, used at `where`, is in the Dutch and the English catalog, and each sentence fills in
    exactly the `names` the code gives it (None: the code names the key apart from its values,
    so only that it is there is checked)."""
    for lang in ("nl", "en"):
        cat = po_catalog(lang)
        assert key in cat, f"{where}: {key} is not in the {lang} catalog"
        if names is not None:
            assert placeholders(cat[key]) == names, f"{where}: {key} ({lang}) fills {sorted(names)}"

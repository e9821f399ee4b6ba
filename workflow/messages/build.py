"""Compile the .po sources to the .mo files gettext reads: `python -m workflow.messages.build`.

The .mo files are shipped beside their sources, so a running passend needs no Babel (it reads
them with render.read_mo); a test compiles the sources again and fails when a .mo is out of date.
Needs Babel (a test and development dependency).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

LOCALE = Path(__file__).resolve().parent / "locale"
DOMAIN = "passend"


def compiled(po: Path) -> bytes:
    """The .mo bytes of one .po source (Babel's reader and writer; deterministic)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=po.parent.parent.name, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def sources() -> list[Path]:
    return sorted(LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def main() -> int:
    for po in sources():
        po.with_suffix(".mo").write_bytes(compiled(po))
        print(f"{po.with_suffix('.mo').relative_to(LOCALE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

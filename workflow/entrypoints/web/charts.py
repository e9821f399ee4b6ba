"""Bar charts as SVG, drawn on the server: no script, no chart library, no CDN.

A chart is inline SVG in the page (the CSP allows it: no script, no style attribute), with
`role="img"` and a `<title>`/`<desc>` that say what it shows; the table beside it carries the
same numbers, so a screen reader, a printout and a keyboard user lose nothing. Horizontal bars:
long Dutch labels stay readable, and the chart grows downwards with the number of bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 680
LABEL_W = 290
NUMBER_W = 60
ROW = 26
BAR = 18
PAD = 8
LABEL_CHARS = 34  # at about 7.5 px a character they fit in LABEL_W; the table has the label whole
FILL = "#2f5d8a"  # 7:1 against white: a bar is seen without its colour being needed
TEXT = "#1a1a1a"


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1].rstrip() + "…"


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, int]], *, desc: str = "",
              fill: str = FILL) -> Markup:
    """An SVG bar chart of `bars` ((label, count), in the order given). `chart_id` makes the
    title's id unique on the page."""
    top = max((n for _, n in bars), default=0)
    span = WIDTH - LABEL_W - NUMBER_W - PAD
    height = PAD * 2 + ROW * max(len(bars), 1)
    tid, did = escape(f"{chart_id}-titel"), escape(f"{chart_id}-uitleg")
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-labelledby="{tid}'
             f'{" " + did if desc else ""}">',
             f'<title id="{tid}">{escape(title)}</title>']
    if desc:
        parts.append(f'<desc id="{did}">{escape(desc)}</desc>')
    for i, (label, n) in enumerate(bars):
        y = PAD + i * ROW
        w = 0 if top == 0 else max(round(span * n / top), 1 if n else 0)
        mid = y + ROW / 2
        parts.append(f'<text x="{LABEL_W - PAD}" y="{mid:.0f}" dy="0.35em" text-anchor="end" fill="{TEXT}" '
                     f'font-size="13">{escape(_cut(label))}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + (ROW - BAR) / 2:.0f}" width="{w}" height="{BAR}" '
                     f'fill="{escape(fill)}"/>')
        parts.append(f'<text x="{LABEL_W + w + 6}" y="{mid:.0f}" dy="0.35em" fill="{TEXT}" '
                     f'font-size="13">{n}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

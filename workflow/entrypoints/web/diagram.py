"""The process diagram as SVG, drawn on the server from the definition: no script, no external
renderer, nothing but rectangles, paths and text (and no `style`: the CSP allows none inline, so
colours are presentation attributes).

Layout: the states a case can be in before it ends are put in layers from top to bottom, each
state one layer below the furthest state that leads to it (the longest path from the first
state, taking only the edges that go forward in a depth-first walk; the others are "back"
edges, drawn as curves on the left). States that end a case (final) go in a column on the
right. A step that every open state has (`source = "*"`, e.g. closing the case) is drawn once,
as a dashed line along that column, instead of one arrow from every state. Labels are wrapped
to the box. The state a case is in is filled and marked "nu"; the drawing has a title and a
description for screen readers, and the case page says the same in text.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from workflow.domain.definition import ProcessDefinition
from workflow.messages import text

BOX_W, LINE_H, PAD = 190, 15, 8
GAP_X, GAP_Y, MARGIN, BACK_LANE = 36, 46, 16, 44
INK, PAPER, ACCENT, LINE, MUTED, DONE = "#1b1b1b", "#ffffff", "#0b5394", "#6b6b6b", "#555555", "#e8f1fa"


@dataclass
class _Box:
    state: str
    lines: list[str]
    x: float = 0
    y: float = 0

    @property
    def h(self) -> float:
        return PAD * 2 + LINE_H * len(self.lines)

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2


def _wrap(text: str, width: int = 24) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _layers(d: ProcessDefinition) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Each open state's layer, and the edges that go back (found by a depth-first walk)."""
    finals = {s for s, sd in d.states.items() if sd.final}
    succ: dict[str, list[str]] = {s: [] for s in d.states if s not in finals}
    for t in d.transitions:
        if t.source in succ and t.dest in succ and t.dest not in succ[t.source]:
            succ[t.source].append(t.dest)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(s: str) -> None:
        state[s] = 1
        for n in succ[s]:
            if state.get(n) == 1:
                back.add((s, n))
            elif n not in state:
                walk(n)
        state[s] = 2

    for start in [d.initial, *succ]:
        if start in succ and start not in state:
            walk(start)
    layer = {s: 0 for s in succ}
    for _ in range(len(succ)):  # longest path over the forward edges (a DAG)
        for s, nexts in succ.items():
            for n in nexts:
                if (s, n) not in back and layer[n] < layer[s] + 1:
                    layer[n] = layer[s] + 1
    return layer, back


def svg(d: ProcessDefinition, current: str | None = None) -> str:
    layer, back = _layers(d)
    finals = [s for s, sd in d.states.items() if sd.final]
    everywhere = _everywhere(d)
    boxes = {s: _Box(s, _wrap(d.states[s].label)) for s in d.states}
    rows: dict[int, list[str]] = {}
    for s in d.states:
        if s in layer:
            rows.setdefault(layer[s], []).append(s)
    to_final = {t.source for t in d.transitions if t.dest in finals and t.trigger not in everywhere}
    per_row = max((len(v) for v in rows.values()), default=1)
    body_w = per_row * BOX_W + (per_row - 1) * GAP_X
    left = MARGIN + BACK_LANE
    y: float = MARGIN
    for n in sorted(rows):
        # Within a row: a state with its own way out to a final state on the right (its arrow
        # then crosses nothing), the others in the order of the states that lead to them.
        def order(s: str, n: int = n) -> tuple[bool, float, int]:
            preds = [boxes[t.source].cx for t in d.transitions
                     if t.dest == s and t.source in layer and layer[t.source] < n]
            return s in to_final, sum(preds) / len(preds) if preds else 0.0, list(d.states).index(s)

        states = sorted(rows[n], key=order)
        h = max(boxes[s].h for s in states)
        width = len(states) * BOX_W + (len(states) - 1) * GAP_X
        x = left + (body_w - width) / 2
        for s in states:
            boxes[s].x, boxes[s].y = x, y + (h - boxes[s].h) / 2
            x += BOX_W + GAP_X
        y += h + GAP_Y
    height = y - GAP_Y + MARGIN
    right_lane = left + body_w + GAP_X / 2
    final_x = right_lane + BACK_LANE
    fy: float = MARGIN + (height - MARGIN * 2 - sum(boxes[f].h for f in finals) - GAP_Y * (len(finals) - 1)) / 2
    for f in finals:
        boxes[f].x, boxes[f].y = final_x, fy
        fy += boxes[f].h + GAP_Y
    total_w = final_x + (BOX_W if finals else 0) + MARGIN
    middle = left + body_w / 2

    out: list[str] = []
    drawn: set[tuple[str, str]] = set()
    lanes = {"left": 0, "right": 0}
    for t in d.transitions:
        if (t.source, t.dest) in drawn or t.source not in boxes or t.dest not in boxes:
            continue
        if t.trigger in everywhere and t.dest in finals:
            continue
        drawn.add((t.source, t.dest))
        a, b = boxes[t.source], boxes[t.dest]
        label = d.triggers[t.trigger].label if t.trigger in d.triggers else t.trigger
        title = f"{label}: van {d.states[t.source].label} naar {d.states[t.dest].label}"
        if t.dest in finals:
            path = f"M{a.x + BOX_W:.1f} {a.y + a.h / 2:.1f} L{b.x:.1f} {b.y + b.h / 2:.1f}"
            out.append(_path(title, path, dashed=False))
            continue
        is_back = (t.source, t.dest) in back or layer[t.dest] <= layer[t.source]
        if not is_back and layer[t.dest] == layer[t.source] + 1:
            x1, y1 = a.cx + (b.cx - a.cx) * 0.15, a.y + a.h
            x2, y2 = b.cx - (b.cx - a.cx) * 0.15, b.y
            out.append(_path(title, f"M{x1:.1f} {y1:.1f} L{x2:.1f} {y2:.1f}", dashed=False,
                             label=(label, (x1 + x2) / 2 + 6, (y1 + y2) / 2 + 4)))
            continue
        # Back, or past a row: a curve through the lane on the side of the state it goes to.
        side = "left" if b.cx < middle or (b.cx == middle and a.cx <= middle) else "right"
        lanes[side] += 1
        step = (BACK_LANE - 10) * ((lanes[side] - 1) % 4) / 3
        if side == "left":
            lane, x1, x2 = MARGIN + 4 + step, a.x, b.x
        else:
            lane, x1, x2 = right_lane + 6 + step * 0.6, a.x + BOX_W, b.x + BOX_W
        y1, y2 = a.y + a.h / 2, b.y + b.h / 2
        out.append(_path(title, f"M{x1:.1f} {y1:.1f} C{lane:.1f} {y1:.1f} {lane:.1f} {y2:.1f} {x2:.1f} {y2:.1f}",
                         dashed=is_back))
    for trigger, dest in everywhere.items():
        out.append(_everywhere_edge(d, trigger, boxes[dest], final_x - BACK_LANE / 3, height))
    for s, b in boxes.items():
        out.append(_node(b, s == current))
    title = text("web.diagram.title", process=d.title)
    desc = text("web.diagram.desc")
    if current in d.states:
        desc += " " + text("web.diagram.now_at", state=d.states[current].label)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total_w:.0f} {height:.0f}" width="{total_w:.0f}" '
        f'height="{height:.0f}" role="img" aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="13">'
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>'
        '<defs><marker id="pijl" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="{LINE}"/></marker></defs>'
        + "".join(out) + "</svg>"
    )


def _path(title: str, path: str, *, dashed: bool, label: tuple[str, float, float] | None = None) -> str:
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    text = "" if label is None else (f'<text x="{label[1]:.1f}" y="{label[2]:.1f}" fill="{MUTED}" '
                                     f'font-size="11">{escape(label[0])}</text>')
    return (f'<g><title>{escape(title)}</title><path d="{path}" fill="none" stroke="{LINE}" stroke-width="1.4"'
            f'{dash} marker-end="url(#pijl)"/>{text}</g>')


def _everywhere(d: ProcessDefinition) -> dict[str, str]:
    """Triggers that go from every open state to one final state: trigger -> that state."""
    open_states = {s for s, sd in d.states.items() if not sd.final}
    found: dict[str, str] = {}
    for trigger in d.triggers:
        edges = [t for t in d.transitions if t.trigger == trigger]
        dests = {t.dest for t in edges}
        if len(dests) == 1 and d.states[next(iter(dests))].final and {t.source for t in edges} >= open_states:
            found[trigger] = next(iter(dests))
    return found


def _node(b: _Box, current: bool) -> str:
    fill, ink, weight = (ACCENT, PAPER, "700") if current else (PAPER, INK, "400")
    parts = [f'<g><rect x="{b.x:.1f}" y="{b.y:.1f}" width="{BOX_W}" height="{b.h:.1f}" rx="6" fill="{fill}" '
             f'stroke="{ACCENT if current else INK}" stroke-width="{3 if current else 1.5}"/>']
    for i, line in enumerate(b.lines):
        parts.append(f'<text x="{b.cx:.1f}" y="{b.y + PAD + LINE_H * (i + 1) - 3:.1f}" text-anchor="middle" '
                     f'fill="{ink}" font-weight="{weight}">{escape(line)}</text>')
    if current:
        parts.append(f'<text x="{b.x + BOX_W - 6:.1f}" y="{b.y - 4:.1f}" text-anchor="end" fill="{ACCENT}" '
                     f'font-weight="700" font-size="12">{escape(text("web.diagram.now"))}</text>')
    parts.append("</g>")
    return "".join(parts)


def _everywhere_edge(d: ProcessDefinition, trigger: str, dest: _Box, x: float, height: float) -> str:
    label = d.triggers[trigger].label if trigger in d.triggers else trigger
    y_mid = dest.y + dest.h / 2
    return (f'<g><title>{escape(text("web.diagram.from_every_step", step=label))}</title>'
            f'<path d="M{x:.1f} {MARGIN:.1f} L{x:.1f} {height - MARGIN:.1f}" stroke="{LINE}" stroke-width="1.4" '
            f'stroke-dasharray="2 4" fill="none"/>'
            f'<path d="M{x:.1f} {y_mid:.1f} L{dest.x:.1f} {y_mid:.1f}" stroke="{LINE}" stroke-width="1.4" fill="none" '
            f'marker-end="url(#pijl)"/>'
            f'<text x="{dest.x:.1f}" y="{dest.y - 8:.1f}" fill="{MUTED}" font-size="11">'
            f'{escape(text("web.diagram.from_every_step_label", step=label))}</text></g>')

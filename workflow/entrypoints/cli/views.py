"""How `case show` prints a case for a person: without click, so the command line's quick path
(cli.quick) and click's command (cli.case) print it with the same code. Its words are the
catalog's (`cli.case.show.*`), read by `messages.render.read_mo` (no gettext)."""

from __future__ import annotations

from typing import Any


def render_case(v: dict[str, Any]) -> str:
    """`case show` as a person reads it: labels, never ids or field keys."""
    from workflow.messages import text

    lines = [
        text("cli.case.show.head", case=v["case_id"], school=v["school"], group=v["group"] or "-"),
        text("cli.case.show.pupil", pupil=v["pupil"]) + (f"  ({v['name']})" if v["name"] else ""),
        text("cli.case.show.state", state=v["state_label"], level=v["level"] if v["level"] is not None else "-",
             version=v["version"], process=v["process"]),
    ]
    if v["closed_at"]:
        lines.append(text("cli.case.show.closed", day=v["closed_at"][:10],
                          reason=v.get("close_reason_label") or v["close_reason"]))
    for d in v.get("deadlines", []):
        status = STATUS_KEYS.get(d["status"])
        lines.append(text("cli.case.show.deadline", label=d["label"], due=d["due"],
                          status=text(status) if status else d["status"]))
    lines.append(text("cli.case.show.evidence"))
    if not v["evidence"]:
        lines.append(text("cli.case.show.no_evidence"))
    for e in v["evidence"]:
        detail = "; ".join(f"{f['label']}: {f['value']}" for f in e["shown"])
        lines.append(text("cli.case.show.evidence_line", seq=e["seq"], date=e["date"], kind=e["kind_label"],
                          level=e["level"], detail=detail))
    lines.append(text("cli.case.show.steps"))
    if not v["options"]:
        lines.append(text("cli.case.show.no_steps"))
    for o in v["options"]:
        mark = text("cli.case.show.allowed" if o["allowed"] else "cli.case.show.not_allowed")
        chosen = ", ".join(o.get("params_label", {}).values())
        step = o["trigger_label"] + (f" ({chosen})" if chosen else "")
        dest = f" -> {o['dest_label']}" if o.get("dest_label") else ""
        lines.append(f"  [{mark}] {step}{dest}")
        lines.extend(f"        - {r['text']}" for r in o["reasons"])
    return "\n".join(lines)


STATUS_KEYS = {"ok": "cli.case.show.status.ok", "soon": "cli.case.show.status.soon",
               "overdue": "cli.case.show.status.overdue"}

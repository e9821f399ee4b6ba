"""How `case show` prints a case for a person: without click, so the command line's quick path
(cli.quick) and click's command (cli.case) print it with the same code."""

from __future__ import annotations

from typing import Any


def render_case(v: dict[str, Any]) -> str:
    """`case show` as a person reads it: labels, never ids or field keys."""
    lines = [
        f"Casus {v['case_id']}  school {v['school']}, groep {v['group'] or '-'}",
        f"Leerling: {v['pupil']}" + (f"  ({v['name']})" if v["name"] else ""),
        f"Stand:    {v['state_label']}  (niveau {v['level'] if v['level'] is not None else '-'}, "
        f"versie {v['version']}, proces {v['process']})",
    ]
    if v["closed_at"]:
        lines.append(f"Gesloten: {v['closed_at'][:10]} ({v.get('close_reason_label') or v['close_reason']})")
    for d in v.get("deadlines", []):
        lines.append(f"Termijn:  {d['label']}: uiterlijk {d['due']} ({STATUS_NL.get(d['status'], d['status'])})")
    lines.append("Bewijs:")
    if not v["evidence"]:
        lines.append("  (nog niets vastgelegd)")
    for e in v["evidence"]:
        detail = "; ".join(f"{f['label']}: {f['value']}" for f in e["shown"])
        lines.append(f"  #{e['seq']:<3} {e['date']} {e['kind_label']:<14} niveau {e['level']}: {detail}")
    lines.append("Mogelijke stappen:")
    if not v["options"]:
        lines.append("  (geen)")
    for o in v["options"]:
        mark = "ja " if o["allowed"] else "nee"
        chosen = ", ".join(o.get("params_label", {}).values())
        step = o["trigger_label"] + (f" ({chosen})" if chosen else "")
        dest = f" -> {o['dest_label']}" if o.get("dest_label") else ""
        lines.append(f"  [{mark}] {step}{dest}")
        lines.extend(f"        - {r['text']}" for r in o["reasons"])
    return "\n".join(lines)


STATUS_NL = {"ok": "op tijd", "soon": "binnenkort", "overdue": "verlopen"}

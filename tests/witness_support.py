"""Helpers for the witness tests: a store with a few cases, the witness config, a consistent
rewrite as an administrator with write access would make it, and the mails saved as .eml files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, update

from tests.reminders_support import Inbox, smtp_extra
from tests.tamper import drop_append_only, rows_of
from workflow.adapters.store.tables import cases, events
from workflow.domain.events import canonical_bytes, canonical_json

WITNESS = "accountant@bestuur.example"
PRIVACY = "privacy@de-linde.school.example"


def witness_extra(port: int, *, to: tuple[str, ...] = (WITNESS, PRIVACY), tsa_url: str | None = None,
                  **reminders: Any) -> str:
    """config.toml sections: SMTP on loopback and `[witness]` to the given addresses at 18:00."""
    lines = [smtp_extra(port, **reminders), "[witness]", "to = [" + ", ".join(f'"{a}"' for a in to) + "]",
             'time = "18:00"']
    if tsa_url:
        lines += [f'tsa_url = "{tsa_url}"', "tsa_timeout = 10"]
    return "\n".join(lines) + "\n"


def save_mails(inbox: Inbox, folder: Path) -> list[Path]:
    """Every mail the SMTP server caught, as an .eml file, the way a witness keeps it."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with inbox.lock:
        raws = list(inbox.raw)
    for i, raw in enumerate(raws):
        path = folder / f"controlewaarde-{i}.eml"
        path.write_bytes(raw)
        out.append(path)
    return out


def rewrite_tail(conn: Connection, case_id: str, from_seq: int) -> None:
    """Rewrite the case from `from_seq` on consistently: the first evidence event at or after it
    gets another date, and every hash, link and the projection's head are recomputed, so that the
    store on its own shows nothing (triggers dropped, as an administrator can)."""
    drop_append_only(conn)
    rows = rows_of(conn, case_id)
    target = next(r for r in rows if r.seq >= from_seq and r.type == "evidence_recorded")
    prev = None
    for r in rows:
        payload = r.payload
        if r.seq == target.seq:
            p = json.loads(payload)
            p["date"] = (dt.date.fromisoformat(p["date"]) - dt.timedelta(days=1)).isoformat()
            payload = canonical_json(p)
        if r.seq < target.seq:
            prev = r.hash
            continue
        new = hashlib.sha256(canonical_bytes(
            case_id=r.case_id, seq=r.seq, type=r.type, process_id=r.process_id, process_version=r.process_version,
            actor=r.actor, role=r.role, recorded_at=r.recorded_at, payload_json=payload, prev_hash=prev,
        )).hexdigest()
        conn.execute(update(events).where(events.c.id == r.id).values(payload=payload, prev_hash=prev, hash=new))
        prev = new
    conn.execute(update(cases).where(cases.c.case_id == case_id).values(head_hash=prev))

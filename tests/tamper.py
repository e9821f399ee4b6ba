"""Tampering as an attacker with database access would do it: drop the triggers, edit rows.

Every function works inside the caller's transaction, so a test can tamper, verify on the same
connection, and roll back to try the next tampering on the same store.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from workflow.adapters.store.ddl import drop_append_only_sql
from workflow.adapters.store.tables import cases, events
from workflow.domain.events import canonical_bytes, canonical_json


def drop_append_only(conn: Connection, table: str = "events") -> None:
    """Lift the triggers that make `table` append-only (workflow.adapters.store.ddl), for this transaction."""
    for stmt in drop_append_only_sql(conn.dialect.name, table):
        conn.execute(text(stmt))


def rows_of(conn: Connection, case_id: str) -> list[Any]:
    return list(conn.execute(select(events).where(events.c.case_id == case_id).order_by(events.c.seq)))


def _set(conn: Connection, row_id: int, **values: Any) -> None:
    conn.execute(update(events).where(events.c.id == row_id).values(**values))


def _renumber(conn: Connection, case_id: str, from_seq: int, delta: int) -> None:
    """Shift seq >= from_seq by delta without tripping the unique (case_id, seq) index midway."""
    where = (events.c.case_id == case_id) & (events.c.seq >= from_seq)
    conn.execute(update(events).where(where).values(seq=-(events.c.seq + delta)))
    conn.execute(update(events).where((events.c.case_id == case_id) & (events.c.seq < 0))
                 .values(seq=-events.c.seq))


def tamper(conn: Connection, case_id: str, action: str, i: int, j: int = 0) -> None:
    """Apply one tampering to event index i (0-based) of the case; j picks a partner or variant."""
    drop_append_only(conn)
    rows = rows_of(conn, case_id)
    n = len(rows)
    r = rows[i % n]
    if action == "edit_payload":
        p = json.loads(r.payload)
        p["tampered"] = j
        _set(conn, r.id, payload=canonical_json(p))
    elif action == "edit_payload_value":
        p = json.loads(r.payload)
        p["level"] = (p.get("level") or 0) + 1 if "level" in p else 9
        _set(conn, r.id, payload=canonical_json(p))
    elif action == "edit_actor":
        _set(conn, r.id, actor=r.actor + "x")
    elif action == "edit_role":
        _set(conn, r.id, role="ib" if r.role != "ib" else "leerkracht")
    elif action == "edit_time":
        import datetime as dt

        _set(conn, r.id, recorded_at=r.recorded_at + dt.timedelta(seconds=j + 1))
    elif action == "edit_type":
        _set(conn, r.id, type="evidence_recorded" if r.type != "evidence_recorded" else "transitioned")
    elif action == "edit_hash":
        _set(conn, r.id, hash=hashlib.sha256(f"fake{j}".encode()).hexdigest())
    elif action == "edit_prev":
        _set(conn, r.id, prev_hash=hashlib.sha256(f"fake{j}".encode()).hexdigest())
    elif action == "delete":
        conn.execute(delete(events).where(events.c.id == r.id))
    elif action == "swap":
        other = rows[(i + 1 + j % max(n - 1, 1)) % n]
        if other.id == r.id:
            other = rows[(i + 1) % n]
        _set(conn, r.id, seq=-1)
        _set(conn, other.id, seq=r.seq)
        _set(conn, r.id, seq=other.seq)
    elif action in ("insert", "insert_linked", "duplicate"):
        at = i % (n + 1)  # insert before index `at` (at == n: at the end)
        prev = rows[at - 1].hash if at > 0 else "0" * 64
        seq = at + 1
        if action == "duplicate":
            src = rows[j % n]
            values = {c.name: getattr(src, c.name) for c in events.columns if c.name != "id"}
        else:
            src = rows[at - 1] if at > 0 else rows[0]
            values = {c.name: getattr(src, c.name) for c in events.columns if c.name != "id"}
            values["payload"] = canonical_json({"kind": "signal", "forged": j})
            values["type"] = "evidence_recorded"
            values["prev_hash"] = prev
        values["seq"] = seq
        if action == "insert_linked":
            raw = tuple(values[k] for k in ("case_id", "seq", "type", "process_id", "process_version",
                                            "actor", "role", "recorded_at", "payload", "prev_hash"))
            values["hash"] = hashlib.sha256(canonical_bytes(
                case_id=raw[0], seq=raw[1], type=raw[2], process_id=raw[3], process_version=raw[4],
                actor=raw[5], role=raw[6], recorded_at=raw[7], payload_json=raw[8], prev_hash=raw[9],
            )).hexdigest()
        elif action == "insert":
            values["hash"] = hashlib.sha256(f"forged{j}".encode()).hexdigest()
        if at < n:
            _renumber(conn, case_id, seq, 1)
        conn.execute(insert(events).values(**values))
    elif action == "edit_head":
        conn.execute(update(cases).where(cases.c.case_id == case_id)
                     .values(head_hash=hashlib.sha256(b"head").hexdigest()))
    else:
        raise ValueError(action)


ACTIONS = ("edit_payload", "edit_payload_value", "edit_actor", "edit_role", "edit_time", "edit_type",
           "edit_hash", "edit_prev", "delete", "swap", "insert", "insert_linked", "duplicate",
           "edit_head")

"""Events: the immutable record of a case, and the hash chain that makes tampering visible.

The canonical form is specified in docs/event-chain.md so that an auditor can recompute every
hash with nothing but a language's standard library. Change it only with a new chain version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .clock import iso_utc

GENESIS_HASH = "0" * 64
CHAIN_VERSION = 1


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text (not \\u escapes); floats are not allowed in payloads."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


@dataclass(frozen=True)
class Event:
    case_id: str
    seq: int
    type: str
    process_id: str
    process_version: int
    actor: str
    role: str
    recorded_at: dt.datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        return canonical_bytes(
            case_id=self.case_id, seq=self.seq, type=self.type, process_id=self.process_id,
            process_version=self.process_version, actor=self.actor, role=self.role,
            recorded_at=self.recorded_at, payload_json=canonical_json(self.payload),
            prev_hash=self.prev_hash,
        )


def canonical_bytes(
    *, case_id: str, seq: int, type: str, process_id: str, process_version: int, actor: str,
    role: str, recorded_at: dt.datetime, payload_json: str, prev_hash: str,
) -> bytes:
    """The bytes that are hashed: a fixed JSON object whose payload is the stored payload text.

    Taking the payload as its stored text (not re-serialising a parsed copy) lets verify hash
    exactly what is on disk.
    """
    head = canonical_json({
        "v": CHAIN_VERSION,
        "case_id": case_id,
        "seq": seq,
        "type": type,
        "process": [process_id, process_version],
        "actor": actor,
        "role": role,
        "recorded_at": iso_utc(recorded_at),
        "prev_hash": prev_hash,
    })
    return (head[:-1] + ',"payload":' + payload_json + "}").encode("utf-8")


def chain_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def make_event(
    *, case_id: str, seq: int, type: str, process_id: str, process_version: int, actor: str,
    role: str, recorded_at: dt.datetime, payload: dict[str, Any], prev_hash: str,
) -> Event:
    payload_json = canonical_json(payload)
    digest = chain_hash(canonical_bytes(
        case_id=case_id, seq=seq, type=type, process_id=process_id,
        process_version=process_version, actor=actor, role=role, recorded_at=recorded_at,
        payload_json=payload_json, prev_hash=prev_hash,
    ))
    return Event(case_id, seq, type, process_id, process_version, actor, role, recorded_at,
                 json.loads(payload_json), prev_hash, digest)

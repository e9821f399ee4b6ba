"""Events: the immutable record of a case, and the hash chain that makes tampering visible.

The canonical form is specified in docs/event-chain.md so that an auditor can recompute every
hash with nothing but a language's standard library. Change it only with a new chain version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from workflow.domain.instants import iso_utc

GENESIS_HASH = "0" * 64
CHAIN_VERSION = 1


# Built once: json.dumps with any non-default option builds a new encoder on every call.
# The C scanner (typeshed does not declare the attribute); the text is our own canonical JSON.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)


# The canonical form (docs/event-chain.md) written down once, as a template: the head's keys in
# sorted order, then the payload. Whatever builds the hashed bytes by hand fills this one
# (`canonical_bytes`; verify's fast walk derives its byte form from it). The %s slots take JSON
# text (quoted strings, the payload's own text), except recorded_at, which takes the `iso_utc`
# text that goes between its quotes; the %d slots take integers.
CANONICAL_TEMPLATE = (
    '{"actor":%s,"case_id":%s,"prev_hash":%s,"process":[%s,%d],"recorded_at":"%s","role":%s,'
    '"seq":%d,"type":%s,"v":' + str(CHAIN_VERSION) + ',"payload":%s}'
)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text (not \\u escapes); floats are not allowed in payloads."""
    return _CANONICAL.encode(value)


@dataclass(frozen=True)
class Event:
    """One stored event of a case: its place in the case's hash chain and what happened."""

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
    # The payload's text as it was hashed and is stored, when known (a new event, or one read
    # back from the store): writing it as is saves serialising the payload a second time, and
    # the stored text is then by construction the text the hash covers.
    payload_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def payload_text(self) -> str:
        return self.payload_json if self.payload_json is not None else canonical_json(self.payload)

    def canonical(self) -> bytes:
        return canonical_bytes(
            case_id=self.case_id, seq=self.seq, type=self.type, process_id=self.process_id,
            process_version=self.process_version, actor=self.actor, role=self.role,
            recorded_at=self.recorded_at, payload_json=self.payload_text,
            prev_hash=self.prev_hash,
        )


def restore_event(
    case_id: str, seq: int, type: str, process_id: str, process_version: int, actor: str,
    role: str, recorded_at: dt.datetime, payload: dict[str, Any], prev_hash: str, hash: str,
    payload_json: str | None = None,
) -> Event:
    """The Event that `Event(...)` with these values makes, built without its __init__.

    Why: every command loads its case by building one Event per stored event, and a frozen
    dataclass's __init__ sets each field through object.__setattr__, three times the cost of
    filling the instance's dict. The fields are Event's, in its order (a test compares the two).
    """
    ev = _new(Event)
    d = ev.__dict__
    d["case_id"] = case_id
    d["seq"] = seq
    d["type"] = type
    d["process_id"] = process_id
    d["process_version"] = process_version
    d["actor"] = actor
    d["role"] = role
    d["recorded_at"] = recorded_at
    d["payload"] = payload
    d["prev_hash"] = prev_hash
    d["hash"] = hash
    d["payload_json"] = payload_json
    return ev


_new = object.__new__


def canonical_bytes(
    *, case_id: str, seq: int, type: str, process_id: str, process_version: int, actor: str,
    role: str, recorded_at: dt.datetime, payload_json: str, prev_hash: str,
) -> bytes:
    """The bytes that are hashed: a fixed JSON object whose payload is the stored payload text.

    Taking the payload as its stored text (not re-serialising a parsed copy) lets verify hash
    exactly what is on disk. The head is filled into CANONICAL_TEMPLATE rather than serialised,
    because every command and every verified event passes here: it is byte for byte
    `canonical_json` of the head's dict (`canonical_head_dict`), which the tests compare against.
    """
    if seq.__class__ is not int or process_version.__class__ is not int:  # a bool would print True
        raise TypeError("seq and process_version must be int")
    q = encode_basestring
    return (CANONICAL_TEMPLATE % (
        q(actor), q(case_id), q(prev_hash), q(process_id), process_version, iso_utc(recorded_at),
        q(role), seq, q(type), payload_json,
    )).encode()


def canonical_head_dict(
    *, case_id: str, seq: int, type: str, process_id: str, process_version: int, actor: str,
    role: str, recorded_at: dt.datetime, prev_hash: str,
) -> dict[str, Any]:
    """The head as the specification (docs/event-chain.md) states it, before the payload key."""
    return {
        "v": CHAIN_VERSION,
        "case_id": case_id,
        "seq": seq,
        "type": type,
        "process": [process_id, process_version],
        "actor": actor,
        "role": role,
        "recorded_at": iso_utc(recorded_at),
        "prev_hash": prev_hash,
    }


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
    # The event keeps its own parse of the text it was hashed over, not the caller's dict.
    return restore_event(case_id, seq, type, process_id, process_version, actor, role, recorded_at,
                         _SCAN(payload_json, 0)[0], prev_hash, digest, payload_json)

#!/usr/bin/env python3
"""Check a passend export against docs/event-chain.md, with nothing but Python's standard library.

    python3 verify_export.py EXPORT_DIR [--anchor OLD_MANIFEST ...] [--definitions FOLDER]
                             [--witness ROOTFILE ...]

What is checked, each as the specification (docs/event-chain.md) states it:
  - the folder holds exactly events.jsonl, manifest.json, proofs.jsonl and SHA256SUMS;
    SHA256SUMS has exactly its three lines, and every SHA-256 matches;
  - every line of events.jsonl: UTF-8, one JSON object, ended by "\\n"; exactly the specified
    fields, each of its specified JSON type (no floats anywhere); a known event type with exactly
    its payload fields; sealed values (and nothing else) where the specification says sealed;
    the line's bytes exactly the canonical form plus the hash; the hash recomputed;
  - per case: its events together, cases in case-id order, seq 1, 2, 3, ... and every prev_hash
    equal to the hash before it; case_opened only first; imported only second; nothing after
    case_erased, and only rod_registered and case_erased after the event that closes the case; a
    migrated event under the version it moves to, from the version of the event before it; a
    consent that answers a request (request, request_hash) names an earlier consent_requested of
    the same case with the same scope and text_hash;
  - the manifest: its exact byte form, every field, the counts, each case's entry against the
    events, the definitions used, store_chain_intact true;
  - with --anchor: every case head held by each earlier manifest is still in this export with
    the same hash (the history was extended, not rewritten); the access log did not shrink;
  - with --definitions: each definition file named in the manifest has the SHA-256 it gives;
  - proofs.jsonl: each line a case's inclusion proof in the manifest's witness root, leading to
    that root, its head hash the export's event at that seq; without filters, one per leaf;
  - with --witness: the manifest's witness root is one a witness kept (a saved mail or JSON).

It reads the export as a stream: memory holds one line, one manifest entry and one entry per
anchor, however large the export. Every problem is printed as one line starting with FAIL and
naming the file and line; NOTE lines say what could not be checked.

Exit status: 0 everything holds; 1 at least one FAIL; 2 usage (no such folder, unreadable anchor).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

# ---- the specification, as data ------------------------------------------------------------

EVENTS, MANIFEST, PROOFS, SUMS = "events.jsonl", "manifest.json", "proofs.jsonl", "SHA256SUMS"
FILES = (EVENTS, MANIFEST, PROOFS, SUMS)
SUMMED = (EVENTS, MANIFEST, PROOFS)  # SHA256SUMS' lines, in this order
FORMAT, FORMAT_VERSION, CHAIN_VERSION = "passend-export", 2, 1
WITNESS_FORMAT, TREE = "passend-witness", "rfc6962-sha256"
WITNESS_KEYS = ("access_log", "at", "cases", "day", "events", "format", "root", "tree", "v")
PROOF_KEYS = ("case_id", "head_hash", "index", "path", "seq")
WITNESS_BLOCK = re.compile(r"-----BEGIN PASSEND WITNESS-----\s*(.*?)\s*-----END PASSEND WITNESS-----", re.S)
GENESIS = "0" * 64

# An event line's fields, in the order they stand on the line. The canonical form (what is
# hashed) is the first nine in this (sorted) order, then payload; the line adds hash.
HEAD_KEYS = ("actor", "case_id", "prev_hash", "process", "recorded_at", "role", "seq", "type", "v")
LINE_KEYS = (*HEAD_KEYS, "payload", "hash")

HEX64 = re.compile(r"[0-9a-f]{64}")
CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SEALED_TEXT = re.compile(r"v1\.[A-Za-z0-9_-]+")
SEALED_MIN_BYTES = 12 + 16  # AES-GCM nonce + tag around an empty plaintext

# Payload fields per event type: name -> (value kind, required). Value kinds: see check_value.
PAYLOADS = {
    "case_opened": {
        "school": ("text", True), "state": ("text", True), "level": ("level", True),
        "pupil": ("sealed", True), "name": ("sealed", False), "group": ("group", False),
    },
    "evidence_recorded": {
        "kind": ("text", True), "date": ("date", True), "level": ("level", True),
        "state": ("text", True), "fields": ("object", True), "secret": ("object", True),
    },
    "transitioned": {
        "trigger": ("text", True), "source": ("text", True), "dest": ("text", True),
        "level_from": ("level", True), "level_to": ("level", True), "params": ("params", True),
        "guards": ("texts", True), "close_reason": ("text", False), "ends_opp": ("true", False),
        "adopts_opp": ("true", False), "opp_version": ("seq", False), "opp_hash": ("hash", False),
    },
    "case_erased": {
        "reason": ("text", True), "retention_years": ("count", True), "due": ("date", True),
        "key_destroyed": ("true", True),
    },
    "opp_drafted": {
        "version": ("seq", True), "date": ("date", True), "level": ("level", True), "state": ("text", True),
        "uitstroombestemming": ("text", False), "texts": ("object", True), "goals": ("array", True),
        "handelingsdeel": ("object", True), "evaluation_moments": ("array", True), "hash": ("hash", True),
        "handelingsdeel_hash": ("hash", True),
    },
    "opp_evaluated": {
        "version": ("seq", True), "opp_hash": ("hash", True), "date": ("date", True), "level": ("level", True),
        "state": ("text", True), "outcome": (("voldoende", "onvoldoende"), True), "with_parents": ("bool", True),
        "goals": ("array", True), "secret": ("object", True),
    },
    "rod_registered": {
        "which": (("start", "end"), True), "opp_date": ("date", True), "registered_on": ("date", True),
    },
    "imported": {
        "state": ("text", True), "level": ("level", True), "level_since": ("date", True),
        "state_since": ("date", True), "reason": ("text", True), "opp_adopted_on": ("date", False),
        "rod_start_registered_on": ("date", False),
    },
    "consent_requested": {
        "scope": ("text", True), "date": ("date", True), "level": ("level", True), "state": ("text", True),
        "text_hash": ("hash", True), "secret": ("object", True),
    },
    "migrated": {
        "from_version": ("seq", True), "to_version": ("seq", True), "source": ("text", True), "dest": ("text", True),
        "level_from": ("level", True), "level_to": ("level", True), "states": ("object", True),
    },
}
# The OPP document's parts (opp_drafted): sealed free text by name, goals, results per goal.
OPP_TEXTS = ("rationale", "helping_factors", "hindering_factors", "needs")
OPP_HANDELINGSDEEL = ("support", "who", "frequency", "deviations")
GOAL_RESULTS = ("behaald", "deels_behaald", "niet_behaald")

# evidence_recorded: per kind, its plain `fields` and its sealed `secret` fields, name -> (kind,
# required). A tuple as kind is a choice between those strings. `channel` "online": the parent
# recorded it themselves in the parents' portal (role "ouder").
AREAS = ("lezen", "spelling", "rekenen", "taal", "gedrag", "sociaal_emotioneel", "werkhouding",
         "fysiek", "ontwikkelingsvoorsprong", "anders")
EVIDENCE = {
    "signal": ({"area": (AREAS, True)}, {"note": True}),
    "plan": ({"start": ("date", True), "end": ("date", True), "frequency": ("text", True)},
             {"goals": True, "who": True}),
    "evaluation": ({"outcome": (("voldoende", "onvoldoende"), True), "subject": (("plan", "opp"), True),
                    "with_parents": ("bool", True), "plan": ("seq", False)},
                   {"notes": False}),
    "consent": ({"scope": ("text", True), "status": (("granted", "refused", "revoked"), True),
                 "recipient": ("text", False), "legal_basis": ("text", False), "purpose": ("text", False),
                 "opp_version": ("seq", False), "opp_hash": ("hash", False), "handelingsdeel_hash": ("hash", False),
                 "channel": (("online",), False), "request": ("seq", False), "request_hash": ("hash", False)},
                {"by": True}),
    "view": ({"party": (("ouders", "leerling"), True), "heard": ("bool", True), "channel": (("online",), False)},
             {"text": False, "reason_not_heard": False}),
    "meeting": ({"kind": (("oogo", "bot", "expert", "leerlingbespreking"), True), "with_parents": ("bool", True),
                 "outcome": (("advies", "arrangement", "tlv"), False)},
                {"participants": True, "summary": False}),
    "contact": ({"party": (("ouders", "leerling", "externe"), True),
                 "method": (("gesprek", "telefoon", "email", "brief"), True)},
                {"note": False}),
}

MANIFEST_KEYS = ("format", "format_version", "chain_version", "spec", "created_at", "exported_by", "purpose",
                 "filters", "counts", "store_chain_intact", "files", "export_sha256", "definitions",
                 "access_log", "witness", "cases")
CASE_KEYS = ("case_id", "events", "first_seq", "anchor_prev_hash", "last_seq", "head_hash", "process_versions",
             "school", "store_version", "store_head_hash", "complete")

# Limits that keep the checker's memory bounded; nothing passend writes comes near them.
MAX_LINE = 1 << 20          # one events.jsonl line
MAX_MANIFEST_HEAD = 1 << 20  # the manifest before its case entries
MAX_ENTRY = 1 << 16         # one manifest case entry
MAX_SUMS = 1 << 12          # SHA256SUMS
MAX_PROOF = 1 << 16         # one proofs.jsonl line


class Usage(Exception):
    """Bad arguments or an unusable anchor: exit 2."""


# ---- reporting -----------------------------------------------------------------------------

class Report:
    """Prints each finding as it is found (nothing is kept but counts)."""

    def __init__(self) -> None:
        self.failures = 0

    def fail(self, where: str, what: str) -> None:
        self.failures += 1
        print(f"FAIL {where}: {what}")

    def note(self, what: str) -> None:
        print(f"NOTE {what}")


# ---- values --------------------------------------------------------------------------------

def is_int(value: object) -> bool:
    return type(value) is int  # not bool, not float


def valid_date(text: object) -> bool:
    if not isinstance(text, str) or not DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def valid_instant(text: object) -> bool:
    if not isinstance(text, str) or not INSTANT.fullmatch(text):
        return False
    try:
        dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def sealed_problem(value: object) -> str | None:
    """Why `value` is not a sealed value {"$enc": "v1.<base64url, no padding>"}, or None."""
    if not isinstance(value, dict):
        return f"must be sealed ({{\"$enc\": \"v1....\"}}), found {json_type(value)}"
    if list(value) != ["$enc"]:
        return "a sealed value has exactly one key, \"$enc\""
    text = value["$enc"]
    if not isinstance(text, str) or not SEALED_TEXT.fullmatch(text):
        return "\"$enc\" must be \"v1.\" and base64url without padding"
    b64 = text[3:]
    if len(b64) % 4 == 1:
        return "\"$enc\" is not valid base64url (length)"
    try:
        blob = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    except (binascii.Error, ValueError):
        return "\"$enc\" is not valid base64url"
    if base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=") != b64:
        return "\"$enc\" is not in canonical base64url (stray bits)"
    if len(blob) < SEALED_MIN_BYTES:
        return f"\"$enc\" holds {len(blob)} bytes, fewer than nonce and tag ({SEALED_MIN_BYTES})"
    return None


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def value_problem(value: object, kind: object) -> str | None:
    """Why `value` is not of the specification's value kind `kind`, or None."""
    if isinstance(kind, tuple):  # a choice
        return None if isinstance(value, str) and value in kind else f"must be one of {', '.join(kind)}"
    if kind == "text":
        return None if isinstance(value, str) and value else "must be a non-empty string"
    if kind == "texts":
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        return None if ok else "must be an array of non-empty strings"
    if kind == "level":
        return None if value is None or (is_int(value) and value >= 0) else "must be an integer >= 0 or null"
    if kind == "count":
        return None if is_int(value) and value >= 0 else "must be an integer >= 0"
    if kind == "seq":
        return None if is_int(value) and value >= 1 else "must be an integer >= 1"
    if kind == "group":
        return None if is_int(value) and 1 <= value <= 8 else "must be an integer 1-8"
    if kind == "date":
        return None if valid_date(value) else "must be a date YYYY-MM-DD"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "true":
        return None if value is True else "must be true (the field is left out when false)"
    if kind == "object":
        return None if isinstance(value, dict) else "must be an object"
    if kind == "array":
        return None if isinstance(value, list) else "must be an array"
    if kind == "hash":
        return None if isinstance(value, str) and HEX64.fullmatch(value) else "must be 64 lower-case hex digits"
    if kind == "sealed":
        return sealed_problem(value)
    if kind == "params":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        return None if ok else "must be an object of strings"
    raise AssertionError(kind)


def float_path(value: object, path: str) -> str | None:
    """The path of the first float inside `value` (JSON numbers here are integers only)."""
    if isinstance(value, float):
        return path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = float_path(item, f"{path}.{key}")
        if found:
            return found
    return None


def check_fields(where: str, found: dict, spec: dict, label: str, report: Report) -> None:
    """Exactly the specified names in `found`, each of its kind; spec: name -> (kind, required)."""
    for name in found:
        if name not in spec:
            report.fail(where, f"{label}: unexpected field {name!r}")
    for name, (kind, required) in spec.items():
        if name not in found:
            if required:
                report.fail(where, f"{label}: missing field {name!r}")
            continue
        why = value_problem(found[name], kind)
        if why:
            report.fail(where, f"{label}.{name} {why}")


# ---- one event line ------------------------------------------------------------------------

def reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def canonical(event: dict) -> bytes:
    """The bytes that are hashed: the nine head fields with sorted keys, then payload, no spaces."""
    head = {k: event[k] for k in HEAD_KEYS}
    text = (json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False)[:-1]
            + ',"payload":'
            + json.dumps(event["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "}")
    return text.encode("utf-8")


def parse_line(raw: bytes, where: str, report: Report) -> dict | None:
    """The line as a JSON object, or None (with a finding) when it is not one."""
    if not raw.endswith(b"\n"):
        report.fail(where, "does not end with a newline (the file is cut short?)")
    elif raw.endswith(b"\r\n"):
        report.fail(where, "ends with CR LF; lines end with LF only")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        report.fail(where, f"is not UTF-8 (byte {e.start})")
        return None
    try:
        event = json.loads(text, parse_constant=reject_constant)
    except (ValueError, RecursionError) as e:
        report.fail(where, f"is not JSON ({str(e)[:80]})")
        return None
    if not isinstance(event, dict):
        report.fail(where, f"is {json_type(event)}, not a JSON object")
        return None
    return event


def check_event(event: dict, raw: bytes, where: str, report: Report) -> None:
    """Every rule for one line on its own: fields, types, payload, canonical bytes, hash."""
    keys = list(event)
    for name in keys:
        if name not in LINE_KEYS:
            report.fail(where, f"unexpected field {name!r} (an event has exactly {', '.join(LINE_KEYS)})")
    for name in LINE_KEYS:
        if name not in event:
            report.fail(where, f"missing field {name!r}")
    if not isinstance(event.get("actor"), str) or not event.get("actor"):
        report.fail(where, "actor must be a non-empty string")
    if not isinstance(event.get("role"), str) or not event.get("role"):
        report.fail(where, "role must be a non-empty string")
    cid = event.get("case_id")
    if not isinstance(cid, str) or not CASE_ID.fullmatch(cid):
        report.fail(where, "case_id must be a case id (letters, digits, . _ -; up to 40)")
    seq = event.get("seq")
    if not is_int(seq) or seq < 1:
        report.fail(where, "seq must be an integer >= 1")
    for name in ("prev_hash", "hash"):
        if not (isinstance(event.get(name), str) and HEX64.fullmatch(event[name])):
            report.fail(where, f"{name} must be 64 lower-case hex digits")
    process = event.get("process")
    if not (isinstance(process, list) and len(process) == 2 and isinstance(process[0], str) and process[0]
            and is_int(process[1]) and process[1] >= 1):
        report.fail(where, "process must be [definition id, version >= 1]")
    if not valid_instant(event.get("recorded_at")):
        report.fail(where, "recorded_at must be a UTC instant YYYY-MM-DDTHH:MM:SS.ffffffZ")
    if event.get("v") != CHAIN_VERSION or not is_int(event.get("v")):
        report.fail(where, f"v must be {CHAIN_VERSION} (this checker knows chain version {CHAIN_VERSION} only)")
    found = float_path(event, "event")
    if found:
        report.fail(where, f"{found} is a float; numbers in the chain are integers")
    check_payload(event, where, report)

    if keys != list(LINE_KEYS):
        return  # no canonical form to rebuild; the field findings above say why
    try:
        form = canonical(event)
    except (UnicodeEncodeError, ValueError):
        report.fail(where, "holds a string that is not valid Unicode (a lone surrogate)")
        return
    expected = form[:-1] + b',"hash":' + json.dumps(event["hash"]).encode("ascii") + b"}\n"
    if raw.rstrip(b"\r\n") != expected[:-1]:
        report.fail(where, "is not in canonical form (same JSON, other bytes: spacing, key order, escapes or "
                           "number form)")
    if hashlib.sha256(form).hexdigest() != event["hash"]:
        report.fail(where, "hash does not match the canonical form (the event was changed)")


def check_payload(event: dict, where: str, report: Report) -> None:
    kind = event.get("type")
    payload = event.get("payload")
    if kind not in PAYLOADS:
        report.fail(where, f"unknown event type {kind!r} (known: {', '.join(PAYLOADS)})")
        return
    if not isinstance(payload, dict):
        report.fail(where, "payload must be an object")
        return
    check_fields(where, payload, PAYLOADS[kind], "payload", report)
    for problem in later_payload_problems(kind, payload):
        report.fail(where, problem)
    if kind != "evidence_recorded" or payload.get("kind") not in EVIDENCE:
        if kind == "evidence_recorded":
            report.fail(where, f"payload.kind: unknown evidence kind {payload.get('kind')!r}")
        return
    plain_spec, secret_spec = EVIDENCE[payload["kind"]]
    fields, secret = payload.get("fields"), payload.get("secret")
    if isinstance(fields, dict):
        check_fields(where, fields, plain_spec, "payload.fields", report)
    if isinstance(secret, dict):
        check_fields(where, secret, {k: ("sealed", req) for k, req in secret_spec.items()},
                     "payload.secret", report)
    if isinstance(fields, dict) and isinstance(secret, dict):
        evidence_rule = evidence_rule_problem(payload["kind"], fields, secret)
        if evidence_rule:
            report.fail(where, evidence_rule)


def later_payload_problems(kind: str, p: dict) -> list[str]:
    """The nested parts of the OPP, ROD, import and migration payloads (docs/event-chain.md)."""
    out: list[str] = []

    def sealed_object(name: str, allowed: tuple[str, ...]) -> None:
        value = p.get(name)
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            if key not in allowed:
                out.append(f"payload.{name}: unexpected field {key!r}")
            elif sealed_problem(item):
                out.append(f"payload.{name}.{key} {sealed_problem(item)}")

    if kind == "opp_drafted":
        sealed_object("texts", OPP_TEXTS)
        sealed_object("handelingsdeel", OPP_HANDELINGSDEEL)
        for i, goal in enumerate(p.get("goals") if isinstance(p.get("goals"), list) else []):
            if not isinstance(goal, dict) or sorted(goal) != ["area", "text"]:
                out.append(f"payload.goals[{i}] must be an object with exactly area and text")
            elif value_problem(goal["area"], AREAS) or sealed_problem(goal["text"]):
                out.append(f"payload.goals[{i}]: area must be one of {', '.join(AREAS)} and text sealed")
        moments = p.get("evaluation_moments") if isinstance(p.get("evaluation_moments"), list) else []
        if not all(valid_date(m) for m in moments) or moments != sorted(set(moments)):
            out.append("payload.evaluation_moments must be dates YYYY-MM-DD, ascending, each once")
    elif kind == "opp_evaluated":
        sealed_object("secret", ("notes",))
        for i, goal in enumerate(p.get("goals") if isinstance(p.get("goals"), list) else []):
            if not isinstance(goal, dict) or sorted(goal) != ["goal", "reached"] or value_problem(
                    goal.get("goal"), "seq") or value_problem(goal.get("reached"), GOAL_RESULTS):
                out.append(f"payload.goals[{i}] must be {{\"goal\": integer >= 1, \"reached\": one of "
                           f"{', '.join(GOAL_RESULTS)}}}")
    elif kind == "consent_requested":
        secret = p.get("secret")
        if isinstance(secret, dict) and "text" not in secret:
            out.append("payload.secret: missing field 'text'")
        sealed_object("secret", ("text",))
    elif kind == "rod_registered":
        if valid_date(p.get("opp_date")) and valid_date(p.get("registered_on")) and \
                p["registered_on"] < p["opp_date"]:
            out.append("payload.registered_on lies before payload.opp_date")
    elif kind == "imported":
        if "rod_start_registered_on" in p and "opp_adopted_on" not in p:
            out.append("payload.rod_start_registered_on is present only with opp_adopted_on")
    elif kind == "migrated":
        states = p.get("states")
        if isinstance(states, dict) and not all(isinstance(v, str) and v for v in states.values()):
            out.append("payload.states must be an object of non-empty strings")
        if is_int(p.get("from_version")) and is_int(p.get("to_version")) and p["from_version"] >= p["to_version"]:
            out.append("payload.to_version must be higher than from_version")
    return out


def evidence_rule_problem(kind: str, fields: dict, secret: dict) -> str | None:
    """The rules that tie an evidence record's fields together (docs/event-chain.md)."""
    if kind == "consent" and len({"opp_version", "opp_hash", "handelingsdeel_hash"} & set(fields)) not in (0, 3):
        return "payload.fields.opp_version, opp_hash and handelingsdeel_hash are present together or not at all"
    if kind == "consent" and len({"request", "request_hash"} & set(fields)) not in (0, 2):
        return "payload.fields.request and request_hash are present together or not at all"
    if kind == "consent" and "request" in fields and fields.get("channel") != "online":
        return "payload.fields.request is present only with channel \"online\""
    if kind == "evaluation" and ("plan" in fields) != (fields.get("subject") == "plan"):
        return "payload.fields.plan is present exactly when subject is \"plan\""
    if kind == "view":
        if ("text" in secret) == ("reason_not_heard" in secret):
            return "payload.secret holds exactly one of text and reason_not_heard"
        if fields.get("heard") is not ("text" in secret):
            return "payload.fields.heard must be true exactly when payload.secret holds text"
    if kind == "meeting":
        if ("outcome" in fields) != (fields.get("kind") == "bot"):
            return "payload.fields.outcome is present exactly when kind is \"bot\""
        if fields.get("with_parents") is not (fields.get("kind") in ("oogo", "bot")):
            return "payload.fields.with_parents must be true exactly for an oogo or bot meeting"
    return None


# ---- the manifest, read in its exact byte form ---------------------------------------------

class ManifestReader:
    """Reads a manifest as specified: `json.dumps(manifest, ensure_ascii=False, indent=2)` plus a
    newline, `cases` last. The part before `cases` (the head) is read whole; the case entries
    one at a time, so a manifest of a million cases needs no more memory than one of three.

    Every deviation from that form is a finding; after one, the rest is not read (`broken`).
    """

    def __init__(self, path: Path, label: str, report: Report) -> None:
        self.path, self.label, self.report = path, label, report
        self.fh = path.open("rb")
        self.sha = hashlib.sha256()
        self.line_no = 0
        self.broken = False
        self.done = False
        self.entries = 0
        self.last_id: str | None = None  # the last case id taken in order
        self.pending_entry: tuple[int, dict] | None = None  # read ahead while the events catch up
        self.head = self._read_head()

    def close(self) -> None:
        self.fh.close()

    def _fail(self, what: str) -> None:
        self.report.fail(f"{self.label} line {self.line_no}", what)
        self.broken = True

    def _line(self, limit: int) -> str | None:
        raw = self.fh.readline(limit + 1)
        self.sha.update(raw)
        if not raw:
            return None
        self.line_no += 1
        if len(raw) > limit:
            self._fail("line too long")
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._fail("is not UTF-8")
            return None

    def _read_head(self) -> dict | None:
        lines, size = [], 0
        while True:
            line = self._line(MAX_MANIFEST_HEAD)
            if line is None:
                if not self.broken:
                    self._fail('no "cases" list: not the specified form (json.dumps, indent=2, cases last)')
                return None
            if line in ('  "cases": [\n', '  "cases": []\n'):
                self.done = line.endswith("[]\n")
                break
            lines.append(line)
            size += len(line)
            if size > MAX_MANIFEST_HEAD:
                self._fail("the part before \"cases\" is too large")
                return None
        text = "".join(lines)
        if not (text.startswith("{\n") and text.endswith(",\n")):
            self._fail("not the specified form (json.dumps, indent=2, cases last)")
            return None
        text = text[:-2] + "\n}"
        try:
            head = json.loads(text, parse_constant=reject_constant)
        except (ValueError, RecursionError) as e:
            self._fail(f"is not JSON ({str(e)[:80]})")
            return None
        if not isinstance(head, dict) or not same_form(head, text):
            self._fail("not in the specified byte form (json.dumps with ensure_ascii=False, indent=2)")
            return None
        if self.done:
            self._expect_end(("}\n",))
        return head

    def _expect_end(self, tail: tuple[str, ...]) -> None:
        for want in tail:
            if self.broken:
                return
            if self._line(16) != want:
                self._fail(f"expected {want!r} here")
                return
        if self.fh.read(1):
            self._fail("bytes after the end of the manifest")

    def next_entry(self) -> tuple[int, dict] | None:
        """(line number, entry) of the next case entry, or None at the end (or once broken)."""
        if self.done or self.broken or self.head is None:
            return None
        first = self._line(MAX_ENTRY)
        start = self.line_no
        if first != "    {\n":
            if first is not None:
                self._fail("expected a case entry (\"    {\")")
            elif not self.broken:
                self._fail("the manifest ends inside its cases list")
            return None
        lines, size = ["{\n"], 0
        while True:
            line = self._line(MAX_ENTRY)
            if line is None:
                if not self.broken:
                    self._fail("the manifest ends inside a case entry")
                return None
            size += len(line)
            if size > MAX_ENTRY:
                self._fail("case entry too large")
                return None
            if not line.startswith("    "):
                self._fail("not the specified form (entries are indented by 4)")
                return None
            if line in ("    }\n", "    },\n"):
                last = line == "    }\n"
                lines.append("}")
                break
            lines.append(line[4:])
        text = "".join(lines)
        try:
            entry = json.loads(text, parse_constant=reject_constant)
        except (ValueError, RecursionError) as e:
            self._fail(f"case entry is not JSON ({str(e)[:80]})")
            return None
        if not isinstance(entry, dict) or not same_form(entry, text):
            self._fail("case entry not in the specified byte form")
            return None
        if last:
            self.done = True
            self._expect_end(("  ]\n", "}\n"))
        self.entries += 1
        return start, entry


def same_form(value: dict, text: str) -> bool:
    """Whether `text` is the specified byte form of `value` (json.dumps, indent=2)."""
    try:
        return json.dumps(value, ensure_ascii=False, indent=2) == text
    except RecursionError:
        return False


def check_head(head: dict, where: str, report: Report) -> None:
    """The manifest's fields other than `cases` (docs/event-chain.md, "The manifest")."""
    keys = [k for k in head]
    want = list(MANIFEST_KEYS[:-1])
    if keys != want:
        extra = [k for k in keys if k not in want]
        missing = [k for k in want if k not in keys]
        report.fail(where, f"fields differ from the specification (unexpected: {extra or 'none'}, "
                           f"missing: {missing or 'none'}{', or out of order' if not extra and not missing else ''})")
    get = head.get
    rules = [
        ("format", get("format") == FORMAT, f'must be "{FORMAT}"'),
        ("format_version", is_int(get("format_version")) and get("format_version") == FORMAT_VERSION,
         f"must be {FORMAT_VERSION} (this checker knows version {FORMAT_VERSION} only)"),
        ("chain_version", is_int(get("chain_version")) and get("chain_version") == CHAIN_VERSION,
         f"must be {CHAIN_VERSION} (this checker knows chain version {CHAIN_VERSION} only)"),
        ("spec", get("spec") == "docs/event-chain.md", 'must be "docs/event-chain.md"'),
        ("created_at", valid_instant(get("created_at")), "must be a UTC instant YYYY-MM-DDTHH:MM:SS.ffffffZ"),
        ("exported_by", isinstance(get("exported_by"), str) and get("exported_by"), "must be a non-empty string"),
        ("purpose", isinstance(get("purpose"), str) and get("purpose"), "must be a non-empty string"),
        ("store_chain_intact", get("store_chain_intact") is True,
         "must be true: passend itself found a broken chain or projection while exporting"),
        ("export_sha256", isinstance(get("export_sha256"), str) and HEX64.fullmatch(get("export_sha256")),
         "must be 64 lower-case hex digits"),
    ]
    for name, ok, what in rules:
        if name in head and not ok:
            report.fail(where, f"{name} {what}")
    f = get("filters")
    if not (isinstance(f, dict) and list(f) == ["school", "schools", "since"]):
        report.fail(where, "filters must be {school, schools, since}")
    else:
        if f["school"] is not None and not (isinstance(f["school"], str) and f["school"]):
            report.fail(where, "filters.school must be a school id or null")
        if f["schools"] is not None and not (isinstance(f["schools"], list)
                                             and all(isinstance(s, str) and s for s in f["schools"])):
            report.fail(where, "filters.schools must be a list of school ids or null")
        if f["school"] is not None and f["schools"] != [f["school"]]:
            report.fail(where, "filters.schools must be [filters.school] when a school is given")
        if f["since"] is not None and not valid_date(f["since"]):
            report.fail(where, "filters.since must be a date YYYY-MM-DD or null")
    c = get("counts")
    if not (isinstance(c, dict) and list(c) == ["cases", "events"] and all(is_int(v) and v >= 0 for v in c.values())):
        report.fail(where, "counts must be {cases, events}, integers >= 0")
    files = get("files")
    if not (isinstance(files, dict) and list(files) == [EVENTS, PROOFS]
            and all(isinstance(files[n], dict) and list(files[n]) == ["sha256", "lines"]
                    and isinstance(files[n]["sha256"], str) and HEX64.fullmatch(files[n]["sha256"])
                    and is_int(files[n]["lines"]) for n in (EVENTS, PROOFS))):
        report.fail(where, 'files must be {"events.jsonl": {sha256, lines}, "proofs.jsonl": {sha256, lines}}')
    elif files[EVENTS]["sha256"] != get("export_sha256"):
        report.fail(where, "export_sha256 differs from files.events.jsonl.sha256")
    defs = get("definitions")
    if not isinstance(defs, list) or not all(definition_ok(d) for d in defs):
        report.fail(where, "definitions must be a list of {id, version, installed[, title, file, sha256]}")
    elif [(d["id"], d["version"]) for d in defs] != sorted({(d["id"], d["version"]) for d in defs}):
        report.fail(where, "definitions must be sorted by (id, version), each once")
    a = get("access_log")
    if not (isinstance(a, dict) and list(a) == ["records", "head_hash"] and is_int(a["records"])
            and a["records"] >= 0 and isinstance(a["head_hash"], str) and HEX64.fullmatch(a["head_hash"])):
        report.fail(where, "access_log must be {records, head_hash}")
    elif a["records"] == 0 and a["head_hash"] != GENESIS:
        report.fail(where, "access_log.head_hash must be 64 zeros when the log has no records")
    if "witness" in head and head["witness"] is not None and witness_problem(head["witness"]) is not None:
        report.fail(where, f"witness: {witness_problem(head['witness'])}")


# ---- witness roots and inclusion proofs (docs/event-chain.md, "Witnessing") ------------------

def witness_problem(w: object) -> str | None:
    """Why `w` is not a witness record, or None."""
    if not isinstance(w, dict) or sorted(w) != list(WITNESS_KEYS):
        return f"must be null or an object with exactly {', '.join(WITNESS_KEYS)}"
    a = w["access_log"]
    if not (w["format"] == WITNESS_FORMAT and is_int(w["v"]) and w["v"] == 1 and w["tree"] == TREE
            and valid_date(w["day"]) and valid_instant(w["at"]) and isinstance(w["root"], str)
            and HEX64.fullmatch(w["root"]) and is_int(w["cases"]) and w["cases"] >= 0 and is_int(w["events"])
            and w["events"] >= 0 and isinstance(a, dict) and sorted(a) == ["head_hash", "records"]
            and is_int(a["records"]) and a["records"] >= 0 and isinstance(a["head_hash"], str)
            and HEX64.fullmatch(a["head_hash"])):
        return f'a field has the wrong type or value (format "{WITNESS_FORMAT}", v 1, tree "{TREE}")'
    return None


def leaf_hash(case_id: str, seq: int, head_hash: str) -> bytes:
    data = json.dumps({"case_id": case_id, "head_hash": head_hash, "seq": seq}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(leaf: bytes, index: int, size: int, path: list) -> str | None:
    """RFC 9162 section 2.1.3.2: the root `path` leads to from leaf `index` of `size`, or None."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        sibling = bytes.fromhex(p)
        if fn & 1 or fn == sn:
            r = node_hash(sibling, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, sibling)
        fn >>= 1
        sn >>= 1
    return r.hex() if sn == 0 else None


def witness_records(path: Path) -> list[dict]:
    """The witness records in a saved mail (.eml), a JSON file (one record or a list) or a folder
    of them. Raises Usage when there are none."""
    import email
    from email import policy

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".eml", ".json"))
        return [r for f in files for r in witness_records(f)]
    try:
        data = path.read_bytes()
    except OSError as e:
        raise Usage(f"cannot read --witness {path}: {e.strerror}") from None
    found: list = []
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            parsed = json.loads(data.decode("utf-8"), parse_constant=reject_constant)
        except (ValueError, RecursionError):
            raise Usage(f"--witness {path} is not JSON") from None
        found = parsed if isinstance(parsed, list) else [parsed]
    else:
        msg = email.message_from_bytes(data, policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() != "text/plain":
                continue
            try:
                text = part.get_content()
            except (LookupError, ValueError):  # an unknown charset, a broken transfer encoding
                continue
            for m in WITNESS_BLOCK.finditer(text):
                try:
                    found.append(json.loads(m.group(1), parse_constant=reject_constant))
                except (ValueError, RecursionError):
                    raise Usage(f"--witness {path}: the witness block is not JSON") from None
    if not found or any(witness_problem(r) is not None for r in found):
        raise Usage(f"--witness {path} holds no passend witness record")
    return found


class Proofs:
    """proofs.jsonl, read in step with the cases of events.jsonl (both in case-id order)."""

    def __init__(self, path: Path, witness: dict | None, report: Report) -> None:
        self.fh = path.open("rb")
        self.witness, self.report = witness, report
        self.sha = hashlib.sha256()
        self.lines = 0
        self.last_index = -1
        self.last_id: str | None = None
        self.unchecked = 0  # proofs of a seq before the export's first event (--since)
        self.pending: tuple[int, dict] | None = None
        self.done = False

    def _next(self) -> tuple[int, dict] | None:
        while not self.done:
            raw = self.fh.readline(MAX_PROOF + 1)
            if not raw:
                self.done = True
                return None
            self.sha.update(raw)
            self.lines += 1
            where = f"{PROOFS} line {self.lines}"
            if len(raw) > MAX_PROOF or not raw.endswith(b"\n"):
                self.report.fail(where, "too long, or not ended by a line feed")
                continue
            try:
                p = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
            except (UnicodeDecodeError, ValueError, RecursionError):
                self.report.fail(where, "is not a JSON object in UTF-8")
                continue
            if not (isinstance(p, dict) and sorted(p) == list(PROOF_KEYS) and isinstance(p["case_id"], str)
                    and CASE_ID.fullmatch(p["case_id"]) and is_int(p["seq"]) and p["seq"] >= 1 and is_int(p["index"])
                    and isinstance(p["head_hash"], str) and HEX64.fullmatch(p["head_hash"])
                    and isinstance(p["path"], list) and len(p["path"]) <= 64
                    and all(isinstance(h, str) and HEX64.fullmatch(h) for h in p["path"])):
                self.report.fail(where, f"a proof has exactly {', '.join(PROOF_KEYS)}, of the specified types")
                continue
            if raw != json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n":
                self.report.fail(where, "not in canonical form (sorted keys, no spaces)")
            if self.last_id is not None and p["case_id"] <= self.last_id:
                self.report.fail(where, "proofs must be in increasing case-id order, one per case")
                continue
            self.last_id = p["case_id"]
            self.check_path(p, where)
            return self.lines, p
        return None

    def check_path(self, p: dict, where: str) -> None:
        w = self.witness
        if w is None:
            self.report.fail(where, "a proof, but the manifest has no witness root")
            return
        if p["index"] <= self.last_index:
            self.report.fail(where, "proof indexes must increase with the case id (the tree's leaf order)")
        self.last_index = p["index"]
        leaf = leaf_hash(p["case_id"], p["seq"], p["head_hash"])
        if root_from_proof(leaf, p["index"], w["cases"], p["path"]) != w["root"]:
            self.report.fail(where, f"({p['case_id']}) the proof does not lead to the witness root of {w['day']}")

    def peek(self) -> tuple[int, dict] | None:
        if self.pending is None:
            self.pending = self._next()
        return self.pending

    def before(self, case_id: str | None) -> None:
        """Proofs of cases before `case_id` (None: all that are left): not in the export."""
        while (found := self.peek()) is not None and (case_id is None or found[1]["case_id"] < case_id):
            self.pending = None
            self.report.fail(f"{PROOFS} line {found[0]} ({found[1]['case_id']})",
                             "a proof of a case that is not in this export")

    def take(self, case_id: str) -> dict | None:
        found = self.peek()
        if found is not None and found[1]["case_id"] == case_id:
            self.pending = None
            return found[1]
        return None


def definition_ok(d: object) -> bool:
    if not isinstance(d, dict):
        return False
    if list(d) == ["id", "version", "installed"]:
        return isinstance(d["id"], str) and d["id"] != "" and is_int(d["version"]) and d["version"] >= 1 \
            and d["installed"] is False
    return (list(d) == ["id", "version", "installed", "title", "file", "sha256"]
            and isinstance(d["id"], str) and d["id"] and is_int(d["version"]) and d["version"] >= 1
            and d["installed"] is True and isinstance(d["title"], str) and isinstance(d["file"], str)
            and d["file"] != "" and "/" not in d["file"] and "\\" not in d["file"] and d["file"] not in (".", "..")
            and (d["sha256"] is None or (isinstance(d["sha256"], str) and HEX64.fullmatch(d["sha256"]) is not None)))


def entry_problems(e: dict) -> list[str]:
    """Why a case entry is not of the specified shape (its agreement with the events comes later)."""
    if list(e) != list(CASE_KEYS):
        extra = [k for k in e if k not in CASE_KEYS]
        missing = [k for k in CASE_KEYS if k not in e]
        return [f"case entry fields differ from the specification (unexpected: {extra or 'none'}, "
                f"missing: {missing or 'none'})"]
    out = []
    if not (isinstance(e["case_id"], str) and CASE_ID.fullmatch(e["case_id"])):
        out.append("case_id must be a case id")
    for name in ("events", "first_seq", "last_seq"):
        if not (is_int(e[name]) and e[name] >= (0 if name == "events" else 1)):
            out.append(f"{name} must be a positive integer")
    for name in ("anchor_prev_hash", "head_hash"):
        if not (isinstance(e[name], str) and HEX64.fullmatch(e[name])):
            out.append(f"{name} must be 64 lower-case hex digits")
    pv = e["process_versions"]
    if not (isinstance(pv, list) and all(is_int(v) for v in pv) and pv == sorted(set(pv))):
        out.append("process_versions must be a sorted list of distinct integers")
    if e["school"] is not None and not (isinstance(e["school"], str) and e["school"]):
        out.append("school must be a school id or null")
    if e["store_version"] is not None and not is_int(e["store_version"]):
        out.append("store_version must be an integer or null")
    if e["store_head_hash"] is not None and not (isinstance(e["store_head_hash"], str)
                                                 and HEX64.fullmatch(e["store_head_hash"])):
        out.append("store_head_hash must be 64 lower-case hex digits or null")
    if not isinstance(e["complete"], bool):
        out.append("complete must be true or false")
    return out


# ---- the events file, case by case ---------------------------------------------------------

class CaseWalk:
    """What one case's run of lines showed, to compare with its manifest entry and anchors."""

    def __init__(self, case_id: str, line: int) -> None:
        self.case_id, self.first_line = case_id, line
        self.events = 0
        self.first_seq: int | None = None
        self.first_prev: str | None = None
        self.last_seq = 0
        self.head = GENESIS
        self.versions: set[int] = set()
        self.school: str | None = None
        self.closed = False
        self.erased = False
        self.last_version: int | None = None  # the process version of the case's event before
        self.in_order = True  # False: the case came out of case-id order (not compared further)
        self.anchors: list[tuple[Anchor, dict]] = []
        self.anchor_hashes: dict[int, tuple[int, str]] = {}  # seq an anchor names -> (line, hash)
        self.proof: dict | None = None  # its line of proofs.jsonl
        self.proof_hash: str | None = None  # the hash of its event at the proof's seq
        self.requests: dict[int, tuple[object, object]] = {}  # consent_requested: seq -> (scope, text_hash)


class Anchor:
    """An earlier manifest whose case heads this export must extend."""

    def __init__(self, path: Path, report: Report) -> None:
        self.path = path
        self.label = f"anchor {path}"
        try:
            self.reader = ManifestReader(path, self.label, report)
        except OSError as e:
            raise Usage(f"cannot read anchor {path}: {e.strerror}") from None
        head = self.reader.head
        if head is None or head.get("format") != FORMAT or head.get("chain_version") != CHAIN_VERSION:
            raise Usage(f"{path} is not a passend export manifest (format {FORMAT}, chain version {CHAIN_VERSION})")
        self.report = report
        self.created_at = head.get("created_at")
        self.access_log = head.get("access_log")
        self.confirmed = 0
        self.uncovered = 0
        self.last_id: str | None = None
        self.pending = self._next()

    def _next(self) -> tuple[int, dict] | None:
        """The anchor's next case entry, checked for shape and order (a bad one ends the anchor)."""
        found = self.reader.next_entry()
        if found is None:
            return None
        line, entry = found
        problems = entry_problems(entry)
        cid = entry.get("case_id")
        if not problems and self.last_id is not None and cid <= self.last_id:
            problems = ["case entries must be in increasing case-id order"]
        for why in problems:
            self.report.fail(f"{self.label} line {line}", f"{why}; the rest of this anchor is not used")
        if problems:
            self.reader.broken = True
            return None
        self.last_id = cid
        return found

    def entries_before(self, case_id: str | None) -> Iterator[tuple[int, dict]]:
        """The anchor's entries for cases before `case_id` (None: all that are left)."""
        while self.pending is not None and (case_id is None or self.pending[1]["case_id"] < case_id):
            found = self.pending
            self.pending = self._next()
            yield found

    def take(self, case_id: str) -> dict | None:
        """The anchor's entry for `case_id`, when it holds one."""
        if self.pending is not None and self.pending[1]["case_id"] == case_id:
            entry = self.pending[1]
            self.pending = self._next()
            return entry
        return None


class Checker:
    def __init__(self, folder: Path, anchors: list[Anchor], definitions: Path | None, report: Report,
                 pinned: list[dict] | None = None) -> None:
        self.folder, self.anchors, self.definitions, self.report = folder, anchors, definitions, report
        self.pinned = pinned  # --witness: the roots the witnesses kept
        self.proofs: Proofs | None = None
        self.manifest: ManifestReader | None = None
        self.head: dict | None = None
        self.filters: dict = {}
        self.since_instant: str | None = None
        self.lines = 0
        self.cases = 0
        self.last_case_id: str | None = None
        self.seen_versions: set[tuple[str, int]] = set()
        self.events_sha: str | None = None

    # -- the folder and SHA256SUMS --
    def check_folder(self) -> dict[str, str]:
        for entry in os.scandir(self.folder):
            if entry.name not in FILES:
                self.report.fail(f"{entry.name}", "not part of an export (a folder holds exactly "
                                                  f"{', '.join(FILES)})")
            elif entry.is_symlink() or not entry.is_file():
                self.report.fail(entry.name, "not a regular file")
        for name in FILES:
            if not (self.folder / name).is_file():
                self.report.fail(name, "missing")
        return self.read_sums()

    def read_sums(self) -> dict[str, str]:
        path = self.folder / SUMS
        if not path.is_file():
            return {}
        with path.open("rb") as fh:
            data = fh.read(MAX_SUMS + 1)
        if len(data) > MAX_SUMS:
            self.report.fail(SUMS, "too large for three lines")
            return {}
        sums: dict[str, str] = {}
        lines = data.split(b"\n")
        if lines[-1] != b"":
            self.report.fail(SUMS, "does not end with a newline")
        lines = lines[:-1] if lines[-1] == b"" else lines
        want = SUMMED
        for number, raw in enumerate(lines, 1):
            m = re.fullmatch(rb"([0-9a-f]{64})  ([A-Za-z0-9._-]+)", raw)
            if m is None:
                self.report.fail(f"{SUMS} line {number}", 'not "<64 lower-case hex>  <file name>" (two spaces)')
                continue
            name = m.group(2).decode("ascii")
            if number > len(want) or name != want[number - 1]:
                self.report.fail(f"{SUMS} line {number}",
                                 f"{name}: expected exactly {', '.join(SUMMED)}, in that order")
            if name in sums:
                continue
            sums[name] = m.group(1).decode("ascii")
        for name in want:
            if name not in sums:
                self.report.fail(SUMS, f"no line for {name}")
        return sums

    # -- the manifest's head --
    def open_manifest(self) -> None:
        path = self.folder / MANIFEST
        if not path.is_file():
            return
        self.manifest = ManifestReader(path, MANIFEST, self.report)
        self.head = self.manifest.head
        if self.head is None:
            self.report.note("the manifest could not be read: events are checked on their own")
            return
        check_head(self.head, MANIFEST, self.report)
        w = self.head.get("witness")
        w = w if witness_problem(w) is None else None
        if (self.folder / PROOFS).is_file():
            self.proofs = Proofs(self.folder / PROOFS, w, self.report)
        if self.pinned is not None:
            self.check_pinned(w)
        f = self.head.get("filters")
        self.filters = f if isinstance(f, dict) else {}
        since = self.filters.get("since")
        if valid_date(since):
            self.since_instant = since_instant(dt.date.fromisoformat(since))

    # -- the events --
    def walk_events(self) -> None:
        path = self.folder / EVENTS
        if not path.is_file():
            return
        sha = hashlib.sha256()
        case: CaseWalk | None = None
        with path.open("rb") as fh:
            number = 0
            while True:
                raw = fh.readline(MAX_LINE + 1)
                if not raw:
                    break
                number += 1
                sha.update(raw)
                where = f"{EVENTS} line {number}"
                if len(raw) > MAX_LINE:
                    self.report.fail(where, f"longer than {MAX_LINE} bytes; not checked")
                    while not raw.endswith(b"\n"):
                        raw = fh.readline(MAX_LINE + 1)
                        if not raw:
                            break
                        sha.update(raw)
                    continue
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    self.report.fail(where, "starts with a byte order mark")
                if raw.strip() == b"":
                    self.report.fail(where, "is empty")
                    continue
                event = parse_line(raw, where, self.report)
                if event is None:
                    continue
                cid = event.get("case_id")
                seq = event.get("seq")
                if isinstance(cid, str) and is_int(seq):
                    where = f"{EVENTS} line {number} ({cid} seq {seq})"
                try:
                    check_event(event, raw, where, self.report)
                except RecursionError:  # JSON nested deeper than Python's stack: not an event
                    self.report.fail(where, "is nested too deeply to be an event")
                    continue
                if not isinstance(cid, str):
                    continue
                if case is None or cid != case.case_id:
                    if case is not None:
                        self.finish_case(case)
                    case = self.start_case(cid, number, where)
                self.follow(case, event, number, where)
        if case is not None:
            self.finish_case(case)
        self.lines = number
        self.events_sha = sha.hexdigest()

    def start_case(self, cid: str, number: int, where: str) -> CaseWalk:
        case = CaseWalk(cid, number)
        self.cases += 1
        if self.last_case_id is not None and cid <= self.last_case_id:
            case.in_order = False  # a case already passed, or one that should have come earlier
            self.report.fail(where, f"{cid} follows {self.last_case_id}: a case's events stand together and cases "
                                    "follow in increasing case-id order (events split or moved)")
            return case
        self.last_case_id = cid
        if self.proofs is not None:
            self.proofs.before(cid)
            case.proof = self.proofs.take(cid)
        for anchor in self.anchors:
            for line, entry in anchor.entries_before(cid):
                self.anchor_absent(anchor, line, entry)
            entry = anchor.take(cid)
            if entry is not None:
                case.anchors.append((anchor, entry))
        return case

    def follow(self, case: CaseWalk, event: dict, number: int, where: str) -> None:
        """One event in its case's chain."""
        seq, kind, payload = event.get("seq"), event.get("type"), event.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        if case.events == 0:
            case.first_seq, case.first_prev = seq, event.get("prev_hash")
            if seq == 1 and event.get("prev_hash") != GENESIS:
                self.report.fail(where, "the first event's prev_hash must be 64 zeros")
            if seq != 1 and self.head is not None and self.filters.get("since") is None:
                self.report.fail(where, f"{case.case_id} starts at seq {seq}; an export without since starts "
                                        "every case at seq 1")
        else:
            if seq != case.last_seq + 1:
                self.report.fail(where, f"seq {seq} where {case.last_seq + 1} belongs (an event is missing, "
                                        "repeated or moved)")
            if event.get("prev_hash") != case.head:
                self.report.fail(where, "prev_hash is not the hash of the event before it")
        if kind == "case_opened" and seq != 1:
            self.report.fail(where, "case_opened only at seq 1")
        if seq == 1 and kind != "case_opened":
            self.report.fail(where, "seq 1 must be case_opened")
        if case.erased:
            self.report.fail(where, "an event after case_erased (case_erased is the last event of its case)")
        elif case.closed and kind not in ("case_erased", "rod_registered"):
            self.report.fail(where, "an event after the event that closed the case (only rod_registered and "
                                    "case_erased may follow)")
        if kind == "imported" and seq != 2:
            self.report.fail(where, "imported only at seq 2, right after case_opened")
        process = event.get("process")
        if kind == "migrated" and isinstance(process, list) and len(process) == 2:
            if payload.get("to_version") != process[1]:
                self.report.fail(where, "a migrated event is decided under the version it moves to (process)")
            if case.last_version is not None and payload.get("from_version") != case.last_version:
                self.report.fail(where, "a migrated event moves from the version of the event before it")
        if isinstance(process, list) and len(process) == 2 and is_int(process[1]):
            case.last_version = process[1]
        if kind == "consent_requested" and is_int(seq):
            case.requests[seq] = (payload.get("scope"), payload.get("text_hash"))
        if kind == "evidence_recorded":
            self.check_answer(case, payload, where)
        if kind == "case_erased":
            if case.first_seq == 1 and not case.closed:
                self.report.fail(where, "case_erased in a case that was never closed")
            case.erased = True
        if kind == "transitioned" and payload.get("close_reason") is not None:
            case.closed = True
        if kind == "case_opened" and isinstance(payload.get("school"), str):
            case.school = payload["school"]
        process = event.get("process")
        if isinstance(process, list) and len(process) == 2 and isinstance(process[0], str) and is_int(process[1]):
            case.versions.add(process[1])
            self.seen_versions.add((process[0], process[1]))
        at = event.get("recorded_at")
        if self.since_instant is not None and isinstance(at, str) and at < self.since_instant:
            self.report.fail(where, f"recorded before the export's since ({self.filters.get('since')}, "
                                    f"school-local midnight = {self.since_instant})")
        for _anchor, entry in case.anchors:
            if seq in (entry["last_seq"], entry["first_seq"] - 1):
                case.anchor_hashes[seq] = (number, event.get("hash"))
        if case.proof is not None and seq == case.proof["seq"]:
            case.proof_hash = event.get("hash") if isinstance(event.get("hash"), str) else ""
        case.events += 1
        case.last_seq = seq if is_int(seq) else case.last_seq + 1
        case.head = event.get("hash") if isinstance(event.get("hash"), str) else ""

    def check_answer(self, case: CaseWalk, payload: dict, where: str) -> None:
        """A consent naming a request: an earlier consent_requested of this case, same scope and
        text_hash. A request before the export's first event (with since) cannot be checked."""
        fields = payload.get("fields")
        if payload.get("kind") != "consent" or not isinstance(fields, dict) or "request" not in fields:
            return
        named = fields["request"]
        if not is_int(named):
            return  # the field's own check reports it
        if named not in case.requests:
            if case.first_seq is not None and is_int(case.first_seq) and named < case.first_seq:
                self.report.note(f"{where}: the request it answers (seq {named}) lies before the export's first "
                                 "event of the case; not checked")
            else:
                self.report.fail(where, f"payload.fields.request names seq {named}, which is no earlier "
                                        "consent_requested of this case")
            return
        scope, text_hash = case.requests[named]
        if fields.get("scope") != scope or fields.get("request_hash") != text_hash:
            self.report.fail(where, f"payload.fields.scope and request_hash must be those of the consent_requested "
                                    f"at seq {named}")

    def finish_case(self, case: CaseWalk) -> None:
        if not case.in_order:
            return
        where = f"{EVENTS} line {case.first_line} ({case.case_id})"
        if self.manifest is not None and self.head is not None:
            entry = None
            while (pending := self.pending_entry()) is not None:
                line, candidate = pending
                if candidate["case_id"] < case.case_id:
                    self.report.fail(f"{MANIFEST} line {line} ({candidate['case_id']})",
                                     "listed, but no events of it in events.jsonl")
                    self.manifest.pending_entry = None
                    continue
                if candidate["case_id"] == case.case_id:
                    entry = candidate
                    self.manifest.pending_entry = None
                break
            if entry is None:
                self.report.fail(where, f"{case.case_id} is not listed in the manifest")
            else:
                self.compare_entry(case, entry, f"{MANIFEST} line {line} ({case.case_id})")
        for anchor, entry in case.anchors:
            self.compare_anchor(case, anchor, entry)
        if case.proof is not None:
            self.compare_proof(case, case.proof)

    def compare_proof(self, case: CaseWalk, proof: dict) -> None:
        where = f"{PROOFS} ({case.case_id} seq {proof['seq']})"
        w = (self.head or {}).get("witness") or {}
        if case.proof_hash is not None:
            if case.proof_hash != proof["head_hash"]:
                self.report.fail(where, f"the export's event has another hash than the head the witness root of "
                                        f"{w.get('day')} holds: the history up to it was rewritten")
        elif is_int(case.first_seq) and proof["seq"] < case.first_seq:
            assert self.proofs is not None
            self.proofs.unchecked += 1  # before this export's window (--since)
        else:
            self.report.fail(where, f"{case.case_id} ends at seq {case.last_seq}, before its head in the witness root "
                                    f"of {w.get('day')}: events were removed")

    def check_pinned(self, w: dict | None) -> None:
        """--witness: the manifest's root must be one of the roots the witnesses kept."""
        assert self.pinned is not None
        if w is None:
            self.report.fail(MANIFEST, "--witness given, but the manifest has no witness root")
            return
        same_day = [r for r in self.pinned if r.get("day") == w["day"]]
        if not same_day:
            days = sorted({str(r.get("day")) for r in self.pinned})
            self.report.fail(MANIFEST, f"witness root of {w['day']}: no witness record of that day given "
                                       f"(given: {', '.join(days[:5])}{' ...' if len(days) > 5 else ''})")
        elif w not in same_day:
            self.report.fail(MANIFEST, f"witness root of {w['day']} differs from the one the witness kept: the "
                                       "root, its counts or the access log's head were changed")

    def finish_proofs(self, sums: dict[str, str]) -> None:
        pr = self.proofs
        if pr is None:
            return
        pr.before(None)
        pr.fh.close()
        sha = pr.sha.hexdigest()
        if sums.get(PROOFS) not in (None, sha):
            self.report.fail(SUMS, f"{PROOFS}: SHA-256 differs")
        head = self.head or {}
        files = head.get("files")
        entry = files.get(PROOFS) if isinstance(files, dict) else None
        if isinstance(entry, dict):
            if entry.get("lines") != pr.lines:
                self.report.fail(MANIFEST, f"files.{PROOFS}.lines is {entry.get('lines')!r}, the file has {pr.lines}")
            if entry.get("sha256") != sha:
                self.report.fail(MANIFEST, f"files.{PROOFS}.sha256 differs from the file's SHA-256")
        w = pr.witness
        f = self.filters
        if w is not None and f.get("schools") is None and f.get("since") is None and pr.lines != w["cases"]:
            self.report.fail(PROOFS, f"{pr.lines} proofs, the witness root of {w['day']} holds {w['cases']} cases: "
                                     "an export without filters proves every one")
        if pr.unchecked:
            self.report.note(f"{pr.unchecked} proofs name a seq before this export's window (--since): their "
                             "head hash was not compared with an event")
        if w is not None:
            print(f"witness root of {w['day']}: {pr.lines} proofs")

    def pending_entry(self) -> tuple[int, dict] | None:
        """The manifest's next case entry not yet matched with the events, read and checked once."""
        m = self.manifest
        assert m is not None
        while m.pending_entry is None:
            found = m.next_entry()
            if found is None:
                return None
            if self.entry_in_order(*found):
                m.pending_entry = found
        return m.pending_entry

    def entry_in_order(self, line: int, entry: dict) -> bool:
        assert self.manifest is not None
        where = f"{MANIFEST} line {line}"
        for why in entry_problems(entry):
            self.report.fail(where, why)
        cid = entry.get("case_id")
        if not isinstance(cid, str):
            return False
        if self.manifest.last_id is not None and cid <= self.manifest.last_id:
            self.report.fail(where, f"{cid}: case entries must be in increasing case-id order")
            return False
        self.manifest.last_id = cid
        return True

    def compare_entry(self, case: CaseWalk, e: dict, where: str) -> None:
        if list(e) != list(CASE_KEYS):
            return  # already a finding; its values cannot be trusted to be where we look
        checks = [
            ("events", case.events), ("first_seq", case.first_seq), ("anchor_prev_hash", case.first_prev),
            ("last_seq", case.last_seq), ("head_hash", case.head), ("process_versions", sorted(case.versions)),
            ("complete", case.first_seq == 1 and case.first_prev == GENESIS),
        ]
        for name, value in checks:
            if e[name] != value:
                self.report.fail(where, f"{name} is {e[name]!r}, the events say {value!r}")
        if self.filters.get("since") is None:
            if e["store_version"] != case.last_seq or e["store_head_hash"] != case.head:
                self.report.fail(where, "store_version/store_head_hash differ from the last event: the store's "
                                        "head was not what was exported")
        elif not (is_int(e["store_version"]) and e["store_version"] >= case.last_seq
                  and (e["store_version"] != case.last_seq or e["store_head_hash"] == case.head)):
            self.report.fail(where, "store_version/store_head_hash do not agree with the last event")
        elif e["store_version"] > case.last_seq:
            self.report.note(f"{where}: the export stops at seq {case.last_seq}, the store's head is seq "
                             f"{e['store_version']}: a later event was stamped before the since instant "
                             "(the server's clock ran backwards)")
        if case.school is not None and e["school"] != case.school:
            self.report.fail(where, f"school is {e['school']!r}, case_opened says {case.school!r}")
        schools = self.filters.get("schools")
        if isinstance(schools, list) and e["school"] not in schools:
            self.report.fail(where, f"school {e['school']!r} is outside the export's filters.schools")

    # -- anchors --
    def covered(self, entry: dict) -> bool:
        schools = self.filters.get("schools")
        return not isinstance(schools, list) or entry.get("school") in schools

    def anchor_absent(self, anchor: Anchor, line: int, entry: dict) -> None:
        cid = entry.get("case_id")
        if not self.covered(entry) or self.filters.get("since") is not None:
            anchor.uncovered += 1  # this export need not hold the case
        else:
            self.report.fail(f"{anchor.label} line {line} ({cid})",
                             f"head seq {entry.get('last_seq')} of {cid} is not extended: the case is missing from "
                             "this export")

    def compare_anchor(self, case: CaseWalk, anchor: Anchor, entry: dict) -> None:
        where = f"{anchor.label} ({case.case_id})"
        last, head = entry.get("last_seq"), entry.get("head_hash")
        first_seq = case.first_seq if is_int(case.first_seq) else 1
        if not is_int(last):
            return
        if last in case.anchor_hashes:
            line, found = case.anchor_hashes[last]
            if found != head:
                self.report.fail(f"{EVENTS} line {line} ({case.case_id} seq {last})",
                                 f"differs from the head {anchor.label} holds: the history up to seq {last} was "
                                 "rewritten")
                return
            anchor.confirmed += 1
        elif last == first_seq - 1:
            if case.first_prev != head:
                self.report.fail(where, f"this export continues {case.case_id} from another head than seq {last} "
                                        "the anchor holds (the history was rewritten)")
                return
            anchor.confirmed += 1
        elif last > case.last_seq:
            self.report.fail(where, f"{case.case_id} ends at seq {case.last_seq}, the anchor's head is seq {last}: "
                                    "events were removed")
            return
        elif first_seq <= last:
            self.report.fail(where, f"seq {last} of {case.case_id}, the anchor's head, is not in this export")
            return
        else:
            anchor.uncovered += 1
            return
        before = entry.get("first_seq")
        if is_int(before) and before - 1 in case.anchor_hashes and before > 1:
            line, found = case.anchor_hashes[before - 1]
            if found != entry.get("anchor_prev_hash"):
                self.report.fail(f"{EVENTS} line {line} ({case.case_id} seq {before - 1})",
                                 f"differs from the anchor_prev_hash {anchor.label} holds")

    def finish_anchors(self) -> None:
        for anchor in self.anchors:
            for line, entry in anchor.entries_before(None):
                self.anchor_absent(anchor, line, entry)
            anchor.reader.close()
            old, new = anchor.access_log, (self.head or {}).get("access_log")
            if isinstance(old, dict) and isinstance(new, dict) and is_int(old.get("records")) \
                    and is_int(new.get("records")):
                if new["records"] < old["records"]:
                    self.report.fail(anchor.label, f"the access log has {new['records']} records, the anchor "
                                                   f"saw {old['records']}: records were removed")
                elif new["records"] == old["records"] and new["head_hash"] != old["head_hash"]:
                    self.report.fail(anchor.label, "the access log has as many records as the anchor saw but "
                                                   "another head: it was rewritten")
                elif new["records"] > old["records"]:
                    self.report.note(f"{anchor.label}: the export does not carry the access log; check that it "
                                     f"still holds the anchor's head with: passend audit verify --access-anchor "
                                     f"{old.get('head_hash')}")
            if isinstance(anchor.created_at, str) and self.head and isinstance(self.head.get("created_at"), str) \
                    and anchor.created_at > self.head["created_at"]:
                self.report.note(f"{anchor.label} was made after this export ({anchor.created_at})")
            print(f"anchor {anchor.path}: {anchor.confirmed} heads extended"
                  + (f", {anchor.uncovered} not in this export's scope (school or since filter): not confirmed"
                     if anchor.uncovered else ""))

    # -- after the walk --
    def finish(self, sums: dict[str, str]) -> None:
        m = self.manifest
        manifest_sha = None
        if m is not None:
            while m.head is not None and (pending := self.pending_entry()) is not None:
                m.pending_entry = None  # entries left over: cases with no events in the file
                line, entry = pending
                self.report.fail(f"{MANIFEST} line {line} ({entry['case_id']})",
                                 "listed, but no events of it in events.jsonl")
            while chunk := m.fh.read(1 << 16):  # the rest of a broken manifest counts for its SHA-256
                m.sha.update(chunk)
            manifest_sha = m.sha.hexdigest()
            m.close()
        if self.events_sha is not None and sums.get(EVENTS) not in (None, self.events_sha):
            self.report.fail(SUMS, f"{EVENTS}: SHA-256 differs")
        if manifest_sha is not None and sums.get(MANIFEST) not in (None, manifest_sha):
            self.report.fail(SUMS, f"{MANIFEST}: SHA-256 differs")
        head = self.head
        if head is None:
            return
        counts = head.get("counts") if isinstance(head.get("counts"), dict) else {}
        if counts.get("events") != self.lines:
            self.report.fail(MANIFEST, f"counts.events is {counts.get('events')!r}, {EVENTS} has {self.lines} lines")
        if counts.get("cases") != self.cases:
            self.report.fail(MANIFEST, f"counts.cases is {counts.get('cases')!r}, {EVENTS} has {self.cases} cases")
        if m is not None and m.entries != self.cases and not m.broken:
            self.report.fail(MANIFEST, f"lists {m.entries} cases, {EVENTS} has {self.cases}")
        files = head.get("files")
        entry = files.get(EVENTS) if isinstance(files, dict) else None
        if isinstance(entry, dict):
            if entry.get("lines") != self.lines:
                self.report.fail(MANIFEST, f"files.{EVENTS}.lines is {entry.get('lines')!r}, the file has {self.lines}")
            if self.events_sha is not None and entry.get("sha256") != self.events_sha:
                self.report.fail(MANIFEST, f"files.{EVENTS}.sha256 differs from the file's SHA-256")
        if self.events_sha is not None and head.get("export_sha256") != self.events_sha:
            self.report.fail(MANIFEST, f"export_sha256 differs from the SHA-256 of {EVENTS}")
        defs = head.get("definitions")
        if isinstance(defs, list) and all(definition_ok(d) for d in defs):
            listed = {(d["id"], d["version"]) for d in defs}
            if listed != self.seen_versions:
                self.report.fail(MANIFEST, f"definitions list {sorted(listed)}, the events use "
                                           f"{sorted(self.seen_versions)}")
            self.check_definition_files(defs)

    def check_definition_files(self, defs: list) -> None:
        for d in defs:
            name = f"{d['id']} version {d['version']}"
            if not d["installed"]:
                self.report.note(f"definition {name} was not installed when exported: no file to check")
                continue
            if self.definitions is None:
                continue
            where = f"{MANIFEST} definition {name}"
            path = self.definitions / d["file"]
            if d["sha256"] is None:
                self.report.fail(where, f"{d['file']} had no SHA-256 (unreadable when exported)")
            elif not path.is_file():
                self.report.fail(where, f"{path} does not exist")
            elif sha256_file(path) != d["sha256"]:
                self.report.fail(where, f"{path} differs from the file that was in use (SHA-256)")
        if self.definitions is None and defs:
            self.report.note("definition files not checked (give --definitions FOLDER: the process folder, "
                             "by default states/)")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def since_instant(day: dt.date) -> str:
    """Midnight at the start of `day` in Europe/Amsterdam (school-local), as a UTC instant."""
    try:
        from zoneinfo import ZoneInfo

        local = dt.datetime.combine(day, dt.time(0), ZoneInfo("Europe/Amsterdam"))
        utc = local.astimezone(dt.UTC)
    except Exception:  # no time-zone database here: the EU rule (since 1996) gives the same answer
        def last_sunday(month: int) -> dt.date:
            d = dt.date(day.year, month, 31)
            return d - dt.timedelta(days=(d.weekday() + 1) % 7)
        summer = last_sunday(3) < day <= last_sunday(10)
        utc = dt.datetime.combine(day, dt.time(0)) - dt.timedelta(hours=2 if summer else 1)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- main ----------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 with one line, as documented
        raise Usage(message)


def run(argv: list[str]) -> int:
    parser = Parser(prog="verify_export.py", description="Check a passend export (docs/event-chain.md).")
    parser.add_argument("folder", help="the export folder (events.jsonl, manifest.json, SHA256SUMS)")
    parser.add_argument("--anchor", nargs="+", action="extend", default=[], metavar="OLD_MANIFEST",
                        help="earlier manifests (or export folders) whose case heads this export must extend")
    parser.add_argument("--definitions", metavar="FOLDER",
                        help="the process folder holding the definition files named in the manifest")
    parser.add_argument("--witness", nargs="+", action="extend", default=None, metavar="ROOTFILE",
                        help="roots the witnesses kept (saved .eml mails, JSON, or a folder): the manifest's "
                             "witness root must be one of them")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        raise Usage(f"{folder} is not a folder")
    definitions = Path(args.definitions) if args.definitions else None
    if definitions is not None and not definitions.is_dir():
        raise Usage(f"--definitions: {definitions} is not a folder")
    report = Report()
    anchors = []
    for name in args.anchor:
        path = Path(name)
        if path.is_dir():
            path = path / MANIFEST
        anchors.append(Anchor(path, report))
    pinned = None
    if args.witness is not None:
        pinned = [r for name in args.witness for r in witness_records(Path(name))]
    checker = Checker(folder, anchors, definitions, report, pinned)
    sums = checker.check_folder()
    checker.open_manifest()
    checker.walk_events()
    checker.finish(sums)
    checker.finish_proofs(sums)
    checker.finish_anchors()
    verdict = "OK" if report.failures == 0 else "BROKEN"
    print(f"{verdict}: {checker.cases} cases, {checker.lines} events, {report.failures} problems")
    return 0 if report.failures == 0 else 1


def main() -> int:
    try:
        return run(sys.argv[1:])
    except Usage as e:
        print(f"verify_export.py: {e}", file=sys.stderr)
        print("usage: python3 verify_export.py EXPORT_DIR [--anchor OLD_MANIFEST ...] [--definitions FOLDER] "
              "[--witness ROOTFILE ...]", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"verify_export.py: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a fault of this checker, not of the export: still one line, no traceback
        print(f"FAIL verify_export.py: could not finish the check ({type(e).__name__}: {e})")
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into `head`
        sys.exit(1)

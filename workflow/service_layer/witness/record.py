"""A root as the witnesses keep it: one JSON object, in the mail between two marker lines.

    -----BEGIN PASSEND WITNESS-----
    {
      "access_log": {"head_hash": "...", "records": 12},
      "at": "2026-10-05T16:00:00.123456Z",
      ...
    }
    -----END PASSEND WITNESS-----

The object (docs/event-chain.md, "Witnessing"): `format` "passend-witness", `v` 1, `day`, `at`,
`tree`, `root`, `cases`, `events`, `access_log` {records, head_hash}. Its canonical JSON (sorted
keys, no spaces, UTF-8) is what an RFC 3161 timestamp covers. `passend audit verify --witness`
reads it back from the saved mails (.eml), from a folder of them, or from a JSON file holding
one such object or a list of them; the export's manifest carries the same object.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import re
from email import policy
from pathlib import Path
from typing import Any

from workflow.adapters.ports import WitnessRoot
from workflow.domain.errors import BadInput
from workflow.domain.instants import iso_utc
from workflow.messages import text

FORMAT = "passend-witness"
VERSION = 1
BEGIN, END = "-----BEGIN PASSEND WITNESS-----", "-----END PASSEND WITNESS-----"
KEYS = ("access_log", "at", "cases", "day", "events", "format", "root", "tree", "v")
_HEX = re.compile(r"[0-9a-f]{64}")
_BLOCK = re.compile(re.escape(BEGIN) + r"\s*(.*?)\s*" + re.escape(END), re.S)
MAX_FILE = 1 << 24  # a mail or roots file larger than this is not one of ours


def as_record(root: WitnessRoot) -> dict[str, Any]:
    return {"format": FORMAT, "v": VERSION, "day": root.day.isoformat(), "at": iso_utc(root.at),
            "tree": root.tree, "root": root.root, "cases": root.cases, "events": root.events,
            "access_log": {"records": root.access_records, "head_hash": root.access_head}}


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a timestamp's message imprint is the SHA-256 of."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def block(record: dict[str, Any]) -> str:
    """The record as it stands in a mail: short lines, between the marker lines."""
    return f"{BEGIN}\n{json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False)}\n{END}"


def problem(record: Any) -> str | None:
    """Why `record` is not a witness record, or None."""
    if not isinstance(record, dict) or sorted(record) != sorted(KEYS):
        return text("svc.witness.other_fields")
    a = record["access_log"]
    checks = [
        record["format"] == FORMAT and record["v"] == VERSION,
        isinstance(record["day"], str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["day"]) is not None,
        isinstance(record["at"], str), isinstance(record["tree"], str),
        isinstance(record["root"], str) and _HEX.fullmatch(record["root"]) is not None,
        all(type(record[k]) is int and record[k] >= 0 for k in ("cases", "events")),
        isinstance(a, dict) and sorted(a) == ["head_hash", "records"] and type(a["records"]) is int
        and a["records"] >= 0 and isinstance(a["head_hash"], str) and _HEX.fullmatch(a["head_hash"]) is not None,
    ]
    if not all(checks):
        return text("svc.witness.invalid_record")
    try:
        dt.date.fromisoformat(record["day"])
    except ValueError:
        return text("svc.witness.invalid_day")
    return None


def from_text(text: str) -> list[dict[str, Any]]:
    """Every record between marker lines in `text` (a mail's text, quoted or not)."""
    out = []
    for m in _BLOCK.finditer(text):
        body = "\n".join(line.lstrip("> ").rstrip() if line.startswith(">") else line
                         for line in m.group(1).splitlines())
        try:
            out.append(json.loads(body))
        except ValueError:
            out.append(None)
    return out


def _mail_text(data: bytes) -> str:
    msg = email.message_from_bytes(data, policy=policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            try:
                parts.append(str(part.get_content()))
            except (LookupError, ValueError):
                continue
    return "\n".join(parts)


def load(path: Path) -> list[dict[str, Any]]:
    """The witness records in a file (.eml, or JSON: one record or a list) or in a folder of such
    files. A file without a valid record is bad input (exit 2), named in one line."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".eml", ".json"))
        if not files:
            raise BadInput(text("svc.witness.no_files", path=path))
        return [r for f in files for r in load(f)]
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE + 1)
    except OSError as exc:
        raise BadInput(text("svc.witness.unreadable", path=path, error=exc.strerror or type(exc).__name__)) from None
    if len(data) > MAX_FILE:
        raise BadInput(text("svc.witness.too_large", path=path))
    found: list[Any]
    stripped = data.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadInput(text("svc.witness.bad_json", path=path)) from None
        found = parsed if isinstance(parsed, list) else [parsed]
    else:
        found = from_text(_mail_text(data))
    if not found:
        raise BadInput(text("svc.witness.no_record", path=path))
    for r in found:
        why = problem(r)
        if why is not None:
            raise BadInput(text("svc.witness.bad_record", path=path, problem=why))
    return found

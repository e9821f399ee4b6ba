#!/usr/bin/env python3
"""Verify a passend export with nothing but Python's standard library.

    python3 verify_export.py EXPORT_DIR

Checks, as specified in docs/event-chain.md: the SHA-256 of every file against SHA256SUMS and
the manifest; every event's hash recomputed from its canonical form; per case, consecutive
sequence numbers and each event's prev_hash equal to the hash before it (genesis or the
manifest's anchor); each case's last hash equal to the manifest's head hash; the counts.
Exit 0 when everything holds, 1 when anything does not (each problem is printed).
"""

import hashlib
import json
import sys
from pathlib import Path

GENESIS = "0" * 64


def canonical(event):
    """The bytes that are hashed: the event without `hash`; keys sorted, `payload` last."""
    event = dict(event)
    payload = event.pop("payload")
    head = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (head[:-1] + ',"payload":' + body + "}").encode("utf-8")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(folder):
    folder = Path(folder)
    problems = []
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for line in (folder / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split("  ", 1)
        if sha256_file(folder / name) != digest:
            problems.append(f"{name}: SHA-256 differs from SHA256SUMS")
    events_sha = sha256_file(folder / "events.jsonl")
    if events_sha != manifest["export_sha256"]:
        problems.append("events.jsonl: SHA-256 differs from the manifest")

    cases = {c["case_id"]: c for c in manifest["cases"]}
    seen = {}  # case_id -> [events, last seq, last hash]
    count = 0
    with open(folder / "events.jsonl", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            count += 1
            event = json.loads(line)
            stored = event.pop("hash")
            cid, seq = event["case_id"], event["seq"]
            if hashlib.sha256(canonical(event)).hexdigest() != stored:
                problems.append(f"{cid} event {seq} (line {number}): hash does not match its content")
            state = seen.get(cid)
            if state is None:
                info = cases.get(cid)
                if info is None:
                    problems.append(f"{cid}: not listed in the manifest")
                    info = {"first_seq": 1, "anchor_prev_hash": GENESIS}
                expected_seq = info["first_seq"]
                expected_prev = GENESIS if expected_seq == 1 else info["anchor_prev_hash"]
                state = seen[cid] = [0, expected_seq - 1, expected_prev]
            if seq != state[1] + 1:
                problems.append(f"{cid} event {seq} (line {number}): expected sequence number {state[1] + 1}")
            if event["prev_hash"] != state[2]:
                problems.append(f"{cid} event {seq} (line {number}): prev_hash does not link to the event before")
            state[0] += 1
            state[1], state[2] = seq, stored

    if count != manifest["counts"]["events"]:
        problems.append(f"manifest counts {manifest['counts']['events']} events, file has {count}")
    for cid, info in cases.items():
        state = seen.get(cid)
        if state is None:
            problems.append(f"{cid}: in the manifest but no events in the file")
            continue
        if state[0] != info["events"] or state[1] != info["last_seq"]:
            problems.append(f"{cid}: {state[0]} events up to {state[1]}, manifest says "
                            f"{info['events']} up to {info['last_seq']}")
        if state[2] != info["head_hash"]:
            problems.append(f"{cid}: last hash differs from the manifest's head_hash")

    for p in problems:
        print("FAIL", p)
    print(f"{'OK' if not problems else 'BROKEN'}: {len(seen)} cases, {count} events, "
          f"{len(problems)} problems")
    return 0 if not problems else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

"""Tampered exports: docs/verify_export.py rejects every kind, naming the line.

Each tampering starts from a real export (the engine, a SQLite store, `audit export`) and, where
hashes would give it away, recomputes them: the hash of the changed line over whatever keys it
now has, every later link of its case, the manifest's counts and entries, and SHA256SUMS. What
is then left to catch it is the specification itself (exact fields, canonical bytes, types,
sealed values, order), which is what these tests hold the checker to. A consistent rewrite of
the history passes every such check; only an earlier manifest (--anchor) shows it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, clocked_engine
from tests.conftest import STATES, write_config
from tests.export_support import ExportCopy, every_kind_of_case, line_of, run_checker
from workflow.service_layer.audit.export import export

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Exports:
    first: Path    # the store's first export
    second: Path   # after honest growth: one more event on an open case, one new case
    since: Path    # the same store, only the events since the growth day
    ids: dict[str, str]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    base = tmp_path_factory.mktemp("store")
    engine, clock = clocked_engine(write_config(base, f"sqlite:///{base / 'passend.db'}"), T0)
    ids = every_kind_of_case(engine, clock)
    export(engine, base / "first", actor="auditor")
    clock.advance(days=2)
    engine.record("signal", ids["other"], actor="ib.smit", area="taal", note="later")
    ids["new"] = engine.open_case(pupil="LL-4", school="de-linde", actor=IB)["case_id"]
    export(engine, base / "second", actor="auditor")
    export(engine, base / "since", actor="auditor", since=clock.now.date())
    engine.db.dispose()
    return Exports(base / "first", base / "second", base / "since", ids)


def copy_of(exports: Exports, tmp_path: Path) -> ExportCopy:
    return ExportCopy(exports.first, tmp_path / "export")


def first_index(copy: ExportCopy, pred: Callable[[dict[str, Any]], bool]) -> int:
    return next(i for i, ev in enumerate(copy.events()) if pred(ev))


def edit(copy: ExportCopy, i: int, change: Callable[[dict[str, Any]], None]) -> int:
    """Change event i, recompute its hash and its case's later links, reseal; its line number."""
    ev = copy.events()[i]
    change(ev)
    copy.put(i, ev)
    copy.reseal()
    return i + 1


def is_kind(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda ev: ev["type"] == "evidence_recorded" and ev["payload"]["kind"] == kind


# ---- the honest exports --------------------------------------------------------------------

def test_honest_exports_pass_and_a_faithful_reseal_changes_nothing(exports: Exports, tmp_path: Path) -> None:
    for folder in (exports.first, exports.second, exports.since):
        r = run_checker(folder, "--definitions", STATES)
        assert r.code == 0, r.out
        assert r.out.splitlines()[-1].startswith("OK: ")
    copy = copy_of(exports, tmp_path)
    copy.reseal()  # the tests' own resealing, with nothing changed: byte for byte the export's
    for name in ("events.jsonl", "manifest.json", "SHA256SUMS"):
        assert (copy.folder / name).read_bytes() == (exports.first / name).read_bytes(), name


def test_every_event_type_and_optional_field_is_in_the_test_export(exports: Exports) -> None:
    # bytes.splitlines: str.splitlines would also split at the U+2028 a canonical line holds as is
    events = [json.loads(line) for line in (exports.first / "events.jsonl").read_bytes().splitlines()]
    assert any("\u2028" in line.decode() for line in (exports.first / "events.jsonl").read_bytes().splitlines())
    assert {e["type"] for e in events} == {"case_opened", "evidence_recorded", "transitioned", "case_erased"}
    payload_keys = {k for e in events for k in e["payload"]}
    assert {"adopts_opp", "ends_opp", "close_reason", "group", "name"} <= payload_keys
    assert {e["payload"]["kind"] for e in events if e["type"] == "evidence_recorded"} == {
        "signal", "plan", "evaluation", "consent", "view", "meeting", "contact"}


# ---- tamperings, each with the finding that names it ---------------------------------------
# Each returns a regular expression one FAIL line must match.

def added_top_field(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 4), lambda ev: ev.update(note="x"))
    return rf"events\.jsonl line {n} .*unexpected field 'note'"


def removed_top_field(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 5), lambda ev: ev.pop("role"))
    return rf"events\.jsonl line {n} .*missing field 'role'"


def added_payload_field(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: ev["payload"].update(extra=1))
    return rf"events\.jsonl line {n} .*payload: unexpected field 'extra'"


def removed_payload_field(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: ev["type"] == "transitioned")
    n = edit(c, i, lambda ev: ev["payload"].pop("guards"))
    return rf"events\.jsonl line {n} .*payload: missing field 'guards'"


def removed_optional_fields_rule(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: is_kind("evaluation")(ev) and ev["payload"]["fields"]["subject"] == "plan")
    n = edit(c, i, lambda ev: ev["payload"]["fields"].pop("plan"))
    return rf"events\.jsonl line {n} .*fields\.plan is present exactly when subject"


def added_evidence_field(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, is_kind("signal")), lambda ev: ev["payload"]["fields"].update(extra="y"))
    return rf"events\.jsonl line {n} .*payload\.fields: unexpected field 'extra'"


def removed_evidence_field(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, is_kind("plan")), lambda ev: ev["payload"]["fields"].pop("frequency"))
    return rf"events\.jsonl line {n} .*payload\.fields: missing field 'frequency'"


def unknown_evidence_kind(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, is_kind("signal")), lambda ev: ev["payload"].update(kind="rumour"))
    return rf"events\.jsonl line {n} .*unknown evidence kind 'rumour'"


def non_canonical_spacing(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 3)
    c.lines[i] = c.lines[i].replace(b'"seq":', b'"seq": ', 1)  # the same JSON: the hash still holds
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*not in canonical form"


def non_canonical_key_order(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 6)
    ev = c.events()[i]
    text = line_of(ev).decode().replace(
        json.dumps(ev["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        json.dumps(dict(reversed(list(ev["payload"].items()))), separators=(",", ":"), ensure_ascii=False))
    c.lines[i] = text.encode()
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*not in canonical form"


def non_canonical_escapes(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: any(not g.isascii() for g in ev["payload"].get("guards", [])))
    ev = c.events()[i]
    c.lines[i] = (line_of(ev).decode()[:-1].encode("ascii", "backslashreplace")
                  .replace(b"\\x", b"\\u00") + b"\n")  # \u00d7 for ×: same JSON, other bytes
    assert json.loads(c.lines[i]) == ev
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*not in canonical form"


def duplicate_key(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 2)
    c.lines[i] = b'{"actor":"someone.else",' + c.lines[i][1:]  # parses to the same event
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*not in canonical form"


def float_in_payload(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: ev["payload"].update(level=1.0))
    return rf"events\.jsonl line {n} .*event\.payload\.level is a float"


def float_seq(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 3), lambda ev: ev.update(seq=3.0))
    return rf"events\.jsonl line {n}.*seq must be an integer"


def nan_in_payload(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 1)
    c.lines[i] = c.lines[i].replace(b'"level":1', b'"level":NaN', 1)
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: is not JSON"


def unknown_event_type(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 2), lambda ev: ev.update(type="note_added"))
    return rf"events\.jsonl line {n} .*unknown event type 'note_added'"


def plaintext_pupil(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: ev["payload"].update(pupil="LL-1"))
    return rf"events\.jsonl line {n} .*payload\.pupil must be sealed"


def plaintext_secret(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, is_kind("signal")), lambda ev: ev["payload"]["secret"].update(note="traag"))
    return rf"events\.jsonl line {n} .*payload\.secret\.note must be sealed"


def sealed_text(ev: dict[str, Any], change: Callable[[str], str]) -> None:
    ev["payload"]["pupil"]["$enc"] = change(ev["payload"]["pupil"]["$enc"])


def sealed_with_padding(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: sealed_text(ev, lambda t: t + "=="))
    return rf"events\.jsonl line {n} .*without padding"


def sealed_other_version(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: sealed_text(ev, lambda t: "v2." + t[3:]))
    return rf"events\.jsonl line {n} .*payload\.pupil .*\"v1\.\""


def sealed_too_short(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: sealed_text(ev, lambda t: "v1.AAAA"))
    return rf"events\.jsonl line {n} .*fewer than nonce and tag"


def sealed_where_plain_belongs(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, is_kind("signal"))
    n = edit(c, i, lambda ev: ev["payload"]["fields"].update(area=ev["payload"]["secret"]["note"]))
    return rf"events\.jsonl line {n} .*payload\.fields\.area must be one of"


def split_case(c: ExportCopy, ids: dict[str, str]) -> str:
    first, last_case = c.manifest["cases"][0]["case_id"], c.manifest["cases"][-1]["case_id"]
    c.lines.append(c.lines.pop(c.case_indexes(first)[-1]))  # the first case's last event moved to the end
    c.reseal()
    return rf"events\.jsonl line {len(c.lines)} \({first} seq \d+\): {first} follows {last_case}: .*split or moved"


def cases_out_of_order(c: ExportCopy, ids: dict[str, str]) -> str:
    cases = [e["case_id"] for e in c.manifest["cases"]]
    a, b = c.case_indexes(cases[0]), c.case_indexes(cases[1])
    c.lines = [c.lines[i] for i in b] + [c.lines[i] for i in a] + c.lines[len(a) + len(b):]
    c.reseal()
    return rf"events\.jsonl line {len(b) + 1} .*{cases[0]} follows {cases[1]}: .*split or moved"


def reordered_lines(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 4)
    c.lines[i], c.lines[i + 1] = c.lines[i + 1], c.lines[i]
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1} .*seq 5 where 4 belongs"


def case_opened_removed(c: ExportCopy, ids: dict[str, str]) -> str:
    """The opening event cut off and the rest renumbered from 1, every hash recomputed."""
    idx = c.case_indexes(ids["erased"])
    del c.lines[idx[0]]
    for i in idx[:-1]:
        ev = json.loads(c.lines[i])
        ev["seq"] -= 1
        if ev["seq"] == 1:
            ev["prev_hash"] = "0" * 64
        c.lines[i] = line_of(ev)
    c.rehash(ids["erased"], idx[0])
    c.reseal()
    return rf"events\.jsonl line {idx[0] + 1} .*seq 1 must be case_opened"


def event_after_erasure(c: ExportCopy, ids: dict[str, str]) -> str:
    last = c.case_indexes(ids["erased"])[-1]
    ev = c.events()[last - 1]  # the closing transition, again, after case_erased
    ev.update(seq=ev["seq"] + 2)
    c.lines.insert(last + 1, line_of(ev))
    c.rehash(ids["erased"], last + 1)
    c.reseal()
    return rf"events\.jsonl line {last + 2} .*an event after case_erased"


def event_after_close(c: ExportCopy, ids: dict[str, str]) -> str:
    last = c.case_indexes(ids["tlv"])[-1]
    ev = c.events()[first_index(c, is_kind("contact"))]
    ev.update(case_id=ids["tlv"], seq=c.events()[last]["seq"] + 1)
    c.lines.insert(last + 1, line_of(ev))
    c.rehash(ids["tlv"], last + 1)
    c.reseal()
    return rf"events\.jsonl line {last + 2} .*after the event that closed the case"


def recorded_at_with_offset(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 2), lambda ev: ev.update(recorded_at=ev["recorded_at"][:-1] + "+00:00"))
    return rf"events\.jsonl line {n} .*recorded_at must be a UTC instant"


def upper_case_hash(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 2)
    ev = c.events()[i]
    ev["prev_hash"] = ev["prev_hash"].upper()
    c.lines[i] = line_of(ev)
    c.rehash(ev["case_id"], i)
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*prev_hash must be 64 lower-case hex"


def chain_version_in_line(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 7), lambda ev: ev.update(v=2))
    return rf"events\.jsonl line {n} .*v must be 1"


def not_json(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 8)
    c.lines[i] = b"this is no JSON\n"
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: is not JSON"


def not_utf8(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 3)
    c.lines[i] = c.lines[i].replace(b'"ib', b'"\xffib', 1).replace(b'"lk', b'"\xfflk', 1)
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: is not UTF-8"


def deeply_nested(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 3)
    c.lines[i] = b"[" * 200_000 + b"\n"
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: is not JSON"


def nested_in_payload(c: ExportCopy, ids: dict[str, str]) -> str:
    """Valid JSON nested almost as deep as Python's stack allows, hash recomputed."""
    deep: Any = []
    for _ in range(970):
        deep = [deep]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # for this test's own json calls, deep in pytest's stack
    try:
        n = edit(c, first_index(c, is_kind("signal")), lambda ev: ev["payload"]["fields"].update(area=deep))
    finally:
        sys.setrecursionlimit(limit)
    return rf"events\.jsonl line {n} .*payload\.fields\.area must be one of"


def overlong_line(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 3)
    c.lines[i] = b'{"x":"' + b"a" * (2 << 20) + b'"}\n'
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: longer than"


def truncated(c: ExportCopy, ids: dict[str, str]) -> str:
    data = (c.folder / "events.jsonl").read_bytes()
    (c.folder / "events.jsonl").write_bytes(data[: len(data) - 40])
    n = len(c.lines)
    return rf"events\.jsonl line {n}: does not end with a newline"


def truncated_and_resealed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.lines[-1] = c.lines[-1][:-40]
    c.reseal(entries=False)
    return rf"events\.jsonl line {len(c.lines)}: is not JSON"


def no_final_newline(c: ExportCopy, ids: dict[str, str]) -> str:
    c.lines[-1] = c.lines[-1].rstrip(b"\n")
    c.reseal(entries=False)
    return rf"events\.jsonl line {len(c.lines)}: does not end with a newline"


def crlf(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 5)
    c.lines[i] = c.lines[i][:-1] + b"\r\n"
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: ends with CR LF"


def empty_line(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 4)
    c.lines.insert(i + 1, b"\n")
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 2}: is empty"


def byte_order_mark(c: ExportCopy, ids: dict[str, str]) -> str:
    c.lines[0] = b"\xef\xbb\xbf" + c.lines[0]
    c.reseal(entries=False)
    return r"events\.jsonl line 1: starts with a byte order mark"


def store_chain_not_intact(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["store_chain_intact"] = False
    c.write_manifest()
    return r"manifest\.json: store_chain_intact must be true"


def chain_version_in_manifest(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["chain_version"] = 2
    c.write_manifest()
    return r"manifest\.json: chain_version must be 1"


def format_version_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["format_version"] = 2
    c.write_manifest()
    return r"manifest\.json: format_version must be 1"


def manifest_count_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["counts"]["events"] += 1
    c.write_manifest()
    return r"manifest\.json: counts\.events is \d+, events\.jsonl has \d+ lines"


def manifest_case_count_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["counts"]["cases"] -= 1
    c.write_manifest()
    return r"manifest\.json: counts\.cases is"


def manifest_lines_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["files"]["events.jsonl"]["lines"] -= 1
    c.write_manifest()
    return r"manifest\.json: files\.events\.jsonl\.lines is"


def manifest_export_sha_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["export_sha256"] = "0" * 64
    c.write_manifest()
    return r"manifest\.json: export_sha256 differs"


def manifest_head_hash_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    entry = c.manifest["cases"][1]
    entry["head_hash"] = entry["anchor_prev_hash"].replace("0", "1")
    c.write_manifest()
    return rf"manifest\.json line \d+ \({entry['case_id']}\): head_hash is"


def manifest_entry_removed(c: ExportCopy, ids: dict[str, str]) -> str:
    gone = c.manifest["cases"].pop(1)
    c.manifest["counts"]["cases"] -= 1
    c.write_manifest()
    line = c.case_indexes(gone["case_id"])[0] + 1
    return rf"events\.jsonl line {line} \({gone['case_id']}\): .* is not listed in the manifest"


def manifest_entry_added_field(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["cases"][0]["note"] = "x"
    c.write_manifest()
    return r"manifest\.json line \d+: case entry fields differ .*'note'"


def manifest_field_added(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest = {**{k: v for k, v in c.manifest.items() if k != "cases"}, "signed_by": "x",
                  "cases": c.manifest["cases"]}
    c.write_manifest()
    return r"manifest\.json: fields differ from the specification \(unexpected: \['signed_by'\]"


def manifest_reformatted(c: ExportCopy, ids: dict[str, str]) -> str:
    (c.folder / "manifest.json").write_text(json.dumps(c.manifest, indent=4) + "\n", encoding="utf-8")
    c.write_sums()
    return r"manifest\.json line \d+: .*specified"


def manifest_definitions_emptied(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["definitions"] = []
    c.write_manifest()
    return r"manifest\.json: definitions list \[\], the events use \[\('passend-po', 1\)\]"


def manifest_since_after_events(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["filters"]["since"] = "2026-01-01"
    c.write_manifest()
    return r"events\.jsonl line 1 .*recorded before the export's since \(2026-01-01, school-local midnight = " \
           r"2025-12-31T23:00:00\.000000Z\)"


def manifest_school_filter(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["filters"].update(school="het-anker", schools=["het-anker"])
    c.write_manifest()
    return r"manifest\.json line \d+ \(C-[A-Z0-9]+\): school 'de-linde' is outside the export's filters\.schools"


def extra_file(c: ExportCopy, ids: dict[str, str]) -> str:
    (c.folder / "notes.txt").write_text("x", encoding="utf-8")
    return r"notes\.txt: not part of an export"


def extra_folder(c: ExportCopy, ids: dict[str, str]) -> str:
    (c.folder / "more").mkdir()
    return r"more: not part of an export"


def manifest_missing(c: ExportCopy, ids: dict[str, str]) -> str:
    (c.folder / "manifest.json").unlink()
    return r"manifest\.json: missing"


def sums_line_removed(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    path.write_text(path.read_text(encoding="ascii").splitlines(keepends=True)[0], encoding="ascii")
    return r"SHA256SUMS: no line for manifest\.json"


def sums_digest_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    path.write_text("f" * 64 + path.read_text(encoding="ascii")[64:], encoding="ascii")
    return r"SHA256SUMS: events\.jsonl: SHA-256 differs"


def sums_other_form(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    path.write_text(path.read_text(encoding="ascii").replace("  events", " *events"), encoding="ascii")
    return r"SHA256SUMS line 1: not \"<64 lower-case hex>  <file name>\""


def sums_extra_line(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    path.write_text(path.read_text(encoding="ascii") + "0" * 64 + "  notes.txt\n", encoding="ascii")
    return r"SHA256SUMS line 3: notes\.txt: expected exactly"


TAMPERINGS: dict[str, Callable[[ExportCopy, dict[str, str]], str]] = {f.__name__: f for f in (
    added_top_field, removed_top_field, added_payload_field, removed_payload_field, removed_optional_fields_rule,
    added_evidence_field, removed_evidence_field, unknown_evidence_kind, non_canonical_spacing,
    non_canonical_key_order, non_canonical_escapes, duplicate_key, float_in_payload, float_seq, nan_in_payload,
    unknown_event_type, plaintext_pupil, plaintext_secret, sealed_with_padding, sealed_other_version,
    sealed_too_short, sealed_where_plain_belongs, split_case, cases_out_of_order, reordered_lines,
    case_opened_removed, event_after_erasure, event_after_close, recorded_at_with_offset, upper_case_hash,
    chain_version_in_line, not_json, not_utf8, deeply_nested, nested_in_payload, overlong_line, truncated,
    truncated_and_resealed,
    no_final_newline, crlf, empty_line, byte_order_mark, store_chain_not_intact, chain_version_in_manifest,
    format_version_changed, manifest_count_changed, manifest_case_count_changed, manifest_lines_changed,
    manifest_export_sha_changed, manifest_head_hash_changed, manifest_entry_removed, manifest_entry_added_field,
    manifest_field_added, manifest_reformatted, manifest_definitions_emptied, manifest_since_after_events,
    manifest_school_filter, extra_file, extra_folder, manifest_missing, sums_line_removed, sums_digest_changed,
    sums_other_form, sums_extra_line,
)}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_the_checker_rejects_each_tampering(exports: Exports, tmp_path: Path, name: str) -> None:
    copy = copy_of(exports, tmp_path)
    tamper = TAMPERINGS[name]
    pattern = tamper(copy, exports.ids)
    r = run_checker(copy.folder)
    assert r.code == 1, r.out
    assert r.out.splitlines()[-1].startswith("BROKEN: ")
    assert any(re.search(pattern, f) for f in r.failures), f"{pattern!r} not in:\n{r.out}"


# ---- consistent rewrites: sound on their own, shown by an earlier manifest -----------------

def rewrite_tail(c: ExportCopy, ids: dict[str, str]) -> str:
    """An evaluation in the middle of a case made 'voldoende', every later hash recomputed."""
    i = next(i for i in c.case_indexes(ids["tlv"]) if is_kind("evaluation")(c.events()[i]))
    ev = c.events()[i]
    ev["payload"]["fields"]["outcome"] = "voldoende"
    c.put(i, ev)
    c.reseal()
    last = c.case_indexes(ids["tlv"])[-1]
    seq = c.events()[last]["seq"]
    return rf"events\.jsonl line {last + 1} \({ids['tlv']} seq {seq}\): differs from the head anchor .* rewritten"


def cut_tail(c: ExportCopy, ids: dict[str, str]) -> str:
    last = c.case_indexes(ids["tlv"])[-1]
    seq = c.events()[last]["seq"]
    del c.lines[last]
    c.reseal()
    return rf"anchor .* \({ids['tlv']}\): {ids['tlv']} ends at seq {seq - 1}, the anchor's head is seq {seq}"


def drop_case(c: ExportCopy, ids: dict[str, str]) -> str:
    gone = set(c.case_indexes(ids["back"]))
    c.lines = [line for i, line in enumerate(c.lines) if i not in gone]
    c.reseal()
    return rf"anchor .* line \d+ \({ids['back']}\): head seq \d+ of {ids['back']} is not extended: the case is missing"


def access_log_cut(c: ExportCopy, ids: dict[str, str]) -> str:
    log = c.manifest["access_log"]
    log.update(records=log["records"] - 1, head_hash="1" * 64 if log["records"] > 1 else "0" * 64)
    c.write_manifest()
    return r"anchor .*: the access log has \d+ records, the anchor saw \d+: records were removed"


REWRITES: dict[str, Callable[[ExportCopy, dict[str, str]], str]] = {
    f.__name__: f for f in (rewrite_tail, cut_tail, drop_case, access_log_cut)}


@pytest.mark.parametrize("name", list(REWRITES))
def test_a_consistent_rewrite_passes_alone_and_fails_against_an_earlier_manifest(
    exports: Exports, tmp_path: Path, name: str,
) -> None:
    copy = copy_of(exports, tmp_path)
    rewrite = REWRITES[name]
    pattern = rewrite(copy, exports.ids)
    alone = run_checker(copy.folder)
    assert alone.code == 0, alone.out  # every hash, link, count and SHA-256 agrees
    anchored = run_checker(copy.folder, "--anchor", exports.first / "manifest.json")
    assert anchored.code == 1, anchored.out
    assert any(re.search(pattern, f) for f in anchored.failures), f"{pattern!r} not in:\n{anchored.out}"


def test_an_honest_later_export_extends_every_head(exports: Exports) -> None:
    r = run_checker(exports.second, "--anchor", exports.first / "manifest.json", exports.first)
    assert r.code == 0, r.out
    heads = len(json.loads((exports.first / "manifest.json").read_text(encoding="utf-8"))["cases"])
    assert r.out.count(f": {heads} heads extended") == 2
    assert "passend audit verify --access-anchor" in r.out  # the log grew: checked in the store


def test_an_export_since_a_date_extends_the_heads_it_holds(exports: Exports) -> None:
    """The case with new events continues from the anchor's head (its anchor_prev_hash); the
    others have no events since the date and are reported as not confirmed, not as missing."""
    r = run_checker(exports.since, "--anchor", exports.first)
    assert r.code == 0, r.out
    cases = len(json.loads((exports.first / "manifest.json").read_text(encoding="utf-8"))["cases"])
    assert f": 1 heads extended, {cases - 1} not in this export's scope" in r.out


def test_a_rewritten_tail_is_caught_by_a_since_export_that_starts_after_it(
    exports: Exports, tmp_path: Path,
) -> None:
    """The since export continues the open case from its anchor: a different prev_hash there
    means the history before the window was rewritten."""
    copy = ExportCopy(exports.since, tmp_path / "since")
    i = copy.case_indexes(exports.ids["other"])[0]
    ev = copy.events()[i]
    ev["prev_hash"] = "ab" * 32
    copy.put(i, ev)
    copy.reseal()
    assert run_checker(copy.folder).code == 0
    r = run_checker(copy.folder, "--anchor", exports.first)
    assert r.code == 1
    assert any(f"continues {exports.ids['other']} from another head" in f for f in r.failures), r.out


# ---- definitions and usage -----------------------------------------------------------------

def test_definition_files_are_checked_against_their_hashes(exports: Exports, tmp_path: Path) -> None:
    folder = tmp_path / "states"
    folder.mkdir()
    text = (STATES / "passend_po_v1.toml").read_text(encoding="utf-8")
    (folder / "passend_po_v1.toml").write_text(text.replace("level = 4", "level = 3", 1), encoding="utf-8")
    r = run_checker(exports.first, "--definitions", folder)
    assert r.code == 1
    assert any(re.search(r"definition passend-po version 1: .* differs from the file that was in use", f)
               for f in r.failures), r.out
    (folder / "passend_po_v1.toml").unlink()
    assert "does not exist" in run_checker(exports.first, "--definitions", folder).out
    unchecked = run_checker(exports.first)
    assert unchecked.code == 0 and "NOTE definition files not checked" in unchecked.out


def test_usage_errors_exit_2_with_one_line(exports: Exports, tmp_path: Path) -> None:
    assert run_checker().code == 2
    assert run_checker(tmp_path / "nothing").code == 2
    assert run_checker(exports.first, "--definitions", tmp_path / "nothing").code == 2
    (tmp_path / "not-a-manifest.json").write_text("{}\n", encoding="utf-8")
    r = run_checker(exports.first, "--anchor", tmp_path / "not-a-manifest.json")
    assert r.code == 2 and "not a passend export manifest" in r.err
    r = run_checker(exports.first, "--anchor", tmp_path / "absent.json")
    assert r.code == 2 and "cannot read anchor" in r.err


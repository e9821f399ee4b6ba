"""Tampered event lines: docs/verify_export.py rejects every kind, naming the line.

Each tampering starts from a real export (the engine, a SQLite store, `audit export`) and, where
hashes would give it away, recomputes them: the hash of the changed line over whatever keys it
now has, every later link of its case, the manifest's counts and entries, and SHA256SUMS. What
is then left to catch it is the specification itself (exact fields, canonical bytes, types,
sealed values, the case's life, order), which is what these tests hold the checker to. The
folder, SHA256SUMS and the manifest: test_export_tampering_files.py; consistent rewrites and
--anchor: test_export_anchor.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STATES
from tests.export_support import (
    ExportCopy,
    Exports,
    Tampering,
    assert_rejected,
    build_exports,
    edit,
    first_index,
    is_kind,
    line_of,
    run_checker,
)


@pytest.fixture(scope="module")


def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return build_exports(tmp_path_factory.mktemp("store"))


# ---- the honest exports --------------------------------------------------------------------


def test_honest_exports_pass_and_a_faithful_reseal_changes_nothing(exports: Exports, tmp_path: Path) -> None:
    for folder in (exports.first, exports.second, exports.since):
        r = run_checker(folder, "--definitions", STATES)
        assert r.code == 0, r.out
        assert r.out.splitlines()[-1].startswith("OK: ")
    copy = ExportCopy(exports.first, tmp_path / "export")
    copy.reseal()  # the tests' own resealing, with nothing changed: byte for byte the export's
    for name in ("events.jsonl", "manifest.json", "SHA256SUMS"):
        assert (copy.folder / name).read_bytes() == (exports.first / name).read_bytes(), name


def test_every_event_type_and_optional_field_is_in_the_test_export(exports: Exports) -> None:
    # bytes.splitlines: str.splitlines would also split at the U+2028 a canonical line holds as is
    lines = (exports.first / "events.jsonl").read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    assert any("\u2028" in line.decode() for line in lines)
    assert {e["type"] for e in events} == {"case_opened", "evidence_recorded", "transitioned", "case_erased",
                                           "opp_drafted", "opp_evaluated", "rod_registered", "imported", "migrated"}
    payload_keys = {k for e in events for k in e["payload"]}
    assert {"adopts_opp", "ends_opp", "close_reason", "group", "name", "opp_version", "opp_hash",
            "uitstroombestemming", "opp_adopted_on", "rod_start_registered_on"} <= payload_keys
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


def hash_not_recomputed(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 2)
    ev = c.events()[i]
    ev["payload"]["fields"]["area"] = "rekenen"
    c.put(i, ev, rehash=False)
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*hash does not match the canonical form"


def not_an_object(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 3)
    c.lines[i] = b"[1]\n"
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: is an array, not a JSON object"


def infinity_in_payload(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 1)
    c.lines[i] = c.lines[i].replace(b'"level":1', b'"level":-Infinity', 1)
    c.reseal(entries=False)
    return rf"events\.jsonl line {i + 1}: is not JSON"


def added_secret_field(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, is_kind("signal")),
             lambda ev: ev["payload"]["secret"].update(extra=ev["payload"]["secret"]["note"]))
    return rf"events\.jsonl line {n} .*payload\.secret: unexpected field 'extra'"


def seq_as_string(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 3), lambda ev: ev.update(seq="3"))
    return rf"events\.jsonl line {n}: seq must be an integer >= 1"


def seq_zero(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: ev.update(seq=0))
    return rf"events\.jsonl line {n} .*seq must be an integer >= 1"


def impossible_date(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 2), lambda ev: ev["payload"].update(date="2025-02-30"))
    return rf"events\.jsonl line {n} .*payload\.date must be a date"


def value_outside_its_choices(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, is_kind("evaluation")), lambda ev: ev["payload"]["fields"].update(outcome="goed"))
    return rf"events\.jsonl line {n} .*payload\.fields\.outcome must be one of voldoende, onvoldoende"


def true_only_field_false(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: ev["type"] == "transitioned" and "adopts_opp" in ev["payload"])
    n = edit(c, i, lambda ev: ev["payload"].update(adopts_opp=False))
    return rf"events\.jsonl line {n} .*payload\.adopts_opp must be true"


def heard_without_text(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: is_kind("view")(ev) and not ev["payload"]["fields"]["heard"])
    n = edit(c, i, lambda ev: ev["payload"]["fields"].update(heard=True))
    return rf"events\.jsonl line {n} .*heard must be true exactly when payload\.secret holds text"


def view_with_text_and_reason(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: is_kind("view")(ev) and ev["payload"]["fields"]["heard"])
    n = edit(c, i, lambda ev: ev["payload"]["secret"].update(reason_not_heard=ev["payload"]["secret"]["text"]))
    return rf"events\.jsonl line {n} .*exactly one of text and reason_not_heard"


def outcome_of_a_meeting_not_bot(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: is_kind("meeting")(ev) and ev["payload"]["fields"]["kind"] == "expert")
    n = edit(c, i, lambda ev: ev["payload"]["fields"].update(outcome="advies"))
    return rf"events\.jsonl line {n} .*outcome is present exactly when kind is \"bot\""


def seq_gap(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 5)
    del c.lines[i]
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*seq 6 where 5 belongs"


def seq_repeated(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 5)
    c.lines.insert(i + 1, c.lines[i])
    c.reseal()
    return rf"events\.jsonl line {i + 2} .*seq 5 where 6 belongs"


def link_broken(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 6), lambda ev: ev.update(prev_hash="ab" * 32))
    return rf"events\.jsonl line {n} .*prev_hash is not the hash of the event before it"


def genesis_not_zero(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, c.index(ids["tlv"], 1), lambda ev: ev.update(prev_hash="1" * 64))
    return rf"events\.jsonl line {n} .*the first event's prev_hash must be 64 zeros"


def case_opened_later(c: ExportCopy, ids: dict[str, str]) -> str:
    opened = c.events()[c.index(ids["tlv"], 1)]
    n = edit(c, c.index(ids["tlv"], 3), lambda ev: ev.update(type="case_opened", payload=opened["payload"]))
    return rf"events\.jsonl line {n} .*case_opened only at seq 1"


def erased_but_never_closed(c: ExportCopy, ids: dict[str, str]) -> str:
    idx = c.case_indexes(ids["erased"])  # opened, signal, close, erased
    erased = json.loads(c.lines[idx[3]])
    erased["seq"] = 3
    c.lines[idx[2]] = line_of(erased)
    del c.lines[idx[3]]
    c.rehash(ids["erased"], idx[2])
    c.reseal()
    return rf"events\.jsonl line {idx[2] + 1} .*case_erased in a case that was never closed"


def not_from_seq_1(c: ExportCopy, ids: dict[str, str]) -> str:
    i = c.index(ids["tlv"], 1)
    del c.lines[i]
    c.reseal()
    return rf"events\.jsonl line {i + 1} .*starts at seq 2; an export without since starts every case at seq 1"


TAMPERINGS: dict[str, Tampering] = {f.__name__: f for f in (
    added_top_field, removed_top_field, added_payload_field, removed_payload_field, removed_optional_fields_rule,
    added_evidence_field, removed_evidence_field, unknown_evidence_kind, non_canonical_spacing,
    non_canonical_key_order, non_canonical_escapes, duplicate_key, float_in_payload, float_seq, nan_in_payload,
    unknown_event_type, plaintext_pupil, plaintext_secret, sealed_with_padding, sealed_other_version,
    sealed_too_short, sealed_where_plain_belongs, split_case, cases_out_of_order, reordered_lines,
    case_opened_removed, event_after_erasure, event_after_close, recorded_at_with_offset, upper_case_hash,
    chain_version_in_line, not_json, not_utf8, deeply_nested, nested_in_payload, overlong_line, truncated,
    truncated_and_resealed, no_final_newline, crlf, empty_line, byte_order_mark, hash_not_recomputed, not_an_object,
    infinity_in_payload, added_secret_field, seq_as_string, seq_zero, impossible_date, value_outside_its_choices,
    true_only_field_false, heard_without_text, view_with_text_and_reason, outcome_of_a_meeting_not_bot, seq_gap,
    seq_repeated, link_broken, genesis_not_zero, case_opened_later, erased_but_never_closed, not_from_seq_1,
)}


@pytest.mark.parametrize("name", list(TAMPERINGS))


def test_the_checker_rejects_each_tampering(exports: Exports, tmp_path: Path, name: str) -> None:
    assert_rejected(exports, tmp_path, TAMPERINGS[name])

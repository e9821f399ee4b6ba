"""Tampered export folders, SHA256SUMS and manifests: docs/verify_export.py rejects every kind.

As in test_export_tampering.py, every tampering is made on a real export, with SHA256SUMS (and
the manifest's own fields, where they would give it away) recomputed, so that only the rule
of the specification that it breaks is left to catch it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.export_support import ExportCopy, Exports, Tampering, assert_rejected, build_exports


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return build_exports(tmp_path_factory.mktemp("store"))


# Each returns a regular expression one FAIL line must match.

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
    return r"SHA256SUMS line 4: notes\.txt: expected exactly"


def store_chain_not_intact(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["store_chain_intact"] = False
    c.write_manifest()
    return r"manifest\.json: store_chain_intact must be true"


def chain_version_in_manifest(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["chain_version"] = 2
    c.write_manifest()
    return r"manifest\.json: chain_version must be 1"


def format_version_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["format_version"] = 1
    c.write_manifest()
    return r"manifest\.json: format_version must be 2"


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
    return r"manifest\.json: definitions list \[\], the events use \[\('passend-po', 1\), \('passend-po', 2\)\]"


def manifest_since_after_events(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["filters"]["since"] = "2026-01-01"
    c.write_manifest()
    return r"events\.jsonl line \d+ .*recorded before the export's since \(2026-01-01, school-local midnight = " \
           r"2025-12-31T23:00:00\.000000Z\)"


def manifest_school_filter(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["filters"].update(school="het-anker", schools=["het-anker"])
    c.write_manifest()
    return r"manifest\.json line \d+ \(C-[A-Z0-9]+\): school 'de-linde' is outside the export's filters\.schools"


def not_a_regular_file(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    elsewhere = c.folder.parent / "sums-elsewhere"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    return r"SHA256SUMS: not a regular file"


def sums_lines_swapped(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    path.write_text("".join(reversed(path.read_text(encoding="ascii").splitlines(keepends=True))), encoding="ascii")
    return r"SHA256SUMS line 1: proofs\.jsonl: expected exactly events\.jsonl, manifest\.json, proofs\.jsonl"


def sums_one_space(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    path.write_text(path.read_text(encoding="ascii").replace("  manifest", " manifest"), encoding="ascii")
    return r"SHA256SUMS line 2: not \"<64 lower-case hex>  <file name>\""


def sums_upper_case(c: ExportCopy, ids: dict[str, str]) -> str:
    path = c.folder / "SHA256SUMS"
    text = path.read_text(encoding="ascii")
    path.write_text(text[:64].upper() + text[64:], encoding="ascii")
    return r"SHA256SUMS line 1: not \"<64 lower-case hex>  <file name>\""


def manifest_key_order(c: ExportCopy, ids: dict[str, str]) -> str:
    m = c.manifest
    c.manifest = {"format_version": m.pop("format_version"), **m}
    c.write_manifest()
    return r"manifest\.json: fields differ from the specification \(unexpected: none, missing: none, or out of order\)"


def manifest_field_removed(c: ExportCopy, ids: dict[str, str]) -> str:
    del c.manifest["spec"]
    c.write_manifest()
    return r"manifest\.json: fields differ from the specification \(unexpected: none, missing: \['spec'\]\)"


def manifest_wrong_type(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["format_version"] = "2"
    c.write_manifest()
    return r"manifest\.json: format_version must be 2"


def manifest_format_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["format"] = "other-export"
    c.write_manifest()
    return r"manifest\.json: format must be \"passend-export\""


def manifest_spec_changed(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["spec"] = "docs/other.md"
    c.write_manifest()
    return r"manifest\.json: spec must be \"docs/event-chain\.md\""


def manifest_entry_without_events(c: ExportCopy, ids: dict[str, str]) -> str:
    ghost = {**c.manifest["cases"][-1], "case_id": "C-ZZZZZZZZ"}
    c.manifest["cases"].append(ghost)
    c.manifest["counts"]["cases"] += 1
    c.write_manifest()
    return r"manifest\.json line \d+ \(C-ZZZZZZZZ\): listed, but no events of it in events\.jsonl"


def manifest_entries_swapped(c: ExportCopy, ids: dict[str, str]) -> str:
    cases = c.manifest["cases"]
    cases[1], cases[2] = cases[2], cases[1]
    c.write_manifest()
    return rf"manifest\.json line \d+: {cases[2]['case_id']}: case entries must be in increasing case-id order"


def manifest_schools_not_school(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["filters"]["school"] = "de-linde"
    c.write_manifest()
    return r"manifest\.json: filters\.schools must be \[filters\.school\]"


def manifest_access_log_without_records(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["access_log"]["records"] = 0
    c.write_manifest()
    return r"manifest\.json: access_log\.head_hash must be 64 zeros when the log has no records"


def manifest_entry_wrong_type(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["cases"][0]["complete"] = "yes"
    c.write_manifest()
    return r"manifest\.json line \d+: complete must be true or false"


TAMPERINGS: dict[str, Tampering] = {f.__name__: f for f in (
    extra_file, extra_folder, manifest_missing, sums_line_removed, sums_digest_changed, sums_other_form,
    sums_extra_line, store_chain_not_intact, chain_version_in_manifest, format_version_changed,
    manifest_count_changed, manifest_case_count_changed, manifest_lines_changed, manifest_export_sha_changed,
    manifest_head_hash_changed, manifest_entry_removed, manifest_entry_added_field, manifest_field_added,
    manifest_reformatted, manifest_definitions_emptied, manifest_since_after_events, manifest_school_filter,
    not_a_regular_file, sums_lines_swapped, sums_one_space, sums_upper_case, manifest_key_order,
    manifest_field_removed, manifest_wrong_type, manifest_format_changed, manifest_spec_changed,
    manifest_entry_without_events, manifest_entries_swapped, manifest_schools_not_school,
    manifest_access_log_without_records, manifest_entry_wrong_type,
)}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_the_checker_rejects_each_tampering(exports: Exports, tmp_path: Path, name: str) -> None:
    assert_rejected(exports, tmp_path, TAMPERINGS[name])

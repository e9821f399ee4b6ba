"""Consistent rewrites: sound on their own, shown by an earlier manifest (--anchor).

A rewrite that recomputes every hash after the change, the manifest and SHA256SUMS leaves an
export that passes every check made on it alone; only a head noted earlier, outside the system,
shows it. These tests make such rewrites of a real export, see them pass alone, and see
docs/verify_export.py reject them with the first export's manifest as anchor; an honest later
export (and one made with --since) extends every head. Also: --definitions and usage errors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import STATES
from tests.export_support import ExportCopy, Exports, Tampering, build_exports, is_kind, run_checker


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return build_exports(tmp_path_factory.mktemp("store"))


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


def access_log_rewritten(c: ExportCopy, ids: dict[str, str]) -> str:
    c.manifest["access_log"]["head_hash"] = "2" * 64
    c.write_manifest()
    return r"anchor .*: the access log has as many records as the anchor saw but another head"


REWRITES: dict[str, Tampering] = {
    f.__name__: f for f in (rewrite_tail, cut_tail, drop_case, access_log_cut, access_log_rewritten)}


@pytest.mark.parametrize("name", list(REWRITES))
def test_a_consistent_rewrite_passes_alone_and_fails_against_an_earlier_manifest(
    exports: Exports, tmp_path: Path, name: str,
) -> None:
    copy = ExportCopy(exports.first, tmp_path / "export")
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
    # a manifest that gives no SHA-256 for a file (it could not be read when exporting)
    copy = ExportCopy(exports.first, tmp_path / "export")
    copy.manifest["definitions"][0]["sha256"] = None
    copy.write_manifest()
    assert run_checker(copy.folder).code == 0
    r = run_checker(copy.folder, "--definitions", STATES)
    assert r.code == 1 and any("had no SHA-256" in f for f in r.failures), r.out


def test_usage_errors_exit_2_with_one_line(exports: Exports, tmp_path: Path) -> None:
    assert run_checker().code == 2
    assert run_checker(tmp_path / "nothing").code == 2
    assert run_checker(exports.first, "--definitions", tmp_path / "nothing").code == 2
    (tmp_path / "not-a-manifest.json").write_text("{}\n", encoding="utf-8")
    r = run_checker(exports.first, "--anchor", tmp_path / "not-a-manifest.json")
    assert r.code == 2 and "not a passend export manifest" in r.err
    r = run_checker(exports.first, "--anchor", tmp_path / "absent.json")
    assert r.code == 2 and "cannot read anchor" in r.err

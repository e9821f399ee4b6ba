"""Tampered lines of the later event types (the OPP document, ROD, import, migration): the
standard-library checker rejects each, naming the line, with the hash and every later link, the
manifest and SHA256SUMS recomputed so that only the specification (docs/event-chain.md) is left
to catch it. The store and exports are those of test_export_tampering.py (tests/export_support.py
builds them: its `later_kinds` writes every one of these event types)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.export_support import ExportCopy, Exports, Tampering, assert_rejected, build_exports, edit, first_index


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return build_exports(tmp_path_factory.mktemp("store"))


def typed(kind: str) -> Any:
    return lambda ev: ev["type"] == kind


def opp_plaintext_text(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")), lambda ev: ev["payload"]["texts"].update(rationale="kader"))
    return rf"events\.jsonl line {n} .*payload\.texts\.rationale must be sealed"


def opp_plaintext_handelingsdeel(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")), lambda ev: ev["payload"]["handelingsdeel"].update(who="juf"))
    return rf"events\.jsonl line {n} .*payload\.handelingsdeel\.who must be sealed"


def opp_unknown_part(c: ExportCopy, ids: dict[str, str]) -> str:
    def change(ev: dict[str, Any]) -> None:
        ev["payload"]["texts"]["diagnose"] = ev["payload"]["texts"]["rationale"]
    n = edit(c, first_index(c, typed("opp_drafted")), change)
    return rf"events\.jsonl line {n} .*payload\.texts: unexpected field 'diagnose'"


def opp_goal_in_the_clear(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")), lambda ev: ev["payload"]["goals"][0].update(text="AVI E5"))
    return rf"events\.jsonl line {n} .*payload\.goals\[0\]: area must be one of .* and text sealed"


def opp_hash_not_hex(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")), lambda ev: ev["payload"].update(hash="ABC"))
    return rf"events\.jsonl line {n} .*payload\.hash must be 64 lower-case hex digits"


def opp_handelingsdeel_hash_removed(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")), lambda ev: ev["payload"].pop("handelingsdeel_hash"))
    return rf"events\.jsonl line {n} .*payload: missing field 'handelingsdeel_hash'"


def opp_moments_out_of_order(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")),
             lambda ev: ev["payload"].update(evaluation_moments=list(reversed(ev["payload"]["evaluation_moments"]))))
    return rf"events\.jsonl line {n} .*payload\.evaluation_moments must be dates"


def opp_version_float(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_drafted")), lambda ev: ev["payload"].update(version=1.0))
    return rf"events\.jsonl line {n} .*event\.payload\.version is a float"


def opp_goal_result_unknown(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_evaluated")),
             lambda ev: ev["payload"]["goals"][0].update(reached="bijna"))
    return rf"events\.jsonl line {n} .*payload\.goals\[0\] must be"


def opp_evaluation_notes_plain(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("opp_evaluated")), lambda ev: ev["payload"]["secret"].update(notes="goed"))
    return rf"events\.jsonl line {n} .*payload\.secret\.notes must be sealed"


def consent_hash_without_version(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: ev["type"] == "evidence_recorded" and "opp_hash" in ev["payload"]["fields"])
    n = edit(c, i, lambda ev: ev["payload"]["fields"].pop("opp_version"))
    return rf"events\.jsonl line {n} .*opp_version, opp_hash and handelingsdeel_hash are present together"


def adoption_hash_not_hex(c: ExportCopy, ids: dict[str, str]) -> str:
    i = first_index(c, lambda ev: ev["type"] == "transitioned" and "opp_hash" in ev["payload"])
    n = edit(c, i, lambda ev: ev["payload"].update(opp_hash="x" * 64))
    return rf"events\.jsonl line {n} .*payload\.opp_hash must be 64 lower-case hex digits"


def rod_which_unknown(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("rod_registered")), lambda ev: ev["payload"].update(which="begin"))
    return rf"events\.jsonl line {n} .*payload\.which must be one of start, end"


def rod_registered_before_the_date(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("rod_registered")),
             lambda ev: ev["payload"].update(registered_on="2000-01-01"))
    return rf"events\.jsonl line {n} .*registered_on lies before payload\.opp_date"


def event_after_close_not_rod(c: ExportCopy, ids: dict[str, str]) -> str:
    """The closed migrated case's last event is its ROD end registration; made a signal, it
    breaks the rule that only rod_registered and case_erased follow a closing."""
    i = c.case_indexes(ids["migrated"])[-1]
    def change(ev: dict[str, Any]) -> None:
        ev["type"] = "evidence_recorded"
        ev["payload"] = {"kind": "contact", "date": ev["payload"]["opp_date"], "level": 4, "state": "afgesloten",
                         "fields": {"party": "ouders", "method": "brief"}, "secret": {}}
    n = edit(c, i, change)
    return rf"events\.jsonl line {n} .*only rod_registered and case_erased may follow"


def imported_not_second(c: ExportCopy, ids: dict[str, str]) -> str:
    """An `imported` event moved to seq 3 (the case's first evidence relabelled)."""
    i = c.case_indexes(ids["tlv"])[2]
    def change(ev: dict[str, Any]) -> None:
        ev["type"] = "imported"
        ev["payload"] = {"state": "niveau_3", "level": 3, "level_since": "2025-09-01", "state_since": "2025-09-01",
                         "reason": "x"}
    n = edit(c, i, change)
    return rf"events\.jsonl line {n} .*imported only at seq 2"


def imported_rod_without_adoption(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("imported")), lambda ev: ev["payload"].pop("opp_adopted_on"))
    return rf"events\.jsonl line {n} .*rod_start_registered_on is present only with opp_adopted_on"


def imported_reason_missing(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("imported")), lambda ev: ev["payload"].pop("reason"))
    return rf"events\.jsonl line {n} .*payload: missing field 'reason'"


def migrated_under_the_old_version(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("migrated")), lambda ev: ev.update(process=[ev["process"][0], 1]))
    return rf"events\.jsonl line {n} .*decided under the version it moves to"


def migrated_from_another_version(c: ExportCopy, ids: dict[str, str]) -> str:
    def change(ev: dict[str, Any]) -> None:
        ev["payload"]["from_version"] = 3
        ev["payload"]["to_version"] = 4
        ev["process"] = [ev["process"][0], 4]
    n = edit(c, first_index(c, typed("migrated")), change)
    return rf"events\.jsonl line {n} .*moves from the version of the event before it"


def migrated_states_not_text(c: ExportCopy, ids: dict[str, str]) -> str:
    n = edit(c, first_index(c, typed("migrated")), lambda ev: ev["payload"]["states"].update(niveau_1=1))
    return rf"events\.jsonl line {n} .*payload\.states must be an object of non-empty strings"


TAMPERINGS: dict[str, Tampering] = {f.__name__: f for f in (
    opp_plaintext_text, opp_plaintext_handelingsdeel, opp_unknown_part, opp_goal_in_the_clear, opp_hash_not_hex,
    opp_handelingsdeel_hash_removed, opp_moments_out_of_order, opp_version_float, opp_goal_result_unknown,
    opp_evaluation_notes_plain, consent_hash_without_version, adoption_hash_not_hex, rod_which_unknown,
    rod_registered_before_the_date, event_after_close_not_rod, imported_not_second, imported_rod_without_adoption,
    imported_reason_missing, migrated_under_the_old_version, migrated_from_another_version, migrated_states_not_text,
)}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_the_checker_rejects_each_tampering_of_the_later_types(exports: Exports, tmp_path: Path, name: str) -> None:
    assert_rejected(exports, tmp_path, TAMPERINGS[name])


def test_the_later_types_pass_the_checker_untouched(exports: Exports) -> None:
    from tests.conftest import STATES
    from tests.export_support import run_checker

    r = run_checker(exports.first, "--definitions", STATES)
    assert r.code == 0, r.out

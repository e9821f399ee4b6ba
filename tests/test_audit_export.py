"""Export: JSON Lines + manifest, checked by the example standard-library script as a subprocess."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, clocked_engine, journey_to_tlv, quick_closed
from workflow.service_layer.access import access_records
from workflow.service_layer.audit.export import export

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "docs" / "verify_export.py"
T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)


def _cases(folder: Path) -> list[dict[str, Any]]:
    """The manifest's case entries, from the file: export() returns the manifest without them."""
    return list(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["cases"])


def _run_script(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(folder)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_export_is_verified_by_the_example_script(config_path: Path, tmp_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    a = journey_to_tlv(engine, clock, note='quote " backslash \\ newline \n tab \t € ü \u2028 <script>')
    b = quick_closed(engine, pupil="LL-2")
    other = engine.open_case(pupil="LL-3", school="het-anker", actor="ib.smit")["case_id"]
    # a plain (unencrypted) field with every character class the canonical form must escape or keep
    engine.record("plan", other, actor="ib.smit", start=T0.date(), end=T0.date() + dt.timedelta(days=30),
                  goals="g", who="w", frequency='3x "per" week \\ / \x01 \x7f é € \u2028 <b>')
    out = tmp_path / "export"
    m = export(engine, out, actor="auditor")
    assert m["counts"] == {"cases": 3, "events": 25 + 3 + 2}
    assert m["store_chain_intact"] is True
    assert "cases" not in m
    assert {c["case_id"] for c in _cases(out)} == {a, b, other}
    assert m["definitions"][0]["id"] == "passend-po" and len(m["definitions"][0]["sha256"]) == 64
    r = _run_script(out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK: 3 cases, 30 events" in r.stdout
    # the export was logged per case
    assert [x.action for x in access_records(engine, a, actor="auditor")] == ["audit.export"]

    # one changed byte in a line's payload: the script fails
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    ev = json.loads(lines[3])
    lines[3] = lines[3].replace('"level":', '"level": ', 1) if '"level":2' not in lines[3] \
        else lines[3].replace('"level":2', '"level":3', 1)
    (out / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    bad = _run_script(out)
    assert bad.returncode == 1 and "FAIL" in bad.stdout
    assert ev["case_id"] in bad.stdout or "events.jsonl" in bad.stdout

    # a school filter and a since filter
    only = export(engine, tmp_path / "anker", actor="auditor", school="het-anker")
    assert only["counts"]["cases"] == 1
    assert [c["case_id"] for c in _cases(tmp_path / "anker")] == [other]
    assert _run_script(tmp_path / "anker").returncode == 0
    clock.advance(days=400)
    engine.record("signal", other, actor="ib.smit", area="gedrag", note="n")
    later = export(engine, tmp_path / "since", actor="auditor", since=clock.now.date())
    assert later["counts"]["cases"] == 1
    assert [(c["case_id"], c["first_seq"], c["complete"]) for c in _cases(tmp_path / "since")] == [(other, 3, False)]
    assert _run_script(tmp_path / "since").returncode == 0
    engine.db.dispose()


def test_cli_export(config_path: Path, cli: Any, tmp_path: Path) -> None:
    engine, _ = clocked_engine(config_path, T0)
    quick_closed(engine, pupil="LL-5")
    engine.db.dispose()
    out = tmp_path / "x"
    r = cli("audit", "export", "--out", str(out), "--json")
    assert r.code == 0, r.err
    assert r.json()["counts"]["events"] == 3
    assert _run_script(out).returncode == 0
    again = cli("audit", "export", "--out", str(out))
    assert again.code == 2 and "niet leeg" in again.err
    assert cli("audit", "export", "--out", str(tmp_path / "y"), "--since", "gisteren").code == 2
    refused = cli("audit", "export", "--out", str(tmp_path / "z"), "--school", "het-anker", "--actor", IB)
    assert refused.code == 3


@pytest.mark.parametrize("chunk", [500, 2])
def test_manifest_is_written_entry_by_entry_as_json_dumps_would(
    config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int,
) -> None:
    """The case entries go through a temporary file a chunk at a time (2: every chunk boundary
    is crossed), and the manifest's bytes are still those of json.dumps(indent=2) of the whole."""
    from workflow.service_layer.audit import export as export_module

    monkeypatch.setattr(export_module._Finisher, "CHUNK", chunk)
    engine, _clock = clocked_engine(config_path, T0)
    ids = sorted([quick_closed(engine, pupil=f"LL-{i}") for i in range(3)]
                 + [engine.open_case(pupil="LL-A", school="het-anker", actor="ib.smit")["case_id"]])
    out = tmp_path / "x"
    m = export(engine, out, actor="auditor")
    text = (out / "manifest.json").read_text(encoding="utf-8")
    whole = json.loads(text)
    assert text == json.dumps(whole, ensure_ascii=False, indent=2) + "\n"
    assert {k: v for k, v in whole.items() if k != "cases"} == m
    assert m["store_chain_intact"] is True and m["counts"] == {"cases": 4, "events": 3 * 3 + 1}
    assert [c["case_id"] for c in whole["cases"]] == ids
    schools = {c["case_id"]: c["school"] for c in whole["cases"]}
    assert sorted(schools.values()) == ["de-linde"] * 3 + ["het-anker"]
    assert all(c["store_version"] == c["last_seq"] and c["store_head_hash"] == c["head_hash"]
               and c["complete"] for c in whole["cases"])
    sums = dict(line.split("  ")[::-1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sums["manifest.json"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert _run_script(out).returncode == 0
    # every exported case is in the access log, once
    for cid in ids:
        assert [x.action for x in access_records(engine, cid, actor="auditor")] == ["audit.export"]

    # a projection that no longer matches its chain is caught, in whichever chunk it falls
    from sqlalchemy import update

    from workflow.adapters.store.tables import cases
    with engine.db.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_id == ids[-1]).values(version=99))
    again = export(engine, tmp_path / "y", actor="auditor")
    assert again["store_chain_intact"] is False
    engine.db.dispose()


def test_an_empty_export(config_path: Path, tmp_path: Path) -> None:
    engine, _clock = clocked_engine(config_path, T0)
    m = export(engine, tmp_path / "leeg", actor="auditor")
    text = (tmp_path / "leeg" / "manifest.json").read_text(encoding="utf-8")
    assert m["counts"] == {"cases": 0, "events": 0} and json.loads(text)["cases"] == []
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"
    engine.db.dispose()

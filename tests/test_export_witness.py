"""The export's inclusion proofs (proofs.jsonl): every case's head in the newest witness root,
checked by docs/verify_export.py against the root and the events, and, with `--witness`, the
root against the mail a witness kept. A consistent rewrite of an export (events, manifest and
sums recomputed) that passes every other offline check is caught by the proofs, and a rewrite of
the proofs and the root with it by the pinned root."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB, clocked_engine, journey_to_opp, quick_closed
from tests.conftest import write_config
from tests.export_support import ExportCopy, first_index, is_kind, run_checker
from tests.reminders_support import free_port, smtp_server
from tests.witness_support import save_mails, witness_extra
from workflow.bootstrap import reminder_service
from workflow.domain.merkle import Levels, leaf_hash, root_from_proof
from workflow.service_layer.audit.export import export

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A store with three cases, its root mailed to a witness (saved as .eml), then grown by one
    event and one case; an export of all of it, and one of one school."""
    base = tmp_path_factory.mktemp("witnessed")
    port = free_port()
    cfg = write_config(base, f"sqlite:///{base / 'passend.db'}", extra=witness_extra(port, to=("a@b.example",)))
    engine, clock = clocked_engine(cfg, T0)
    ids = [journey_to_opp(engine, clock, pupil=f"LL-{i}") for i in range(2)]
    ids.append(quick_closed(engine, pupil="LL-9"))
    evening = clock.now.replace(hour=19)
    with smtp_server(port) as (_, inbox):
        assert reminder_service(engine, now=lambda: evening).tick()["sent"] == 1
    mails = save_mails(inbox, base / "getuige")
    clock.advance(days=1)
    engine.record("contact", ids[0], actor=IB, method="telefoon")
    new = engine.open_case(pupil="LL-50", school="de-linde", actor=IB)["case_id"]
    export(engine, base / "all", actor="auditor")
    export(engine, base / "linde", actor="auditor", school="de-linde")
    engine.db.dispose()
    return base, ids, new, mails[0]


def test_the_proofs_hold_and_the_root_is_the_witnessed_one(witnessed: Any) -> None:
    base, ids, new, mail = witnessed
    m = json.loads((base / "all" / "manifest.json").read_text(encoding="utf-8"))
    w = m["witness"]
    assert w["cases"] == 3 and m["files"]["proofs.jsonl"]["lines"] == 3
    proofs = [json.loads(line) for line in (base / "all" / "proofs.jsonl").read_text().splitlines()]
    assert [p["case_id"] for p in proofs] == sorted(ids) and new not in {p["case_id"] for p in proofs}
    for p in proofs:
        leaf = leaf_hash(p["case_id"], p["seq"], p["head_hash"])
        assert root_from_proof(leaf, p["index"], w["cases"], p["path"]) == w["root"]
    for folder in ("all", "linde"):
        r = run_checker(base / folder, "--witness", mail)
        assert r.code == 0, r.out
        assert f"witness root of {w['day']}:" in r.out


def _tampered(witnessed: Any, tmp_path: Path, change: Any) -> Any:
    base = witnessed[0]
    copy = ExportCopy(base / "all", tmp_path / "export")
    change(copy)
    return copy


def test_a_tampered_proof_is_rejected(witnessed: Any, tmp_path: Path) -> None:
    def flip(copy: ExportCopy) -> None:
        path = copy.folder / "proofs.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        p = json.loads(lines[1])
        p["path"][0] = hashlib.sha256(b"x").hexdigest()
        lines[1] = json.dumps(p, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        path.write_bytes(b"".join(lines))
        copy.reseal()

    r = run_checker(_tampered(witnessed, tmp_path, flip).folder)
    assert r.code == 1 and any("does not lead to the witness root" in f for f in r.failures), r.out


def test_a_removed_proof_is_rejected(witnessed: Any, tmp_path: Path) -> None:
    def drop(copy: ExportCopy) -> None:
        path = copy.folder / "proofs.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:1] + lines[2:]))
        copy.reseal()

    r = run_checker(_tampered(witnessed, tmp_path, drop).folder)
    assert r.code == 1 and any("2 proofs, the witness root of" in f for f in r.failures), r.out


def test_a_consistent_rewrite_is_caught_by_the_proofs(witnessed: Any, tmp_path: Path) -> None:
    _base, ids, _new, _mail = witnessed

    def rewrite(copy: ExportCopy) -> None:
        i = first_index(copy, lambda ev: ev["case_id"] == ids[1] and is_kind("plan")(ev))
        ev = copy.events()[i]
        ev["payload"]["fields"]["frequency"] = "1x"
        copy.put(i, ev)  # its hash and every later link of the case recomputed
        copy.reseal()

    copy = _tampered(witnessed, tmp_path, rewrite)
    alone = run_checker(copy.folder)  # no anchor, no witness mail: the proofs alone
    assert alone.code == 1, alone.out
    assert any(ids[1] in f and "rewritten" in f for f in alone.failures), alone.out


def test_proofs_and_root_rewritten_too_are_caught_by_the_witness_mail(witnessed: Any, tmp_path: Path) -> None:
    """The rewriter recomputes the tree, every proof and the manifest's root as well: the export
    then holds on its own, and only the root a witness kept shows it."""
    _base, ids, _new, mail = witnessed

    def rewrite_all(copy: ExportCopy) -> None:
        i = first_index(copy, lambda ev: ev["case_id"] == ids[1] and is_kind("plan")(ev))
        ev = copy.events()[i]
        ev["payload"]["fields"]["frequency"] = "1x"
        copy.put(i, ev)
        old = [json.loads(line) for line in (copy.folder / "proofs.jsonl").read_text().splitlines()]
        heads = {}
        for e in copy.events():
            heads.setdefault(e["case_id"], {})[e["seq"]] = e["hash"]
        leaves = [(p["case_id"], p["seq"], heads[p["case_id"]][p["seq"]]) for p in old]
        with Levels(leaf_hash(*leaf) for leaf in leaves) as levels:
            copy.manifest["witness"]["root"] = levels.root()
            lines = [json.dumps({"case_id": c, "head_hash": h, "index": k, "path": levels.proof(k), "seq": s},
                                sort_keys=True, separators=(",", ":")).encode() + b"\n"
                     for k, (c, s, h) in enumerate(leaves)]
        (copy.folder / "proofs.jsonl").write_bytes(b"".join(lines))
        copy.reseal()

    copy = _tampered(witnessed, tmp_path, rewrite_all)
    assert run_checker(copy.folder).code == 0  # consistent: nothing inside the export shows it
    pinned = run_checker(copy.folder, "--witness", mail)
    assert pinned.code == 1
    assert any("differs from the one the witness kept" in f for f in pinned.failures), pinned.out

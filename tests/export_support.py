"""Helpers for the export tests: the standard-library checker run as an auditor would run it, a
store holding every kind of event, and an export copy a test can tamper with and reseal."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.audit_support import IB, Clock, clocked_engine, journey_to_opp, journey_to_tlv, quick_closed
from tests.conftest import write_config
from workflow.service_layer.audit.export import export
from workflow.service_layer.engine import Engine

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "docs" / "verify_export.py"
SCHEMAS = REPO / "docs" / "schema"


@functools.cache
def system_python() -> str:
    """The machine's own python3 (>= 3.11), not the project's virtualenv: the checker promises
    to need nothing but the standard library. sys.executable only when there is no such one."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3"), sys.executable):
        if candidate and Path(candidate).is_file():
            probe = subprocess.run([candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
                                   capture_output=True, timeout=30, check=False)
            if probe.returncode == 0:
                return candidate
    return sys.executable


@dataclass
class Checked:
    code: int
    out: str
    err: str

    @property
    def failures(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("FAIL ")]


def run_checker(*args: str | Path) -> Checked:
    """docs/verify_export.py in a fresh interpreter without site-packages (-I -S): only the
    standard library can be imported. A traceback is a failure of the checker, whatever it says."""
    r = subprocess.run([system_python(), "-I", "-S", str(CHECKER), *map(str, args)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return Checked(r.returncode, r.stdout, r.stderr)


def every_kind_of_case(engine: Engine, clock: Clock) -> dict[str, str]:
    """Cases that between them write every event type and every optional payload field: all
    evidence kinds, adopts_opp, ends_opp, close_reason, group, name, case_erased, and plain
    text with every character class the canonical form escapes or keeps."""
    tlv = journey_to_tlv(engine, clock, note='quote " backslash \\ newline \n tab \t € ü \u2028 <script>')
    back = journey_to_opp(engine, clock, pupil="LL-9", name=None)
    clock.advance(days=20)
    engine.record("evaluation", back, actor=IB, outcome="voldoende", subject="opp", with_parents=True)
    engine.record("meeting", back, actor=IB, kind="oogo", participants="ouders", summary="terug naar 3")
    engine.fire(back, "deescalate", actor=IB)  # ends_opp
    erased = quick_closed(engine, pupil="LL-2")
    other = engine.open_case(pupil="LL-3", school="het-anker", actor="ib.smit")["case_id"]
    start = clock.now.date()
    engine.record("plan", other, actor="ib.smit", start=start, end=start + dt.timedelta(days=30), goals="g",
                  who="w", frequency='3x "per" week \\ / \x01 \x7f é € \u2028 <b>')
    engine.record("consent", other, actor="ib.smit", scope="gegevensdeling_swv", status="granted", by="moeder",
                  recipient="SWV", legal_basis="AVG art. 6 lid 1 sub e", purpose="arrangement")
    engine.record("contact", other, actor="ib.smit", party="externe", method="email", note="mail")
    clock.advance(days=3 * 365 + 30)
    engine.erase(erased, actor=IB, reason="bewaartermijn verstreken")
    engine.record("signal", other, actor="ib.smit", area="gedrag", note="n")
    return {"tlv": tlv, "back": back, "erased": erased, "other": other, **later_kinds(engine, clock)}


def later_kinds(engine: Engine, clock: Clock) -> dict[str, str]:
    """The event types of the OPP document, ROD, import and migration, with every optional
    field: a case imported with an adopted OPP and its ROD registration; a case moved from
    version 1 to 2 (the OPP document), drafted, consented, adopted, registered, evaluated per
    goal, closed with its OPP in force, and its end date registered after the closing."""
    from tests.opp_support import draft_full, to_concept
    from workflow.service_layer import imports, migrate, opp, rod

    today = engine.today()
    imp = imports.import_one(engine, actor=IB, pupil="LL-5", school="de-linde", state="opp_vastgesteld",
                             since=(today - dt.timedelta(days=200)).isoformat(),
                             opp_adopted_on=(today - dt.timedelta(days=150)).isoformat(),
                             rod_start_registered_on=(today - dt.timedelta(days=140)).isoformat(),
                             reason="overgenomen uit Tommy", group="7")["case_ids"][0]
    mig = to_concept(engine, clock, pupil="LL-6", name="Noor")
    migrate.migrate(engine, to=2, actor=IB, case_id=mig)
    draft_full(engine, mig)
    engine.record("consent", mig, actor=IB, scope="opp_handelingsdeel", status="granted", by="moeder")
    engine.fire(mig, "adopt_opp", actor=IB)
    rod.mark(engine, mig, actor=IB, which="start", registered_on=engine.today())
    clock.advance(days=30)
    opp.evaluate(engine, mig, actor=IB, results={1: "behaald", 2: "deels_behaald"}, outcome="voldoende",
                 with_parents=True, notes="goed gesprek")
    engine.fire(mig, "close", actor=IB, params={"reason": "verhuisd"})
    clock.advance(days=3)
    rod.mark(engine, mig, actor=IB, which="end", registered_on=engine.today())
    return {"imported": imp, "migrated": mig}


def naive_canonical(event: dict[str, Any]) -> bytes:
    """What a tamperer hashes: every key the event has but hash, sorted, payload last. For an
    event of the specified shape it is the canonical form; for any other it is what a checker
    that hashes "whatever keys a line has" would accept."""
    head = {k: v for k, v in event.items() if k not in ("hash", "payload")}
    text = json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text[:-1] + ',"payload":' + json.dumps(event["payload"], sort_keys=True, separators=(",", ":"),
                                                    ensure_ascii=False) + "}"
    return text.encode("utf-8")


def line_of(event: dict[str, Any]) -> bytes:
    return naive_canonical(event)[:-1] + b',"hash":' + json.dumps(event["hash"]).encode() + b"}\n"


class ExportCopy:
    """A copy of an export folder, its lines and manifest in memory, to tamper with and reseal.

    `rehash` recomputes the hashes and links of one case from a line on, `reseal` the manifest
    (every count, entry and SHA-256) and SHA256SUMS from the lines: a consistent rewrite."""

    def __init__(self, source: Path, folder: Path) -> None:
        shutil.copytree(source, folder)
        self.folder = folder
        self.lines: list[bytes] = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)
        self.manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def index(self, case_id: str, seq: int) -> int:
        for i, ev in enumerate(self.events()):
            if ev["case_id"] == case_id and ev["seq"] == seq:
                return i
        raise LookupError((case_id, seq))

    def case_indexes(self, case_id: str) -> list[int]:
        return [i for i, ev in enumerate(self.events()) if ev["case_id"] == case_id]

    def put(self, i: int, event: dict[str, Any], *, rehash: bool = True) -> None:
        """Replace line i by `event`; with rehash its hash and every later link of its case."""
        self.lines[i] = line_of(event)
        if rehash:
            self.rehash(event["case_id"], i)

    def rehash(self, case_id: str, start: int) -> None:
        prev: str | None = None
        for i in self.case_indexes(case_id):
            if i < start:
                prev = json.loads(self.lines[i])["hash"]
                continue
            ev = json.loads(self.lines[i])
            if prev is not None and i > start:
                ev["prev_hash"] = prev
            ev.pop("hash", None)
            ev["hash"] = hashlib.sha256(naive_canonical(ev)).hexdigest()
            self.lines[i] = line_of(ev)
            prev = ev["hash"]

    def write_events(self) -> None:
        (self.folder / "events.jsonl").write_bytes(b"".join(self.lines))

    def reseal(self, *, entries: bool = True) -> None:
        """Write events.jsonl and a manifest and SHA256SUMS that agree with it."""
        self.write_events()
        data = (self.folder / "events.jsonl").read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        m = self.manifest
        if entries:
            m["cases"] = list(_entries(self.events(), {c["case_id"]: c["school"] for c in m["cases"]}))
            m["counts"] = {"cases": len(m["cases"]), "events": len(self.lines)}
        proofs = (self.folder / "proofs.jsonl").read_bytes()
        m["files"] = {"events.jsonl": {"sha256": sha, "lines": len(self.lines)},
                      "proofs.jsonl": {"sha256": hashlib.sha256(proofs).hexdigest(), "lines": proofs.count(b"\n")}}
        m["export_sha256"] = sha
        self.write_manifest()

    def write_manifest(self) -> None:
        text = json.dumps(self.manifest, ensure_ascii=False, indent=2) + "\n"
        (self.folder / "manifest.json").write_text(text, encoding="utf-8")
        self.write_sums()

    def write_sums(self) -> None:
        sums = [f"{hashlib.sha256((self.folder / n).read_bytes()).hexdigest()}  {n}\n"
                for n in ("events.jsonl", "manifest.json", "proofs.jsonl")]
        (self.folder / "SHA256SUMS").write_text("".join(sums), encoding="ascii")


def _entries(events: Iterable[dict[str, Any]], schools: dict[str, str]) -> Iterable[dict[str, Any]]:
    by_case: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_case.setdefault(ev["case_id"], []).append(ev)
    for cid, evs in by_case.items():
        yield {"case_id": cid, "events": len(evs), "first_seq": evs[0]["seq"],
               "anchor_prev_hash": evs[0]["prev_hash"], "last_seq": evs[-1]["seq"], "head_hash": evs[-1]["hash"],
               "process_versions": sorted({e["process"][1] for e in evs}), "school": schools.get(cid),
               "store_version": evs[-1]["seq"], "store_head_hash": evs[-1]["hash"],
               "complete": evs[0]["seq"] == 1 and evs[0]["prev_hash"] == "0" * 64}


# ---- a store's exports to tamper with ------------------------------------------------------

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)
Tampering = Callable[[ExportCopy, dict[str, str]], str]  # tampers, returns the FAIL it must cause


@dataclass(frozen=True)
class Exports:
    first: Path    # the store's first export
    second: Path   # after honest growth: one more event on an open case, one new case
    since: Path    # the same store, only the events since the growth day
    ids: dict[str, str]


def build_exports(base: Path) -> Exports:
    """A real store (SQLite file) with every kind of case, and three exports of it."""
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


def assert_rejected(exports: Exports, tmp_path: Path, tamper: Tampering) -> None:
    """Tamper with a copy of the first export: the checker exits 1 with the FAIL line expected."""
    copy = ExportCopy(exports.first, tmp_path / "export")
    pattern = tamper(copy, exports.ids)
    r = run_checker(copy.folder)
    assert r.code == 1, r.out
    assert r.out.splitlines()[-1].startswith("BROKEN: ")
    assert any(re.search(pattern, f) for f in r.failures), f"{pattern!r} not in:\n{r.out}"

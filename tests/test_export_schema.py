"""The JSON Schemas in docs/schema/ and the specification's tables, held to real exports.

Every line of real exports (every event type and evidence kind, optional fields, an erased
case, a demo population) validates against docs/schema/event-line.schema.json, each manifest
against docs/schema/manifest.schema.json, and docs/verify_export.py passes them. The tables the
checker carries (evidence kinds and their fields) are compared with the engine's own, so a new
field cannot reach the chain without the specification noticing.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.audit_support import clocked_engine
from tests.export_support import CHECKER, SCHEMAS, every_kind_of_case, run_checker, system_python
from workflow.demo.population import populate
from workflow.domain.evidence import EVIDENCE_KINDS
from workflow.service_layer.audit.export import export

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


LINE, MANIFEST = validator("event-line"), validator("manifest")


def errors(v: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]


def assert_valid_export(folder: Path) -> list[dict[str, Any]]:
    """Every line and the manifest valid against the schemas, and the checker content; the events."""
    events = [json.loads(line) for line in (folder / "events.jsonl").read_bytes().splitlines()]
    for n, ev in enumerate(events, 1):
        assert errors(LINE, ev) == [], f"line {n}: {ev['type']}"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert errors(MANIFEST, manifest) == []
    r = run_checker(folder)
    assert r.code == 0, r.out
    return events


def test_real_exports_validate(config_path: Path, tmp_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    ids = every_kind_of_case(engine, clock)
    events = assert_valid_export(_export(engine, tmp_path / "all"))
    assert {e["type"] for e in events} == {"case_opened", "evidence_recorded", "transitioned", "case_erased",
                                           "opp_drafted", "opp_evaluated", "rod_registered", "imported", "migrated"}
    assert {k for e in events for k in e["payload"]} >= {"adopts_opp", "ends_opp", "close_reason", "group", "name"}
    assert_valid_export(_export(engine, tmp_path / "anker", school="het-anker"))
    assert_valid_export(_export(engine, tmp_path / "since", since=clock.now.date()))
    assert_valid_export(_export(engine, tmp_path / "empty", since=clock.now.date() + dt.timedelta(days=1)))
    assert ids["erased"] in (tmp_path / "all" / "events.jsonl").read_text(encoding="utf-8")
    engine.db.dispose()


def test_a_demo_population_export_validates(config_path: Path, tmp_path: Path) -> None:
    """The population generator writes its events without Engine's commands: the same shapes."""
    engine, _clock = clocked_engine(config_path, T0)
    populate(engine, pupils=60, seed=11, now=T0)
    events = assert_valid_export(_export(engine, tmp_path / "demo"))
    assert {e["payload"].get("kind") for e in events} >= {"signal", "plan", "evaluation", "meeting", "consent", "view"}
    engine.db.dispose()


def _export(engine: Any, out: Path, **kw: Any) -> Path:
    export(engine, out, actor="auditor", **kw)
    return out


# ---- the schemas can fail ------------------------------------------------------------------

def test_the_line_schema_rejects_what_the_spec_forbids(config_path: Path, tmp_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    every_kind_of_case(engine, clock)
    events = [json.loads(x) for x in (_export(engine, tmp_path / "x") / "events.jsonl").read_bytes().splitlines()]
    engine.db.dispose()
    opened = next(e for e in events if e["type"] == "case_opened")
    view = next(e for e in events if e["type"] == "evidence_recorded" and e["payload"]["kind"] == "view"
                and e["payload"]["fields"]["heard"])
    evaluation = next(e for e in events if e["type"] == "evidence_recorded"
                      and e["payload"]["fields"].get("subject") == "plan")
    move = next(e for e in events if e["type"] == "transitioned")

    def changed(ev: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
        ev = json.loads(json.dumps(ev))
        target = ev
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return ev

    for bad in (
        changed(opened, ("note",), "x"),                              # a top-level field added
        changed(opened, ("role",), KeyError),                         # removed
        changed(opened, ("payload", "extra"), 1),                     # a payload field added
        changed(opened, ("payload", "pupil"), "LL-1"),                # plaintext in a sealed slot
        changed(opened, ("payload", "pupil"), {"$enc": "v1.AAAA"}),   # too short to be sealed
        changed(opened, ("payload", "group"), 9),
        changed(opened, ("type",), "note_added"),
        changed(opened, ("v",), 2),
        changed(opened, ("seq",), "1"),
        changed(opened, ("recorded_at",), "2025-09-01T08:00:00+00:00"),
        changed(opened, ("hash",), opened["hash"].upper()),
        changed(view, ("payload", "fields", "heard"), False),         # heard without text
        changed(view, ("payload", "secret", "reason_not_heard"), view["payload"]["secret"]["text"]),
        changed(evaluation, ("payload", "fields", "plan"), KeyError),
        changed(evaluation, ("payload", "fields", "outcome"), "goed"),
        changed(move, ("payload", "guards"), KeyError),
        changed(move, ("payload", "params"), {"reason": 1}),
        changed(move, ("payload", "ends_opp"), False),
    ):
        assert errors(LINE, bad), bad


def test_the_manifest_schema_rejects_what_the_spec_forbids(config_path: Path, tmp_path: Path) -> None:
    engine, _clock = clocked_engine(config_path, T0)
    engine.open_case(pupil="LL-1", school="de-linde", actor="ib.jansen")
    m = json.loads((_export(engine, tmp_path / "x") / "manifest.json").read_text(encoding="utf-8"))
    engine.db.dispose()
    assert errors(MANIFEST, m) == []
    for change in (
        lambda m: m.update(store_chain_intact=False),
        lambda m: m.update(chain_version=2),
        lambda m: m.update(format_version=1),
        lambda m: m.update(signed_by="x"),
        lambda m: m.pop("witness"),
        lambda m: m["files"].pop("proofs.jsonl"),
        lambda m: m.update(witness={"root": "0" * 64}),
        lambda m: m.pop("access_log"),
        lambda m: m["counts"].update(events="3"),
        lambda m: m["cases"][0].update(note="x"),
        lambda m: m["cases"][0].pop("store_head_hash"),
        lambda m: m["definitions"][0].update(file="../x.toml"),
        lambda m: m["filters"].update(since="gisteren"),
    ):
        bad = json.loads(json.dumps(m))
        change(bad)
        assert errors(MANIFEST, bad), bad


# ---- the specification's tables against the engine's --------------------------------------

def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_export", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Plain fields the engine adds (EXTRA) or fills in with a default (DEFAULTED): always present.
EXTRA = {"view": {"heard"}, "meeting": {"with_parents"}}
# Plain fields the engine adds only sometimes: the OPP version's hashes on an OPP consent, the
# channel "online" on a parent's own record in the parents' portal.
EXTRA_OPTIONAL = {"consent": {"opp_hash", "handelingsdeel_hash", "channel", "request", "request_hash"},
                  "view": {"channel"}}
DEFAULTED = {"evaluation": {"subject", "with_parents"}, "contact": {"party"}}


def test_the_checkers_evidence_table_is_the_engines() -> None:
    checker = load_checker()
    assert set(checker.EVIDENCE) == set(EVIDENCE_KINDS)
    for kind, specs in EVIDENCE_KINDS.items():
        plain, secret = checker.EVIDENCE[kind]
        given = {s.name: s for s in specs if s.name != "date"}  # the date is payload.date
        assert set(plain) == ({n for n, s in given.items() if not s.secret} | EXTRA.get(kind, set())
                              | EXTRA_OPTIONAL.get(kind, set())), kind
        for name in EXTRA_OPTIONAL.get(kind, set()):
            assert plain[name][1] is False, (kind, name)
        assert set(secret) == {n for n, s in given.items() if s.secret}, kind
        for name in EXTRA.get(kind, set()):
            assert plain[name][1] is True, (kind, name)
        for name, s in given.items():
            if s.secret:
                assert secret[name] is s.required, (kind, name)
                continue
            kind_of, required = plain[name]
            assert required is (s.required or name in DEFAULTED.get(kind, set())), (kind, name)
            if s.choices:
                assert kind_of == s.choices, (kind, name)


def test_the_schemas_evidence_rules_are_the_checkers() -> None:
    checker = load_checker()
    schema = json.loads((SCHEMAS / "event-line.schema.json").read_text(encoding="utf-8"))
    rules = schema["$defs"]["evidence_recorded"]["allOf"]
    by_kind = {r["if"]["properties"]["kind"]["const"]: r["then"]["properties"] for r in rules}
    assert set(by_kind) == set(checker.EVIDENCE)
    for kind, (plain, secret) in checker.EVIDENCE.items():
        fields, sealed = by_kind[kind]["fields"], by_kind[kind]["secret"]
        assert set(fields["properties"]) == set(plain), kind
        assert set(fields["required"]) == {n for n, (_, req) in plain.items() if req}, kind
        assert set(sealed["properties"]) == set(secret), kind
        assert set(sealed["required"]) == {n for n, req in secret.items() if req}, kind
    for kind, fields in checker.PAYLOADS.items():
        p = schema["$defs"][kind]
        assert set(p["properties"]) == set(fields), kind
        assert set(p["required"]) == {n for n, (_, req) in fields.items() if req}, kind


# ---- streaming -----------------------------------------------------------------------------

def peak_rss_kib(folder: Path) -> int:
    """The checker's peak resident memory (VmHWM: this process's own, reset by exec, unlike
    ru_maxrss, which keeps the forking pytest's), read inside its standard-library process."""
    code = ("import runpy, sys\n"
            f"sys.argv = ['verify_export.py', {str(folder)!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(CHECKER)!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    assert e.code == 0, e.code\n"
            "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
            "print(int(status.split()[0]), file=sys.stderr)\n")
    r = subprocess.run([system_python(), "-I", "-S", "-c", code], capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return int(r.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_checker_streams(config_path: Path, tmp_path: Path) -> None:
    """Ten times the cases and events, the same memory: nothing is held per event or per case."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux's /proc to read a process's peak memory")
    engine, _clock = clocked_engine(config_path, T0)
    populate(engine, pupils=150, seed=3, now=T0)
    small = _export(engine, tmp_path / "small")
    populate(engine, pupils=1350, seed=4, now=T0)
    large = _export(engine, tmp_path / "large")
    engine.db.dispose()
    sizes = [(f / "events.jsonl").stat().st_size for f in (small, large)]
    assert sizes[1] > 8 * sizes[0]
    small_kib, large_kib = peak_rss_kib(small), peak_rss_kib(large)
    # Measured: +0.1 MiB. A checker that kept only one small record per case (the example
    # checker before this one) grew by 2.9 MiB here; one that kept the events, by far more.
    assert large_kib - small_kib < 1024, (small_kib, large_kib, sizes)

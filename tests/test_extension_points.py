"""The extension points: a new evidence kind declared in a definition's TOML and a new guard kind
written as one Python class, driven through the CLI, the validation and the log redaction; the
upcast of old events declared in the definition; the shared machine performing every move."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from workflow.domain import deadlines
from workflow.domain.definition import parse_definition
from workflow.domain.errors import DefinitionError
from workflow.domain.events import make_event
from workflow.domain.facts import CaseFacts
from workflow.domain.guards import Guard, ParseContext, guard_kind
from workflow.domain.machine import perform, shared_machine
from workflow.domain.reasons import Reason
from workflow.entrypoints.cli.main import main as cli_main

from .conftest import CliResult, write_config
from .engine_support import FIXTURES, PureCase, dump

IB = "ib.jansen"


# ---- a new guard kind: one class ------------------------------------------------------------
@guard_kind("at_most")
@dataclass(frozen=True)
class AtMost(Guard):
    """No more than `max` records of an evidence kind (say, a family is not visited too often)."""

    keys: ClassVar[frozenset[str]] = frozenset({"evidence", "max"})
    messages: ClassVar[Mapping[str, str]] = {
        "too_many": "Er is al {have} keer {kind} vastgelegd; hooguit {max} keer mag.",
        "at_most": "Hooguit {max} keer {kind}.",
    }
    evidence: str = ""
    max: int = 1
    message: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ctx: ParseContext) -> Guard:
        if raw.get("evidence") not in ctx.kinds:
            raise ctx.fail(ctx.key + ".evidence", "unknown evidence kind")
        n = raw.get("max")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ctx.fail(ctx.key + ".max", "must be a whole number >= 0")
        return cls(evidence=str(raw["evidence"]), max=n, message=raw.get("message"))

    def check(self, case: CaseFacts, params: Mapping[str, Any]) -> Reason | None:
        n = sum(1 for f in case.facts if f.kind == self.evidence)
        if n <= self.max:
            return None
        return Reason("too_many", {"kind": self.evidence, "max": self.max, "have": n})

    def explain(self, params: Mapping[str, Any] | None = None, source: str | None = None) -> Reason:
        return Reason("at_most", {"kind": self.evidence, "max": self.max})

    def recorded(self, params: Mapping[str, Any] | None = None) -> str:
        return f"hooguit {self.max}× {self.evidence}"


@pytest.fixture
def run(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Any:
    cfg = write_config(tmp_path, db_url, definition=FIXTURES / "home_visits.toml", defs_folder=tmp_path / "defs")

    def call(*args: str) -> CliResult:
        capsys.readouterr()
        code = cli_main(["--config", str(cfg), *args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    assert call("init").code == 0
    return call


def test_a_new_evidence_kind_and_guard_kind_through_the_cli(run: Any, tmp_path: Path) -> None:
    cid = run("--json", "case", "open", "--pupil", "P-1", "--school", "de-linde", "--actor", IB).json()["case_id"]
    listed = run("record", "--help")
    assert listed.code == 0 and "huisbezoek" in listed.out and "signal" in listed.out
    help_ = run("record", "huisbezoek", "--help")
    assert help_.code == 0 and "Een bezoek aan het gezin thuis" in help_.out
    assert "--met-wie" in help_.out and "(verplicht)" in help_.out and "versleuteld" in help_.out

    from workflow.adapters.store.db import make_engine

    db = make_engine(str(load_url(tmp_path)))
    before = dump(db)
    # Every missing required field in one message, by label; nothing stored.
    r = run("record", "huisbezoek", cid, "--actor", IB)
    assert r.code == 2 and r.err.strip() == "passend: huisbezoek: nog niet ingevuld: met wie en bezoeker"
    r = run("record", "huisbezoek", cid, "--met-wie", "buren", "--bezoeker", "b", "--verslag", "v", "--actor", IB)
    assert r.code == 2 and "met wie: 'buren' is niet toegestaan" in r.err
    r = run("record", "huisbezoek", cid, "--met-wie", "ouders", "--bezoeker", "b", "--actor", IB)
    assert r.code == 2 and "vul precies een van deze in: verslag en reden zonder verslag" in r.err
    assert dump(db) == before

    # The evidence guard reads the new kind's labels.
    r = run("--json", "case", "fire", cid, "escalate", "--actor", IB)
    assert r.code == 3
    (reason,) = r.json()["reasons"]
    assert reason["code"] == "evidence_missing" and reason["params"]["kind"] == "huisbezoek"
    assert reason["text"] == "Er is nog geen huisbezoek bij de ouders vastgelegd sinds de casus op niveau 1 kwam."

    assert run("record", "huisbezoek", cid, "--met-wie", "ouders", "--bezoeker", "Jan", "--verslag", "goed",
               "--actor", IB).code == 0
    assert run("case", "fire", cid, "escalate", "--actor", IB, "--dry-run").code == 0
    for _ in range(2):
        assert run("record", "huisbezoek", cid, "--met-wie", "voogd", "--bezoeker", "Jan",
                   "--reden-geen-verslag", "niemand thuis", "--actor", IB).code == 0
    # The new guard kind refuses with its own code and wording.
    r = run("--json", "case", "fire", cid, "escalate", "--actor", IB)
    assert r.code == 3
    assert r.json()["reasons"] == [{"code": "too_many", "params": {"kind": "huisbezoek", "max": 2, "have": 3},
                                    "text": "Er is al 3 keer huisbezoek vastgelegd; hooguit 2 keer mag."}]
    r = run("case", "fire", cid, "Ondersteuning thuis starten", "--actor", IB)  # by its label
    assert r.code == 3 and "hooguit 2 keer mag" in r.err
    options = run("--json", "case", "show", cid, "--actor", IB).json()["options"]
    refused = next(o for o in options if o["trigger"] == "escalate")
    assert refused["trigger_label"] == "Ondersteuning thuis starten" and refused["dest_label"] == "Ondersteuning thuis"
    assert [set(r) for r in refused["reasons"]] == [{"code", "params", "text"}]
    shown = run("case", "show", cid, "--actor", IB).out
    assert "Huisbezoek" in shown or "huisbezoek" in shown
    assert "met wie: huisbezoek bij de voogd" in shown and "met_wie" not in shown
    process = run("process", "show").out
    assert "Hooguit 2 keer huisbezoek." in process
    db.dispose()


def load_url(tmp_path: Path) -> str:
    import tomllib

    return str(tomllib.loads((tmp_path / "config.toml").read_text())["database"]["url"])


def test_the_new_kinds_secret_fields_are_redacted_in_logs(tmp_path: Path, sqlite_url: str) -> None:
    from workflow.adapters.logs import REDACTED, configure, get_logger, secret_keys
    from workflow.bootstrap import bootstrap

    cfg = write_config(tmp_path, sqlite_url, definition=FIXTURES / "home_visits.toml", defs_folder=tmp_path / "defs")
    engine = bootstrap(cfg, create_key=True)
    try:
        assert {"bezoeker", "verslag", "reden_geen_verslag"} <= secret_keys()
        assert engine.definition.secret_fields == {"note", "notes", "goals", "who", "by", "text", "reason_not_heard",
                                                    "participants", "summary", "bezoeker", "verslag",
                                                    "reden_geen_verslag"}
        out = io.StringIO()
        configure("info", json=True, stream=out)
        get_logger("test").info("huisbezoek", verslag="de moeder vertelde", bezoeker="Jan Jansen", met_wie="ouders")
        line = json.loads(out.getvalue())
        assert line["verslag"] == REDACTED and line["bezoeker"] == REDACTED and line["met_wie"] == "ouders"
        assert "Jan Jansen" not in out.getvalue()
    finally:
        engine.db.dispose()


@pytest.mark.parametrize(("change", "key"), [
    (lambda raw: raw["evidence"]["huisbezoek"]["fields"]["verslag"].update(type="kleur"),
     "evidence.huisbezoek.fields.verslag.type"),
    (lambda raw: raw["evidence"]["huisbezoek"]["fields"]["met_wie"].pop("choices"),
     "evidence.huisbezoek.fields.met_wie.choices"),
    (lambda raw: raw["evidence"]["huisbezoek"].update(kleur="rood"), "evidence.huisbezoek.kleur"),
    (lambda raw: raw["evidence"].update(fotos={"roles": ["ib"]}), "evidence.fotos"),
    (lambda raw: raw["transitions"][0]["guards"][1].update(max=-1), "transitions[0].guards[1].max"),
    (lambda raw: raw["transitions"][0]["guards"][1].update(maximum=1), "transitions[0].guards[1].maximum"),
    (lambda raw: raw["transitions"][0]["guards"][0]["where"].update(verslag="x"),
     "transitions[0].guards[0].where.verslag"),
])
def test_declaration_mistakes_name_their_key(change: Any, key: str) -> None:
    import tomllib

    raw = tomllib.loads((FIXTURES / "home_visits.toml").read_text(encoding="utf-8"))
    change(raw)
    with pytest.raises(DefinitionError) as err:
        parse_definition(raw, "home_visits.toml")
    assert f"home_visits.toml: {key}:" in err.value.message


# ---- upcasts: old events read as the definition says ------------------------------------------
def _legacy_adoption(c: PureCase) -> None:
    """Adopt the OPP with an event as version-1 events were written: no `adopts_opp` key."""
    d = c.decide("adopt_opp")
    assert d.allowed and d.transition is not None
    payload = perform(c.case, c.d, d, "ib").payload
    assert payload is not None and payload.pop("adopts_opp") is True
    c.case.apply(c.case.next_event(type="transitioned", payload=payload, actor="ib.jansen", role="ib",
                                   recorded_at=c.now, process=c.d))


def test_an_adoption_without_the_flag_folds_through_the_declared_upcast() -> None:
    c = PureCase().to_level_4().fire("start_opp")
    c.record("meeting", kind="oogo", participants="ouders").consent("opp_handelingsdeel")
    c.record("view", party="ouders", text="eens").record("view", party="leerling", text="ja")
    _legacy_adoption(c)
    assert "adopts_opp" not in c.case.events[-1].payload
    assert c.case.opp_active
    assert [r.name for r in deadlines.running(c.case, c.d, c.today)] == ["opp_evaluatie"]
    # A version without the [[upcasts]] reads the same events as written: no OPP in force.
    raw = copy.deepcopy(c.d.raw)
    raw.pop("upcasts")
    raw["process"]["version"] = 98
    bare = parse_definition(raw, "no-upcasts.toml")
    events = [make_event(case_id=e.case_id, seq=e.seq, type=e.type, process_id=bare.id, process_version=98,
                         actor=e.actor, role=e.role, recorded_at=e.recorded_at, payload=e.payload,
                         prev_hash=e.prev_hash) for e in c.case.events]
    from workflow.domain.case import Case

    assert not Case.from_events(events).opp_active
    assert Case.from_events(c.case.events).opp_active


# ---- the shared machine performs every move ----------------------------------------------------
def test_the_machine_moves_produce_the_event_and_report_the_clocks() -> None:
    c = PureCase().record("signal", area="lezen", note="n").fire("escalate")
    c.evaluated("onvoldoende").record("contact", method="telefoon").fire("escalate")
    c.evaluated("onvoldoende", 2).record("meeting", kind="expert", participants="p").consent("externe_deskundige")
    move = perform(c.case, c.d, c.decide("escalate"), "ib")
    assert move.dest == "niveau_4" and move.clocks["started"] == ["opp_vaststellen"]
    edge = c.decide("escalate").transition
    assert edge is not None
    assert move.payload == {"trigger": "escalate", "source": "niveau_3", "dest": "niveau_4", "level_from": 3,
                            "level_to": 4, "params": {}, "guards": [g.recorded({}) for g in edge.guards]}
    c.fire("escalate").fire("start_opp")
    c.record("meeting", kind="oogo", participants="ouders").consent("opp_handelingsdeel")
    c.record("view", party="ouders", text="eens").record("view", party="leerling", text="ja")
    move = perform(c.case, c.d, c.decide("adopt_opp"), "ib")
    assert move.clocks["stopped"] == ["opp_vaststellen"] and move.clocks["started"] == ["opp_evaluatie"]
    # One model for the whole definition, however many cases moved.
    assert len(shared_machine(c.d)._machine.models) == 1


def test_the_machine_checks_the_guards_again() -> None:
    c = PureCase().record("signal", area="lezen", note="n")
    decision = c.decide("escalate")
    assert decision.allowed
    c.case.facts.facts.clear()  # the case no longer holds what the decision saw
    with pytest.raises(RuntimeError, match="refused"):
        perform(c.case, c.d, decision, "ib")
    assert c.state == "niveau_1"

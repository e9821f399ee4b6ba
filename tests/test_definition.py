"""Process definitions: the default file's contract, the 3- and 5-level fixtures run by the same
engine, and every kind of bad TOML refused with one line naming the file and the key."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from workflow.bootstrap import bootstrap
from workflow.domain.definition import DefinitionRegistry, load_definition, parse_definition
from workflow.domain.errors import BadInput, DefinitionError, Refused
from workflow.domain.reasons import Reason
from workflow.entrypoints.cli.main import main as cli_main

from .conftest import write_config
from .engine_support import DEFAULT, FIXTURES, PureCase

IB, LK = "ib.jansen", "lk.devries"


def run_cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


# ---- the default definition -------------------------------------------------------------------

def test_default_definition_states_and_triggers_are_the_contract() -> None:
    d = load_definition(DEFAULT)
    assert d.key == ("passend-po", 1)
    assert {s: d.states[s].level for s in d.states} == {
        "niveau_1": 1, "niveau_2": 2, "niveau_3": 3, "niveau_4": 4, "opp_concept": 4,
        "opp_vastgesteld": 4, "bot_aangemeld": 4, "geschil": 4, "afgesloten": None,
    }
    assert d.initial == "niveau_1" and d.states["afgesloten"].final
    assert set(d.triggers) == {"escalate", "deescalate", "start_opp", "adopt_opp", "dispute",
                               "resolve", "revise_opp", "refer_bot", "bot_outcome", "close"}
    edges = {(t.trigger, t.source, t.dest) for t in d.transitions}
    for source in ("niveau_1", "niveau_2", "niveau_3", "niveau_4", "opp_concept",
                   "opp_vastgesteld", "bot_aangemeld", "geschil"):
        assert ("close", source, "afgesloten") in edges
    assert ("bot_outcome", "bot_aangemeld", "afgesloten") in edges
    assert ("deescalate", "opp_vastgesteld", "niveau_3") in edges
    assert d.consent_scopes[:3] == ("externe_deskundige", "opp_handelingsdeel", "bot_aanmelding")
    # Counts live in the file, not in code.
    (t34,) = d.candidates("escalate", "niveau_3")
    assert next(g.min for g in t34.guards if g.kind == "evidence") == 2
    (t12,) = d.candidates("escalate", "niveau_1")
    assert set(t12.roles) == {"ib", "leerkracht"}
    assert d.read_only_roles == {"directeur", "auditor"}
    assert all(not (set(t.roles) & d.read_only_roles) for t in d.transitions)


# ---- 3- and 5-level fixtures, pure -----------------------------------------------------------

def test_three_level_fixture_pure() -> None:
    d = load_definition(FIXTURES / "three_levels.toml")
    c = PureCase(d)
    assert c.state == "basis"
    assert c.decide("escalate").reasons[0].params["have"] == 0
    c.record("signal", area="lezen", note="n")
    assert c.decide("escalate").reasons[0].params["have"] == 1
    c.record("signal", area="rekenen", note="n")
    c.fire("escalate", "leerkracht")
    assert c.state == "extra" and c.case.level == 2
    assert len(c.decide("escalate").reasons) == 2
    c.evaluated("onvoldoende", 2).consent("intensief").fire("escalate")
    assert c.state == "intensief" and c.case.level == 3
    assert c.decide("escalate").reasons[0] == Reason(
        "trigger_not_here", {"trigger": "escalate", "state": "intensief", "possible": ["deescalate", "close"]})
    c.evaluated("voldoende").fire("deescalate")
    assert c.state == "basis"
    c.fire("close", reason="verhuisd")
    assert c.case.closed and c.case.close_reason == "verhuisd"
    # Kinds the file does not list are recorded by default_roles, not by nobody.
    assert d.evidence_roles["plan"] == {"ib"} and d.evidence_roles["signal"] == {"ib", "leerkracht"}


def test_five_level_fixture_pure() -> None:
    d = load_definition(FIXTURES / "five_levels.toml")
    c = PureCase(d).record("signal", area="gedrag", note="n").fire("escalate")
    for needed in (1, 2):
        assert not c.decide("escalate").allowed
        c.evaluated("onvoldoende", needed).fire("escalate")
    assert c.state == "n4"
    reasons = c.decide("escalate").reasons
    assert len(reasons) == 3 and reasons[0].params["min"] == 3
    c.evaluated("onvoldoende", 3).record("meeting", kind="bot", participants="SWV", outcome="advies")
    assert len(c.decide("escalate").reasons) == 2  # an advice is not an arrangement
    c.record("meeting", kind="bot", participants="SWV", outcome="arrangement")
    c.consent("swv_arrangement").fire("escalate")
    assert c.state == "n5" and c.case.level == 5
    c.fire("close", reason="tlv")
    assert c.state == "gesloten"


# ---- 3- and 5-level fixtures, through the Engine and the store -------------------------------

@pytest.mark.parametrize("fixture", ["three_levels.toml", "five_levels.toml"])
def test_alternative_definitions_run_on_the_same_engine(tmp_path: Path, db_url: str, fixture: str) -> None:
    cfg = write_config(tmp_path, db_url, definition=FIXTURES / fixture, defs_folder=tmp_path / "defs")
    engine = bootstrap(cfg, create_key=True)
    try:
        engine.init()
        d = engine.definition
        cid = engine.open_case(pupil="P-1", school="de-linde", actor=IB)["case_id"]
        assert engine.case(cid, actor=IB)["state"] == d.initial
        with pytest.raises(Refused) as refused:
            engine.fire(cid, "escalate", actor=IB)
        assert refused.value.reasons and all(r["code"] == "evidence_missing" for r in refused.value.details)
        for _ in range(2):
            engine.record("signal", cid, actor=LK, area="lezen", note="n")
        r = engine.fire(cid, "escalate", actor=LK)
        assert r["level"] == 2
        with pytest.raises(Refused):
            engine.fire(cid, "escalate", actor=IB)
        today = engine.today()
        for _ in range(2):
            engine.record("plan", cid, actor=IB, start=today - dt.timedelta(days=40), end=today,
                          goals="g", who="w", frequency="f")
            engine.record("evaluation", cid, actor=IB, outcome="onvoldoende")
        if fixture == "three_levels.toml":
            engine.record("consent", cid, actor=IB, scope="intensief", status="granted", by="m")
        assert engine.fire(cid, "escalate", actor=IB)["level"] == 3
        with pytest.raises(BadInput):
            engine.fire(cid, "close", actor=IB, params={"reason": "schoolverlater"})  # not in this file
        r = engine.fire(cid, "close", actor=IB, params={"reason": "verhuisd"})
        view = engine.case(cid, actor=IB)
        assert view["process"] == f"{d.id}@{d.version}"
        assert view["closed_at"] is not None and view["close_reason"] == "verhuisd"
        assert view["options"] == []
    finally:
        engine.db.dispose()


# ---- bad TOML ----------------------------------------------------------------------------------

# The loader's own problems read in Dutch (the message catalog's def.*; English with
# PASSEND_LANGUAGE=en, see tests/test_definition_messages.py); "(regel N)" ends the line.
BAD = [
    ("syntax", "ongeldige TOML", "regel 30, kolom 9", 30),
    ("unknown_state", "transitions[1].dest", "onbekende status 'intensive'", 52),
    ("unknown_trigger", "transitions[2].trigger", "onbekende stap 'descalate'", 59),
    ("guard_kind", "transitions[1].guards[1].kind", "onbekende soort voorwaarde 'approval'", 55),
    ("role", "transitions[0].roles", "onbekende rol 'teacher'", 46),
    ("evidence_kind", "transitions[0].guards[0].evidence", "onbekende soort bewijs 'observation'", 47),
    ("consent_scope", "transitions[1].guards[1].scope", "onbekende soort toestemming 'gegevensdeling'", 55),
    ("anchor", "transitions[2].guards[0].since", "onbekend beginpunt 'entered:nergens'", 62),
    ("read_only_writes", "evidence.signal.roles", "de rol 'directeur' mag alleen lezen", 25),
    ("no_final", "states", "minstens één status moet een eindstatus zijn", None),
    ("evidence_section", "evidence.observation", "onbekende soort bewijs", 24),
    ("where_field", "transitions[2].guards[0].where.result", "soort bewijs evaluation heeft geen veld 'result'", 62),
    ("choice", "transitions[2].guards[0].where.outcome", "'goed' is geen van deze keuzes", 62),
    ("unknown_key", "states.intensief.colour", "onbekende sleutel", 33),
]


@pytest.mark.parametrize(("name", "key", "problem", "line"), BAD, ids=[b[0] for b in BAD])
def test_bad_definition_names_file_and_key(name: str, key: str, problem: str, line: int | None) -> None:
    path = FIXTURES / f"bad_{name}.toml"
    with pytest.raises(DefinitionError) as err:
        load_definition(path)
    msg = err.value.message
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert key in msg and problem in msg
    if line is not None:
        assert f"regel {line}" in msg
    else:
        assert "regel" not in msg


@pytest.mark.parametrize(("name", "key", "problem", "line"), BAD, ids=[b[0] for b in BAD])
def test_bad_definition_via_cli_is_exit_2_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, key: str, problem: str, line: int | None,
) -> None:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}",
                       definition=FIXTURES / f"bad_{name}.toml", defs_folder=tmp_path / "defs")
    code, out, err = run_cli(capsys, cfg, "process", "show")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"bad_{name}.toml" in lines[0] and key in lines[0]
    assert "Traceback" not in err
    code, out, err = run_cli(capsys, cfg, "--json", "process", "show")
    assert code == 2
    assert key in __import__("json").loads(out)["error"]
    # Every other command refuses to start on a bad definition too.
    code, _, err = run_cli(capsys, cfg, "init")
    assert code == 2 and key in err


def _raw() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(DEFAULT.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("change", "key"), [
    (lambda r: r.pop("process"), "process: moet een tabel zijn"),
    (lambda r: r["process"].update(version=0), "process.version"),
    (lambda r: r["process"].update(version="1"), "process.version"),
    (lambda r: r["process"].update(initial="afgesloten"), "process.initial"),
    (lambda r: r["process"].update(initial="niveau_9"), "process.initial"),
    (lambda r: r["process"].update(default_roles=["auditor"]), "process.default_roles"),
    (lambda r: r["process"].update(open_roles=["directeur"]), "process.open_roles"),
    (lambda r: r["states"]["afgesloten"].update(final="ja"), "states.afgesloten.final"),
    (lambda r: r["states"]["niveau_2"].pop("level"), "states.niveau_2.level"),
    (lambda r: r["states"]["niveau_2"].update(level=-1), "states.niveau_2.level"),
    (lambda r: r["transitions"][0].update(source="afgesloten"), "transitions[0].source"),
    (lambda r: r["transitions"][0].update(source="niveau_0"), "transitions[0].source"),
    (lambda r: r["transitions"][0].update(roles=["auditor"]), "transitions[0].roles"),
    (lambda r: r["transitions"][0].update(ends_opp="yes"), "transitions[0].ends_opp"),
    (lambda r: r["transitions"][0]["guards"][0].update(min=0), "transitions[0].guards[0].min"),
    (lambda r: r["transitions"][0]["guards"][0].update(where={"note": "x"}),
     "transitions[0].guards[0].where.note"),
    (lambda r: r["transitions"][0].update(when={"outcome": "x"}), "transitions[0].when.outcome"),
    (lambda r: r["transitions"][6]["guards"][0]["where"].update(with_parents="true"),
     "transitions[6].guards[0].where.with_parents: moet true of false zijn"),
    (lambda r: [t.update(dest="geschil") for t in r["transitions"] if t["dest"] == "afgesloten"],
     "states.afgesloten: geen enkele overgang komt in deze eindstatus"),
    (lambda r: r.update(extra={}), "extra: onbekende sleutel"),
    (lambda r: r["consent"].update(sharing=["gegevens"]), "consent.sharing: onbekende soort toestemming"),
    (lambda r: r.update(transitions=[]), "transitions: moet een niet-lege lijst van tabellen zijn"),
    (lambda r: r["evidence"].update(view={"roles": ["ib"], "who": 1}), "evidence.view.who"),
    (lambda r: r["triggers"]["close"]["params"]["reason"].update(required="yes"),
     "triggers.close.params.reason.required"),
])
def test_more_bad_definitions(change: Any, key: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(DefinitionError) as err:
        parse_definition(raw, "x.toml")
    assert err.value.message.startswith("x.toml: ") and key in err.value.message


def test_missing_or_unreadable_definition_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="procesdefinitie niet gevonden"):
        load_definition(tmp_path / "nope.toml")
    with pytest.raises(DefinitionError, match="kan niet worden gelezen"):
        load_definition(tmp_path)  # a folder
    (tmp_path / "latin1.toml").write_bytes(b"title = '\xe9'\n")
    with pytest.raises(DefinitionError, match="kan niet worden gelezen"):
        load_definition(tmp_path / "latin1.toml")


# ---- versions in a folder ------------------------------------------------------------------

def test_registry_keeps_every_version_and_refuses_a_changed_duplicate(tmp_path: Path) -> None:
    folder = tmp_path / "states"
    folder.mkdir()
    shutil.copy(DEFAULT, folder / "v1.toml")
    v2 = DEFAULT.read_text(encoding="utf-8").replace("version = 1", "version = 2")
    (folder / "v2.toml").write_text(v2, encoding="utf-8")
    reg = DefinitionRegistry.from_folder(folder, folder / "v2.toml")
    assert reg.active.version == 2
    assert reg.get("passend-po", 1).version == 1
    with pytest.raises(DefinitionError, match="is niet geïnstalleerd"):
        reg.get("passend-po", 7)
    changed = DEFAULT.read_text(encoding="utf-8").replace('label = "Opschalen"', 'label = "Omhoog"')
    (folder / "v1b.toml").write_text(changed, encoding="utf-8")
    with pytest.raises(DefinitionError, match="verhoog het versienummer"):
        DefinitionRegistry.from_folder(folder, folder / "v2.toml")


def test_error_line_points_into_a_multi_line_guard_list(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    bad = text.replace('{ kind = "consent", scope = "externe_deskundige" }', '{ kind = "consent", scope = "x" }')
    (tmp_path / "d.toml").write_text(bad, encoding="utf-8")
    want = bad.splitlines().index('  { kind = "consent", scope = "x" },') + 1
    with pytest.raises(DefinitionError) as err:
        load_definition(tmp_path / "d.toml")
    assert "transitions[2].guards[2].scope" in err.value.message
    assert err.value.message.endswith(f"(regel {want})")


def test_the_opp_flags_are_data() -> None:
    d = load_definition(DEFAULT)
    assert [t.trigger for t in d.transitions if t.adopts_opp] == ["adopt_opp"]
    assert [(t.trigger, t.source) for t in d.transitions if t.ends_opp] == [("deescalate", "opp_vastgesteld")]
    # A definition with other state names still knows when its OPP starts.
    text = DEFAULT.read_text(encoding="utf-8").replace("opp_vastgesteld", "opp_actief")
    c = PureCase(parse_definition(__import__("tomllib").loads(text), "renamed.toml")).to_level_4()
    c.fire("start_opp").record("meeting", kind="oogo", participants="o").consent("opp_handelingsdeel")
    c.record("view", party="ouders", text="t").record("view", party="leerling", text="t").fire("adopt_opp")
    assert c.state == "opp_actief" and c.case.opp_active
    assert c.case.events[-1].payload["adopts_opp"] is True

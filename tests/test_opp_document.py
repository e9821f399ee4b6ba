"""The OPP document (WPO art. 40a lid 1), on SQLite and PostgreSQL: adoption needs a complete
version and names every missing part; consent binds to the version's hash and carries over only
while the handelingsdeel is unchanged; the printable OPP (HTML and PDF) holds every part and the
hash; the yearly evaluation records per goal how far it was reached."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from tests.audit_support import IB
from tests.opp_support import FULL, draft_full, to_adopted, to_concept, v2_engine
from workflow.domain.errors import BadInput, Refused
from workflow.domain.opp import PART_NAMES
from workflow.service_layer import opp
from workflow.service_layer.audit.replay import replay_case
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.opp_print import print_opp


@pytest.fixture
def v2(tmp_path: Path, db_url: str) -> Any:
    engine, clock = v2_engine(tmp_path, db_url)
    yield engine, clock
    engine.store.dispose()


def _codes(exc: Refused) -> list[str]:
    return [d["code"] for d in exc.details]


def test_an_opp_missing_parts_cannot_be_adopted_and_every_missing_part_is_named(v2: Any) -> None:
    engine, clock = v2
    cid = to_concept(engine, clock)
    # the consent needs a version first
    with pytest.raises(BadInput, match="nog geen OPP-versie"):
        engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    with pytest.raises(Refused) as none:
        engine.fire(cid, "adopt_opp", actor=IB)
    assert "opp_missing" in _codes(none.value)
    for part in PART_NAMES:  # each part alone missing: refused, and that part named
        texts = {k: v for k, v in FULL["texts"].items() if k != part}
        values = {**FULL, "texts": texts}
        opp.draft(engine, cid, actor=IB, uitstroombestemming=None if part == "uitstroombestemming" else
                  values["uitstroombestemming"], texts=texts, goals=[] if part == "goals" else values["goals"],
                  evaluation_moments=[] if part == "evaluation_moments" else values["evaluation_moments"],
                  clear=[part])
        engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
        with pytest.raises(Refused) as exc:
            engine.fire(cid, "adopt_opp", actor=IB)
        (incomplete,) = [d for d in exc.value.details if d["code"] == "opp_incomplete"]
        assert incomplete["params"]["missing"] == [part]
        assert "mist nog" in incomplete["text"]
    # all parts missing but one: every one named, in one message
    r = opp.draft(engine, cid, actor=IB, clear=[p for p in PART_NAMES if p != "rationale"],
                  texts={"rationale": "x"})
    assert r["missing"] == [p for p in PART_NAMES if p != "rationale"]
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    with pytest.raises(Refused) as exc:
        engine.fire(cid, "adopt_opp", actor=IB)
    text = next(d["text"] for d in exc.value.details if d["code"] == "opp_incomplete")
    for label in ("de verwachte uitstroombestemming", "de bevorderende factoren", "de belemmerende factoren",
                  "de onderwijsbehoeften", "de doelen per ontwikkelingsgebied", "wie de ondersteuning geeft",
                  "hoe vaak", "de afwijkingen van het reguliere onderwijsprogramma",
                  "de afgesproken evaluatiemomenten"):
        assert label in text, label
    draft_full(engine, cid)
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    assert engine.fire(cid, "adopt_opp", actor=IB)["state"] == "opp_vastgesteld"
    assert replay_case(engine, cid, actor="auditor").ok
    with engine.uow(write=False) as uow:
        assert verify(uow).ok


def test_consent_binds_to_the_version_and_carries_over_only_an_unchanged_handelingsdeel(v2: Any) -> None:
    engine, clock = v2
    cid = to_concept(engine, clock)
    v1 = draft_full(engine, cid)
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    # version 2: only the rationale changes; the consent on version 1 still counts
    v2_ = draft_full(engine, cid, texts={**FULL["texts"], "rationale": "Nieuwe toetsen bevestigen kader."})
    assert v2_["hash"] != v1["hash"] and v2_["handelingsdeel_hash"] == v1["handelingsdeel_hash"]
    assert engine.check(cid, "adopt_opp", actor=IB).allowed
    # version 3: the handelingsdeel changes; the consent on version 1 no longer counts
    draft_full(engine, cid, texts={**FULL["texts"], "frequency": "5x per week 30 minuten"})
    decision = engine.check(cid, "adopt_opp", actor=IB)
    assert not decision.allowed
    (reason,) = decision.reasons
    assert reason.code == "consent_other_version" and reason.params == {
        "scope": "opp_handelingsdeel", "version": 1, "current": 3}
    # a consent naming version 1 explicitly does not help either; on version 3 it does
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader", opp_version=1)
    assert not engine.check(cid, "adopt_opp", actor=IB).allowed
    engine.record("consent", cid, actor=IB, scope="opp_handelingsdeel", status="granted", by="vader")
    r = engine.fire(cid, "adopt_opp", actor=IB)
    assert r["state"] == "opp_vastgesteld"
    view = opp.show(engine, cid, actor=IB)
    assert view["opp_version"] == 3 and view["in_force"] and view["hash_checked"] is True
    assert [c["counts_for_this_version"] for c in view["consents"]] == [False, False, True]
    with engine.uow(write=False) as uow:
        adoption = [e for e in uow.store.events_of(cid) if e.type == "transitioned"][-1]
    assert adoption.payload["opp_version"] == 3 and adoption.payload["opp_hash"] == view["hash"]
    assert replay_case(engine, cid, actor="auditor").ok


def test_a_draft_only_in_concept_and_a_revision_needs_consent_again_only_for_a_changed_handelingsdeel(v2: Any) -> None:
    engine, clock = v2
    cid = to_adopted(engine, clock)
    with pytest.raises(BadInput, match="herzie het OPP eerst"):
        draft_full(engine, cid)
    clock.advance(days=60)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.fire(cid, "revise_opp", actor=IB)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    engine.record("view", cid, actor=IB, party="ouders", text="eens")
    engine.record("view", cid, actor=IB, party="leerling", text="ok")
    draft_full(engine, cid, goals=[("rekenen", "tafels tot 10")])  # goals are not the handelingsdeel
    assert engine.check(cid, "adopt_opp", actor=IB).allowed


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_the_printed_opp_holds_every_part_the_hash_and_the_adoption_date(v2: Any, tmp_path: Path, fmt: str) -> None:
    engine, clock = v2
    cid = to_adopted(engine, clock)
    view = opp.show(engine, cid, actor=IB)
    out = tmp_path / f"opp.{fmt}"
    r = print_opp(engine, cid, actor=IB, fmt=fmt, out=out)
    assert r["hash"] == view["hash"] and r["adopted_on"] == view["adopted_on"]
    if fmt == "html":
        text = out.read_text(encoding="utf-8")
        assert "<script>" not in text and "&lt;script&gt;" in text  # autoescaped
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&#39;", "'")
    else:
        pypdf = pytest.importorskip("pypdf")
        data = out.read_bytes()
        assert data.startswith(b"%PDF-")
        reader = pypdf.PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for value in (*FULL["texts"].values(), *(t for _, t in FULL["goals"]), "vmbo kaderberoepsgerichte leerweg",
                  "2026-01-20", "2026-06-15", "Sanne", "LL-1"):
        assert " ".join(value.split()) in flat, value
    assert view["adopted_on"] in flat and view["salt"] in flat.replace(" ", "")
    assert view["hash"] in flat.replace(" ", "") and view["handelingsdeel_hash"] in flat.replace(" ", "")
    assert dt.date.fromisoformat(view["adopted_on"])


def test_the_yearly_evaluation_records_every_goal(v2: Any) -> None:
    engine, clock = v2
    cid = to_adopted(engine, clock)
    clock.advance(days=100)
    with pytest.raises(BadInput, match="nog niet: doel 2"):
        opp.evaluate(engine, cid, actor=IB, results={1: "behaald"}, outcome="voldoende", with_parents=True)
    with pytest.raises(BadInput, match="'bijna' is niet toegestaan"):
        opp.evaluate(engine, cid, actor=IB, results={1: "behaald", 2: "bijna"}, outcome="voldoende",
                     with_parents=True)
    with pytest.raises(BadInput, match="per doel"):
        engine.record("evaluation", cid, actor=IB, outcome="voldoende", subject="opp", with_parents=True)
    opp.evaluate(engine, cid, actor=IB, results={1: "behaald", 2: "niet_behaald"}, outcome="voldoende",
                 with_parents=True)
    engine.record("meeting", cid, actor=IB, kind="oogo", participants="ouders")
    # the evaluation counts as the OPP evaluation with the parents: the OPP may end
    assert engine.fire(cid, "deescalate", actor=IB)["state"] == "niveau_3"
    with engine.uow(write=False) as uow:
        (ev,) = [e for e in uow.store.events_of(cid) if e.type == "opp_evaluated"]
    assert ev.payload["goals"] == [{"goal": 1, "reached": "behaald"}, {"goal": 2, "reached": "niet_behaald"}]
    assert replay_case(engine, cid, actor="auditor").ok


def test_the_cli_drafts_shows_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    from workflow.entrypoints.cli.main import main

    engine, clock = v2_engine(tmp_path, db_url)
    cid = to_concept(engine, clock)
    engine.store.dispose()
    config = str(tmp_path / "config.toml")
    parts = tmp_path / "opp.toml"
    parts.write_text('uitstroombestemming = "havo"\nrationale = "lange tekst"\n'
                     'goals = [{ area = "taal", text = "begrijpend lezen" }]\n', encoding="utf-8")
    assert main(["--config", config, "opp", "draft", cid, "--actor", IB, "--file", str(parts),
                 "--support", "RT", "--moment", "2026-02-01"]) == 0
    out = capsys.readouterr().out
    assert "OPP-versie 1 vastgelegd" in out and "ontbreekt: de bevorderende factoren" in out
    assert main(["--config", config, "opp", "show", cid, "--actor", IB]) == 0
    out = capsys.readouterr().out
    assert "begrijpend lezen" in out and "Hash versie:" in out
    assert main(["--config", config, "opp", "print", cid, "--actor", IB, "--format", "html",
                 "--out", str(tmp_path / "o.html")]) == 0
    assert "lange tekst" in (tmp_path / "o.html").read_text(encoding="utf-8")
    assert main(["--config", config, "opp", "draft", cid, "--actor", IB, "--uitstroom", "mbo"]) == 2
    assert "niet toegestaan" in capsys.readouterr().err

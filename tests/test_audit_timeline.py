"""Timeline: chronology with actors, states and guards; hostile notes escaped; erased data gone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.audit_support import IB, LK, clocked_engine, journey_to_tlv
from workflow.adapters.crypto import ERASED
from workflow.service_layer.access import access_records
from workflow.service_layer.audit.timeline import render, timeline

T0 = dt.datetime(2024, 2, 5, 8, 0, tzinfo=dt.UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'single\''


def test_timeline_formats_and_escaping(config_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_tlv(engine, clock, name="<b>Sanne</b>", note=HOSTILE)
    data = timeline(engine, cid, actor="auditor", purpose="inspectiebezoek")
    entries = data["entries"]
    assert len(entries) == 25 and entries[0]["fields"]["naam"] == "<b>Sanne</b>"
    signal = entries[1]
    assert signal["fields"]["note"] == HOSTILE and signal["actor"] == LK and signal["role"] == "leerkracht"
    adopt = next(e for e in entries if "adopt_opp" in e["what"])
    assert (adopt["state_before"], adopt["state_after"]) == ("opp_concept", "opp_vastgesteld")
    assert any("oogo" in g for g in adopt["guards"])
    assert entries[0]["at"] == "2024-02-05 09:00"  # school time

    html = render(data, "html")
    assert "<script>" not in html and "<img" not in html and "<b>Sanne" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;Sanne&lt;/b&gt;" in html
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "@media print" in html

    text = render(data, "text")
    assert "opp_concept -> opp_vastgesteld" in text and "voorwaarde:" in text
    records = access_records(engine, cid, actor="auditor")
    assert [(r.action, r.actor, r.role, r.purpose) for r in records] == [
        ("audit.timeline", "auditor", "auditor", "inspectiebezoek")]

    # erasure: structure stays, personal data is gone
    clock.now = T0 + dt.timedelta(days=4 * 365)
    engine.erase(cid, actor=IB, reason="bewaartermijn verstreken")
    after = timeline(engine, cid, actor="auditor")
    assert after["erased"] is True and len(after["entries"]) == 26
    assert after["entries"][0]["fields"] == {"leerling": ERASED, "naam": ERASED}
    assert after["entries"][1]["fields"]["note"] == ERASED
    assert after["entries"][1]["fields"]["area"] == "lezen"
    assert [e["state_after"] for e in after["entries"]] == [e["state_after"] for e in entries] + ["afgesloten"]
    rendered = render(after, "html") + render(after, "text") + render(after, "json")
    assert "Sanne" not in rendered and "alert" not in rendered
    engine.db.dispose()


def test_cli_timeline(config_path: Path, cli: Any, tmp_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    cid = journey_to_tlv(engine, clock, note=HOSTILE)
    engine.db.dispose()
    r = cli("audit", "timeline", cid, "--format", "html", "--out", str(tmp_path / "t.html"))
    assert r.code == 0, r.err
    assert "&lt;script&gt;" in (tmp_path / "t.html").read_text(encoding="utf-8")
    r = cli("audit", "timeline", cid, "--json")
    assert r.code == 0 and r.json()["case_id"] == cid
    assert cli("audit", "timeline", cid, "--actor", "ib.smit").code == 3
    assert cli("audit", "timeline", "C-NOPE").code == 2
    acc = cli("audit", "access", cid, "--json")
    assert acc.code == 0
    assert [a["action"] for a in acc.json()] == ["audit.timeline", "audit.timeline"]
    assert cli("case", "show", cid, "--actor", IB, "--purpose", "zorgoverleg").code == 0
    assert cli("audit", "access", cid, "--json").json()[-1]["purpose"] == "zorgoverleg"

"""Retention: which closed cases are past their period (2 years; 3 after a TLV)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.audit_support import clocked_engine, journey_to_tlv, quick_closed
from workflow.domain.errors import ConfigError
from workflow.service_layer.erasure import cases_due_for_erasure
from workflow.service_layer.retention import parse_retention

T0 = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_due_after_two_years_and_three_after_tlv(config_path: Path) -> None:
    engine, clock = clocked_engine(config_path, T0)
    moved = quick_closed(engine, pupil="LL-2")
    tlv = journey_to_tlv(engine, clock)
    still_open = engine.open_case(pupil="LL-3", school="de-linde", actor="ib.jansen")["case_id"]
    closed_moved = T0.date()
    assert cases_due_for_erasure(engine, today=closed_moved + dt.timedelta(days=700)) == []
    due = cases_due_for_erasure(engine, today=dt.date(2026, 3, 4))
    assert [d["case_id"] for d in due] == [moved]
    assert due[0]["due"] == "2026-03-04" and due[0]["years"] == 2
    later = cases_due_for_erasure(engine, today=dt.date(2027, 12, 31))
    assert {d["case_id"] for d in later} == {moved, tlv}
    assert next(d for d in later if d["case_id"] == tlv)["years"] == 3
    assert still_open not in {d["case_id"] for d in later}
    assert cases_due_for_erasure(engine, today=dt.date(2030, 1, 1), school="het-anker") == []
    engine.db.dispose()


@pytest.mark.parametrize(("raw", "key"), [
    ({"years": "two"}, "retention.years"),
    ({"years_by_reason": {"tlv": -1}}, "retention.years_by_reason.tlv"),
    ({"keep": 1}, "retention.keep"),
    ({"erase_roles": []}, "retention.erase_roles"),
])
def test_bad_retention_config_names_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_retention(raw, "config.toml")

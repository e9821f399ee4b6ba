"""The school calendar: weekends, public holidays, regional school holidays, the school's days off."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.domain.calendar import SchoolCalendar, parse_days_off
from workflow.domain.errors import ConfigError

D = dt.date


def test_autumn_holiday_of_region_zuid_moves_a_reminder_to_the_school_day_before() -> None:
    zuid = SchoolCalendar("zuid")
    assert not zuid.is_school_day(D(2026, 10, 21))  # herfstvakantie zuid: 17-25 Oct 2026
    assert zuid.on_or_before(D(2026, 10, 21)) == D(2026, 10, 16)  # Friday before
    noord = SchoolCalendar("noord")  # noord's break is a week earlier (10-18 Oct)
    assert noord.is_school_day(D(2026, 10, 21))
    assert noord.on_or_before(D(2026, 10, 16)) == D(2026, 10, 9)


def test_weekends_and_public_holidays() -> None:
    cal = SchoolCalendar("midden")
    assert cal.on_or_before(D(2026, 11, 29)) == D(2026, 11, 27)  # Sunday -> Friday
    assert not cal.is_school_day(D(2027, 4, 27))  # Koningsdag
    assert cal.on_or_after(D(2026, 11, 28)) == D(2026, 11, 30)


def test_a_day_off_from_config_is_honoured() -> None:
    days = parse_days_off(["2026-10-02", "2026-11-09/2026-11-11"], "schools[0].days_off")
    cal = SchoolCalendar("midden", days)
    assert not cal.is_school_day(D(2026, 10, 2))
    assert cal.on_or_before(D(2026, 10, 2)) == D(2026, 10, 1)
    assert cal.on_or_before(D(2026, 11, 11)) == D(2026, 11, 6)
    assert SchoolCalendar("midden").on_or_before(D(2026, 10, 2)) == D(2026, 10, 2)


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-10-05/2026-10-01", "volgende week"])
def test_bad_days_off_name_the_key(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_days_off(["2026-10-02", bad], "schools[1].days_off")
    assert str(err.value).startswith("schools[1].days_off[1]:")


def test_years_without_school_holiday_data_fall_back_to_weekends_and_public_holidays() -> None:
    cal = SchoolCalendar("zuid")
    assert cal.is_school_day(D(2040, 10, 17))  # a Wednesday; no school-holiday data for 2040
    assert not cal.is_school_day(D(2040, 12, 25))


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=D(2025, 8, 1), max_value=D(2028, 7, 31)),
       region=st.sampled_from(["noord", "midden", "zuid"]))
def test_a_moved_reminder_is_the_last_school_day_on_or_before_its_date(day: dt.date, region: str) -> None:
    cal = SchoolCalendar(region, parse_days_off(["2026-10-02", "2027-02-08/2027-02-12"], "days_off"))
    moved = cal.on_or_before(day)
    assert moved <= day and cal.is_school_day(moved)
    assert not any(cal.is_school_day(moved + dt.timedelta(days=n)) for n in range(1, (day - moved).days + 1))
    assert (day - moved).days < 60  # the summer holiday is the longest stretch

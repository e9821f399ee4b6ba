"""The school calendar: which days are school days for one school.

Reminders are only useful on a day the IB is at school, so a reminder that would fall on a
weekend, a Dutch public holiday, a school holiday of the school's region (noord, midden, zuid) or
one of the school's own days off moves to the school day before. Legal deadlines themselves count
calendar days and are never moved here.

The `holidays` package (>= 0.109) knows the public holidays and the regional school holidays; it
is imported lazily because it is slow to import and most commands never need it. Years the
package has no school holidays for fall back to weekends and public holidays plus the days off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import lru_cache

from workflow.domain.errors import ConfigError, Said

SUBDIVISIONS = {"noord": "Noord", "midden": "Midden", "zuid": "Zuid"}
SEARCH_LIMIT = 400  # days; a school year never has a longer stretch without school days


def parse_days_off(values: Iterable[str], key: str) -> frozenset[dt.date]:
    """Dates (`2026-10-02`) and inclusive ranges (`2026-10-05/2026-10-09`) as a set of days."""
    days: set[dt.date] = set()
    for i, value in enumerate(values):
        where = f"{key}[{i}]"
        text = str(value).strip()
        first, _, last = text.partition("/")
        try:
            begin = dt.date.fromisoformat(first)
            end = dt.date.fromisoformat(last) if last else begin
        except ValueError:
            raise ConfigError(Said("cfg.key_problem", key=where, problem=Said("cfg.value.day_bad", value=text))) \
                from None
        if end < begin:
            raise ConfigError(Said("cfg.key_problem", key=where, problem=Said("cfg.value.day_reversed", value=text)))
        if (end - begin).days > 366:
            raise ConfigError(Said("cfg.key_problem", key=where, problem=Said("cfg.value.day_too_long", value=text)))
        days.update(begin + dt.timedelta(days=n) for n in range((end - begin).days + 1))
    return frozenset(days)


HolidaySource = Callable[[str, int], frozenset[dt.date]]


def compute_holidays(subdiv: str, year: int) -> frozenset[dt.date]:
    """The public holidays and the region's school holidays of one year, from `holidays`."""
    import holidays

    public = holidays.country_holidays("NL", years=year)
    school = holidays.country_holidays("NL", subdiv=subdiv, years=year, categories=("school",))
    return frozenset(public) | frozenset(school)


_source: HolidaySource = compute_holidays


def use_holiday_source(source: HolidaySource) -> None:
    """Where the holidays come from (`compute_holidays` unless the composition root installs a
    cache in front of it: importing `holidays` costs most of a second, once per process, which
    a one-command CLI process would pay on every step that moves a due day)."""
    global _source
    if source is not _source:
        _source = source
        _holidays.cache_clear()


@lru_cache(maxsize=64)
def _holidays(subdiv: str, year: int) -> frozenset[dt.date]:
    return _source(subdiv, year)


class SchoolCalendar:
    """School days of one school: its region's holidays plus its own days off."""

    def __init__(self, region: str, days_off: Iterable[dt.date] = ()) -> None:
        if region not in SUBDIVISIONS:
            raise ConfigError(Said("cfg.calendar.region", region=region, regions=", ".join(SUBDIVISIONS)))
        self.region = region
        self.days_off = frozenset(days_off)

    @classmethod
    def for_school(cls, school: object, key: str = "schools") -> SchoolCalendar:
        """From a config `School` (region, days_off strings)."""
        region = getattr(school, "region", "midden")
        raw = getattr(school, "days_off", ())
        return cls(region, parse_days_off(raw, f"{key}.days_off"))

    def is_school_day(self, day: dt.date) -> bool:
        if day.weekday() >= 5 or day in self.days_off:
            return False
        return day not in _holidays(SUBDIVISIONS[self.region], day.year)

    def on_or_before(self, day: dt.date) -> dt.date:
        """The school day `day` itself, or the last school day before it."""
        for n in range(SEARCH_LIMIT):
            d = day - dt.timedelta(days=n)
            if self.is_school_day(d):
                return d
        return day

    def on_or_after(self, day: dt.date) -> dt.date:
        for n in range(SEARCH_LIMIT):
            d = day + dt.timedelta(days=n)
            if self.is_school_day(d):
                return d
        return day

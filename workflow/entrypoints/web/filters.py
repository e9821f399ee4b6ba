"""Dates, day counts and deadline statuses for the templates (Jinja filters), in the catalog's
words (Dutch, or English with PASSEND_LANGUAGE=en), installed on the pages' template environment
when a page module imports this one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from workflow.domain.instants import SCHOOL_TZ, as_utc
from workflow.entrypoints.web.pages import TEMPLATES
from workflow.messages import text
from workflow.messages.render import day_words, language

STATUS = ("ok", "soon", "overdue")  # a deadline's status: web.status.<status> in the catalog


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return as_utc(value).astimezone(SCHOOL_TZ).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            if "T" in value or " " in value:
                return _day(dt.datetime.fromisoformat(value))
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def datum(value: Any) -> str:
    day = _day(value)
    return "" if day is None else day_words(day.year, day.month, day.day, language())


def datumtijd(value: Any) -> str:
    when = value if isinstance(value, dt.datetime) else None
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if when is None:
        return ""
    local = as_utc(when).astimezone(SCHOOL_TZ)
    return f"{datum(local.date())}, {local:%H:%M}"


def dagen(left: int) -> str:
    if left == 0:
        return text("web.days.today")
    if left > 0:
        return text("web.days.left.one" if left == 1 else "web.days.left", n=left)
    return text("web.days.late.one" if left == -1 else "web.days.late", n=-left)


def waarde(value: Any) -> str:
    """A recorded value as a person reads it: a date (JJJJ-MM-DD) as a Dutch date, else as is."""
    text = str(value)
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and (day := _day(text)) is not None:
        return datum(day)
    return text


def status_nl(status: str | None) -> str:
    return text(f"web.status.{status}" if status in STATUS else "web.status.none")


TEMPLATES.env.filters.update(datum=datum, datumtijd=datumtijd, dagen=dagen, status_nl=status_nl, waarde=waarde)

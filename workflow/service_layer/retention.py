"""Retention: when a closed case's personal data must go (AVG; PO-Raad: 2 years, 3 after a TLV).

The period is configuration (`[retention]` in config.toml), read and checked here with errors
that name the key; workflow.bootstrap reads it once and the services find the policy on their
context (`ctx.retention`). What is due and the erasure itself are workflow.service_layer.erasure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from workflow.domain.errors import ConfigError
from workflow.domain.instants import SCHOOL_TZ, local_date
from workflow.messages import text

DEFAULT_YEARS = 2
DEFAULT_BY_REASON = {"tlv": 3}
DEFAULT_ERASE_ROLES = ("ib",)


@dataclass(frozen=True)
class RetentionPolicy:
    """Years to keep a closed case, by close reason, and who may erase."""

    years: int = DEFAULT_YEARS
    by_reason: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BY_REASON))
    erase_roles: tuple[str, ...] = DEFAULT_ERASE_ROLES

    def years_for(self, close_reason: str | None) -> int:
        return self.by_reason.get(close_reason or "", self.years)

    def due_date(self, closed_at: dt.datetime, close_reason: str | None) -> dt.date:
        """The first day on which the case may (and should) be erased."""
        return add_years(local_date(closed_at, SCHOOL_TZ), self.years_for(close_reason))


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _whole(value: Any, key: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise ConfigError(text("svc.settings.key_problem", where=where, key=key, problem=text("svc.retention.years")))
    return value


def parse_retention(raw: Any, where: str = "config.toml") -> RetentionPolicy:
    """Read the `[retention]` table; every mistake names its key."""
    if raw is None:
        return RetentionPolicy()
    if not isinstance(raw, dict):
        raise ConfigError(text("svc.settings.not_a_table", where=where, section="retention"))
    allowed = {"years", "years_by_reason", "erase_roles"}
    for k in raw:
        if k not in allowed:
            raise ConfigError(text("svc.settings.key_problem", where=where, key=f"retention.{k}",
                                       problem=text("svc.settings.unknown_key", keys=", ".join(sorted(allowed)))))
    years = _whole(raw.get("years", DEFAULT_YEARS), "retention.years", where)
    by_raw = raw.get("years_by_reason", DEFAULT_BY_REASON)
    if not isinstance(by_raw, dict):
        raise ConfigError(text("svc.settings.key_problem", where=where, key="retention.years_by_reason",
                                       problem=text("svc.retention.years_by_reason")))
    by_reason = {str(k): _whole(v, f"retention.years_by_reason.{k}", where) for k, v in by_raw.items()}
    roles = raw.get("erase_roles", list(DEFAULT_ERASE_ROLES))
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise ConfigError(text("svc.settings.key_problem", where=where, key="retention.erase_roles",
                                       problem=text("svc.settings.roles")))
    return RetentionPolicy(years=years, by_reason=by_reason, erase_roles=tuple(roles))

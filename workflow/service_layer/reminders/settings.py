"""`[reminders]` in config.toml, read and checked with one-line errors that name the key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from workflow.domain.errors import ConfigError
from workflow.messages import text

DEFAULTS: dict[str, Any] = {
    "tick_seconds": 60,
    "send_time": "07:30",
    "digest": True,
    "digest_time": "07:30",
    "remind_roles": ["ib"],
    "escalate_roles": ["directeur"],
    "max_attempts": 8,
    "backoff_seconds": 60,
    "backoff_max_seconds": 3600,
    "lease_seconds": 300,
    "batch_size": 50,
    "keep_sent_days": 90,
}


@dataclass(frozen=True)
class ReminderSettings:
    tick_seconds: int = 60
    send_time: dt.time = dt.time(7, 30)
    digest: bool = True
    digest_time: dt.time = dt.time(7, 30)
    remind_roles: tuple[str, ...] = ("ib",)
    escalate_roles: tuple[str, ...] = ("directeur",)
    max_attempts: int = 8
    backoff_seconds: int = 60
    backoff_max_seconds: int = 3600
    lease_seconds: int = 300
    batch_size: int = 50
    keep_sent_days: int = 90  # a sent message's texts are cleared after this; its row stays

    def backoff(self, attempts: int) -> dt.timedelta:
        """Wait before attempt `attempts + 1`: doubling from backoff_seconds, capped."""
        seconds = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1))
        return dt.timedelta(seconds=seconds)


def parse_settings(raw: Any, where: str = "config.toml") -> ReminderSettings:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(text("svc.settings.not_a_table", where=where, section="reminders"))

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(text("svc.settings.key_problem", where=where, key=f"reminders.{key}", problem=problem))

    for k in raw:
        if k not in DEFAULTS:
            raise fail(k, text("svc.settings.unknown_key", keys=", ".join(sorted(DEFAULTS))))
    v = {**DEFAULTS, **raw}

    def whole(key: str, low: int, high: int) -> int:
        x = v[key]
        if not isinstance(x, int) or isinstance(x, bool) or not low <= x <= high:
            raise fail(key, text("svc.settings.whole_number", low=low, high=high))
        return x

    def clock_time(key: str) -> dt.time:
        x = v[key]
        try:
            if not isinstance(x, str):
                raise ValueError
            t = dt.time.fromisoformat(x)
        except ValueError:
            raise fail(key, text("svc.settings.time_of_day", example="07:30")) from None
        return t.replace(tzinfo=None)

    def roles(key: str) -> tuple[str, ...]:
        x = v[key]
        if isinstance(x, str):
            x = [x]
        if not isinstance(x, list) or not x or not all(isinstance(r, str) and r for r in x):
            raise fail(key, text("svc.settings.roles"))
        return tuple(x)

    if not isinstance(v["digest"], bool):
        raise fail("digest", text("svc.settings.true_or_false"))
    s = ReminderSettings(
        tick_seconds=whole("tick_seconds", 1, 86_400),
        send_time=clock_time("send_time"),
        digest=v["digest"],
        digest_time=clock_time("digest_time"),
        remind_roles=roles("remind_roles"),
        escalate_roles=roles("escalate_roles"),
        max_attempts=whole("max_attempts", 1, 100),
        backoff_seconds=whole("backoff_seconds", 0, 86_400),
        backoff_max_seconds=whole("backoff_max_seconds", 0, 7 * 86_400),
        lease_seconds=whole("lease_seconds", 1, 86_400),
        batch_size=whole("batch_size", 1, 10_000),
        keep_sent_days=whole("keep_sent_days", 1, 36_500),
    )
    return s

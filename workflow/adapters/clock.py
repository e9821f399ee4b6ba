"""The system clock: the one place passend reads the real time.

Everything else receives a clock (a function returning an aware UTC instant), so a test or
`--now` can move "now" without touching the time recorded on an event.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

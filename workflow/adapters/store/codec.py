"""Reading stored event columns back: the instant and the payload, fast on the common forms.

Per event these two parses are most of the cost of loading a case (every command) and of
replaying a store (audit). SQLite's naive UTC text gets its zone inside the parse (a separate
datetime.replace costs ten times the parse), and the payload goes to json's C scanner without
json.loads' Python layers. Anything else takes the general forms, so a value is read exactly as
before, whichever path it takes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

# typeshed does not declare the decoder's scan_once attribute (set in JSONDecoder.__init__).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
UNREADABLE: Any = object()


def read_instant(at: Any) -> dt.datetime | None:
    """A stored time as aware UTC (a datetime from PostgreSQL, text from SQLite); None when it
    cannot be read."""
    if type(at) is str and len(at) == 26:  # SQLite's 'YYYY-MM-DD HH:MM:SS.ffffff'
        try:
            when = dt.datetime.fromisoformat(at + "+00:00")
            if when.tzinfo is dt.UTC:
                return when
        except ValueError:  # not that form after all
            pass
    try:
        when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def read_payload(text: Any) -> Any:
    """The stored payload parsed exactly as json.loads would, or UNREADABLE."""
    try:
        body, end = _SCAN(text, 0)
        if end == len(text):
            return body
    except (TypeError, ValueError, StopIteration):
        pass
    try:
        return json.loads(text)  # spaces around it, bytes, ...: json.loads decides, as before
    except (TypeError, ValueError):
        return UNREADABLE

"""JSON text read exactly as json.loads reads it, in about half the time.

Why: every command parses the payload of each event of its case, and replay parses every event
in the store; orjson does that at twice the speed of json's C scanner. It agrees with json.loads
on everything it accepts but one thing: an integer beyond 64 bits becomes a float where
json.loads keeps it exact. So a text with a run of 19 or more digits (also a harmless one,
inside a string) goes to json.loads, and so does anything orjson refuses (NaN, 1e400, a lone
surrogate, ...), which then decides exactly as before.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"[0-9]{19}")


def loads(text: str) -> Any:
    """json.loads(text), for a str: the same value, or the same ValueError."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)

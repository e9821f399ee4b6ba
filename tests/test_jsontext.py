"""jsontext.loads must be json.loads: the same value with the same types, or the same refusal.

orjson is the fast path; these pin every place where it could disagree with json.loads: big
integers (orjson turns them into floats), floats at the edges, escapes, surrogates, NaN and
infinities, duplicate keys, whitespace, and text that is not JSON at all.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow import jsontext
from workflow.store.codec import UNREADABLE, read_payload


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 and 1.0 and True are not the same here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


def verdict(text: str) -> Any:
    try:
        return ("value", json.loads(text))
    except ValueError:
        return ("refused",)


def check(text: str) -> None:
    expected = verdict(text)
    try:
        got: Any = ("value", jsontext.loads(text))
    except ValueError:
        got = ("refused",)
    assert got[0] == expected[0], text
    if got[0] == "value":
        assert same(got[1], expected[1]), text
    payload = read_payload(text)
    assert (payload is UNREADABLE) == (expected[0] == "refused")
    if expected[0] == "value":
        assert same(payload, expected[1])


scalars = (st.none() | st.booleans() | st.text()
           | st.integers(min_value=-(2**70), max_value=2**70) | st.integers()
           | st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(value=values, ascii_only=st.booleans(), compact=st.booleans())
def test_serialised_values_read_back_as_json_reads_them(value: Any, ascii_only: bool, compact: bool) -> None:
    seps = (",", ":") if compact else (", ", ": ")
    check(json.dumps(value, ensure_ascii=ascii_only, separators=seps))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='{}[]",:0123456789.eE+-\\ unlltrfa\ud800x', max_size=30))
def test_arbitrary_text_is_judged_as_json_judges_it(text: str) -> None:
    check(text)


@pytest.mark.parametrize("text", [
    '{"a":1,"a":2}', '{"a":18446744073709551616}', '[-9223372036854775809]', '[12345678901234567890]',
    '[9223372036854775807, -9223372036854775808, 18446744073709551615]', '{"a":1e400}', '[NaN]',
    '[-Infinity]', '"\\ud800"', '"\\ud83d\\ude00"', '"\\u0000"', '"\\u2028"', ' {"a": 1} ', '{"a":-0}',
    '{"a":-0.0}', "[5e-324, 1e22, 1.7976931348623157e308, 0.1]", '"ab"', "01", "[1,]", "", "{", "tru",
    '{"s":"1234567890123456789012"}', '["\u00e9", "\\u00e9"]', "\ufeff{}", '{"a":"\x01"}',
])
def test_the_edges(text: str) -> None:
    check(text)

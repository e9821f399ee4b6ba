"""The hand-written canonical head is byte for byte the specified JSON (docs/event-chain.md).

`canonical_bytes` writes the head with an f-string for speed; the chain is only trustworthy if
that text equals `canonical_json` of the head's dict for every value, including quotes,
backslashes, control characters, non-ASCII text and extreme dates.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.domain.events import canonical_bytes, canonical_head_dict, canonical_json, make_event
from workflow.domain.instants import iso_utc

texts = st.text(max_size=12)
instants = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), None]),
)


def reference(**kw: object) -> bytes:
    payload_json = kw.pop("payload_json")
    head = canonical_json(canonical_head_dict(**kw))  # type: ignore[arg-type]
    return (head[:-1] + ',"payload":' + str(payload_json) + "}").encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(case_id=texts, seq=st.integers(0, 10**12), type_=texts, process_id=texts,
       process_version=st.integers(0, 10**6), actor=texts, role=texts, at=instants,
       prev_hash=texts, payload=st.dictionaries(texts, texts | st.integers(), max_size=3))
def test_canonical_bytes_equal_the_specified_json(
    case_id: str, seq: int, type_: str, process_id: str, process_version: int, actor: str,
    role: str, at: dt.datetime, prev_hash: str, payload: dict[str, object],
) -> None:
    kw = dict(case_id=case_id, seq=seq, type=type_, process_id=process_id,
              process_version=process_version, actor=actor, role=role, recorded_at=at,
              prev_hash=prev_hash, payload_json=canonical_json(payload))
    assert canonical_bytes(**kw) == reference(**kw)  # type: ignore[arg-type]


@given(at=instants)
def test_iso_utc_is_the_strftime_form(at: dt.datetime) -> None:
    utc = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    assert iso_utc(at) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_bool_seq_is_refused_rather_than_hashed_as_True() -> None:
    with pytest.raises(TypeError):
        canonical_bytes(case_id="C-1", seq=True, type="t", process_id="p", process_version=1,
                        actor="a", role="r", recorded_at=dt.datetime.now(dt.UTC),
                        payload_json="{}", prev_hash="0")


def test_a_new_event_carries_the_text_it_was_hashed_over() -> None:
    ev = make_event(case_id="C-1", seq=2, type="evidence_recorded", process_id="p",
                    process_version=1, actor="ib", role="ib", recorded_at=dt.datetime.now(dt.UTC),
                    payload={"b": "é", "a": [1, 2]}, prev_hash="0" * 64)
    assert ev.payload_json == '{"a":[1,2],"b":"é"}' == ev.payload_text
    assert ev.canonical() == canonical_bytes(
        case_id="C-1", seq=2, type="evidence_recorded", process_id="p", process_version=1,
        actor="ib", role="ib", recorded_at=ev.recorded_at, payload_json=ev.payload_json,
        prev_hash="0" * 64)


def test_restore_event_makes_what_the_constructor_makes() -> None:
    """restore_event skips the frozen dataclass's __init__; it must set every field, in order."""
    import dataclasses

    from workflow.domain.events import Event, restore_event

    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    values = ("C-1", 3, "transitioned", "passend_po", 2, "ib.x", "ib", at, {"a": [1]}, "0" * 64,
              "f" * 64)
    for extra in ((), ('{"a":[1]}',)):
        made, restored = Event(*values, *extra), restore_event(*values, *extra)
        assert type(restored) is Event
        assert vars(restored) == vars(made)
        assert list(vars(restored)) == [f.name for f in dataclasses.fields(Event)]
        assert restored == made and repr(restored) == repr(made)
        with pytest.raises(dataclasses.FrozenInstanceError):
            restored.seq = 4  # type: ignore[misc]

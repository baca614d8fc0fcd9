"""Properties of the event codec (hypothesis): every payload type round-trips whatever its values, and no
input (random bytes, random JSON, a valid event with one part replaced by random JSON) makes ``decode`` raise
anything but :class:`EventDecodeError` with a reason."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema import events as ev

FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | FINITE | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
PAYLOAD_CLASSES = sorted(ev.PAYLOAD_TYPES.values(), key=lambda cls: cls.TYPE)
# The module uses postponed annotations; hypothesis infers field strategies from resolved types.
for _cls in vars(ev).values():
    if isinstance(_cls, type) and attrs.has(_cls) and _cls.__module__ == ev.__name__:
        attrs.resolve_types(_cls)


def payloads(cls: type) -> st.SearchStrategy:
    return st.builds(cls)


@pytest.fixture(autouse=True, scope="module")
def _finite_floats():
    st.register_type_strategy(float, FINITE)
    yield


def envelopes(payload: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(ev.Envelope, request_id=st.uuids().map(str), game_id=st.uuids().map(str),
                     chat_id=st.none() | st.integers(min_value=-(2**62), max_value=2**62),
                     user_id=st.text(min_size=1, max_size=40), payload=payload)


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.TYPE)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_payload_round_trips(cls, data) -> None:
    envelope = data.draw(envelopes(payloads(cls)))
    assert ev.decode(ev.encode(envelope)) == envelope


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_escape_as_another_exception(raw: bytes) -> None:
    try:
        ev.decode(raw)
    except ev.EventDecodeError as exc:
        assert exc.reason


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_random_json_never_escapes_as_another_exception(value) -> None:
    try:
        ev.decode(json.dumps(value).encode())
    except ev.EventDecodeError as exc:
        assert exc.reason


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PAYLOAD_CLASSES), st.data())
def test_a_valid_event_with_one_part_replaced_decodes_or_is_refused(cls, data) -> None:
    document = ev.to_dict(data.draw(envelopes(payloads(cls))))
    where = data.draw(st.sampled_from(["envelope", "payload"]))
    target = document if where == "envelope" or not isinstance(document["payload"], dict) else document["payload"]
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
    target[key] = data.draw(JSON_VALUES)
    try:
        decoded = ev.decode(json.dumps(document).encode())
    except ev.EventDecodeError as exc:
        assert exc.reason
    else:
        assert ev.decode(ev.encode(decoded)) == decoded, "whatever decodes, round-trips"

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.serialization import (
    SCHEMA_VERSION,
    RecordFormatError,
    decode_record,
    encode_message,
    encode_record,
    pack_encoded,
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
messages = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(messages, max_size=8))
def test_round_trip(batch: list[dict[str, Any]]) -> None:
    assert decode_record(encode_record(batch)) == batch


@settings(max_examples=40, deadline=None)
@given(st.lists(messages, max_size=20))
def test_packing_pre_encoded_messages_equals_encoding_the_batch(
    batch: list[dict[str, Any]],
) -> None:
    assert pack_encoded([encode_message(m) for m in batch]) == encode_record(batch)


@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, 65_535, 65_536])
def test_array_header_sizes(count: int) -> None:
    batch = [{"i": i} for i in range(count)]
    encoded = pack_encoded([encode_message(m) for m in batch])
    assert encoded == encode_record(batch)
    assert decode_record(encoded) == batch


def test_output_is_deterministic_and_independent_of_key_order() -> None:
    a = {"symbol": "BTC-USD", "price": "101.25", "qty": "0.5", "nested": {"b": 1, "a": 2}}
    b = {"nested": {"a": 2, "b": 1}, "qty": "0.5", "price": "101.25", "symbol": "BTC-USD"}
    assert encode_record([a, a]) == encode_record([b, b])
    assert encode_record([a]) == encode_record([dict(a)])


def test_money_stays_a_decimal_string() -> None:
    [message] = decode_record(encode_record([{"price": "101.2500", "qty": "0.0001"}]))
    assert message == {"price": "101.2500", "qty": "0.0001"}


def test_unknown_schema_version_is_rejected_clearly() -> None:
    future = msgspec.msgpack.encode([SCHEMA_VERSION + 1, [{"a": 1}]])
    with pytest.raises(
        RecordFormatError, match=f"unsupported stream record schema version {SCHEMA_VERSION + 1}"
    ):
        decode_record(future)


@pytest.mark.parametrize(
    "data", [b"", b'{"a": 1}', b"\x92\x01\xc1", msgspec.msgpack.encode({"v": 1})]
)
def test_garbage_is_rejected(data: bytes) -> None:
    with pytest.raises(RecordFormatError):
        decode_record(data)


def test_a_record_must_hold_a_list_of_maps() -> None:
    with pytest.raises(RecordFormatError, match="malformed"):
        decode_record(msgspec.msgpack.encode([SCHEMA_VERSION, [1, 2]]))

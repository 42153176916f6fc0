"""`to_item` writes exactly what boto3's TypeSerializer writes, and refuses what it refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from services.common.dynamo_items import to_attribute, to_item

_scalars = (
    st.text()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.none()
    | st.decimals(allow_nan=False, allow_infinity=False, places=6)
    | st.binary(min_size=1)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1), _values, max_size=8))
def test_items_match_boto3s_serializer(item: dict[str, Any]) -> None:
    serializer = TypeSerializer()
    expected = {k: serializer.serialize(v) for k, v in item.items()}
    got = to_item(item)
    assert {k: _plain(v) for k, v in got.items()} == {k: _plain(v) for k, v in expected.items()}


def _plain(attribute: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue with boto3's `Binary` wrapper taken off."""
    ((kind, value),) = attribute.items()
    if kind == "B":
        return {"B": bytes(getattr(value, "value", value))}
    if kind == "M":
        return {"M": {k: _plain(v) for k, v in value.items()}}
    if kind == "L":
        return {"L": [_plain(v) for v in value]}
    return attribute


@pytest.mark.parametrize("bad", [1.5, Decimal("NaN"), Decimal("Infinity"), {1, 2}, object()])
def test_floats_and_unknown_types_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        to_attribute(bad)

"""Which private messages an engine event becomes (services/marketdata/private.py)."""

from __future__ import annotations

from services.marketdata.private import from_execution


def _rejected(reason: str) -> dict[str, object]:
    return {
        "type": "rejected",
        "symbol": "BTC-USD",
        "seq": 9,
        "id": "BTC-USD:9",
        "order_id": "o1",
        "account": "a1",
        "reason": reason,
    }


def test_a_refused_order_reaches_its_owner() -> None:
    assert list(from_execution(_rejected("price_off_tick"))) == [
        ("a1", "orders", _rejected("price_off_tick"))
    ]


def test_a_replayed_new_order_is_not_reported_as_rejected() -> None:
    """After an accounts-engine crash its replay sends a `new` again; the engine answers
    `duplicate_order_id` for an order that is live. Its owner must not see it rejected."""
    assert list(from_execution(_rejected("duplicate_order_id"))) == []

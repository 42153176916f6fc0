"""One test per reject reason, plus the shape of a reject event."""

from __future__ import annotations

from typing import Any

import pytest

from services.matching.engine import RejectReason
from tests.matching.conftest import Venue, kinds


def rejected(events: list[dict[str, Any]], reason: str) -> dict[str, Any]:
    """Assert the command produced exactly one reject with ``reason``; return it."""
    assert kinds(events) == [f"rejected:{reason}"], events
    assert events[0]["message"]
    return events[0]


def test_reject_unknown_symbol_has_sequence_zero(venue: Venue) -> None:
    event = rejected(venue.buy("b", "1", "1", symbol="DOGE-USD"), "unknown_symbol")
    assert (event["symbol"], event["seq"], event["id"]) == ("DOGE-USD", 0, "DOGE-USD:0")
    assert (event["order_id"], event["account"]) == ("b", "alice")


def test_reject_market_halted_for_new_orders_and_amends(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    venue.send({"op": "market", "symbol": "BTC-USD", "status": "halted"})
    rejected(venue.buy("c", "100", "1"), "market_halted")
    rejected(venue.amend("b", price="99"), "market_halted")
    venue.send({"op": "market", "symbol": "BTC-USD", "status": "trading"})
    assert kinds(venue.buy("c", "100", "1")) == ["accepted", "rested"]


def test_reject_price_off_tick(venue: Venue) -> None:
    rejected(venue.buy("b", "100.005", "1"), "price_off_tick")


def test_reject_qty_off_lot(venue: Venue) -> None:
    rejected(venue.buy("b", "100", "0.00015"), "qty_off_lot")


def test_reject_quote_qty_off_increment(venue: Venue) -> None:
    # BTC-USD's notional unit is 0.01 * 0.0001 = 0.000001.
    rejected(
        venue.buy("m", None, None, type="market", quote_qty="10.0000001"), "quote_qty_off_increment"
    )


@pytest.mark.parametrize(
    "price",
    ["0", "0.00", "-1", "abc", "1e3", "NaN", "Infinity", "1_000", " 100", "+100", "100.",
     ".5", "", "\u0661\u0660\u0660", "1" * 41, "10000000000000000000"],
)  # fmt: skip
def test_reject_invalid_price(venue: Venue, price: str) -> None:
    rejected(venue.buy("b", price, "1"), "invalid_price")


@pytest.mark.parametrize("qty", ["0", "-1", "1e-3", "one", "", "100000000000000"])
def test_reject_invalid_qty(venue: Venue, qty: str) -> None:
    rejected(venue.buy("b", "100", qty), "invalid_qty")


def test_reject_invalid_quote_qty_as_invalid_qty(venue: Venue) -> None:
    rejected(venue.buy("m", None, None, type="market", quote_qty="0"), "invalid_qty")


def test_reject_notional_below_minimum_for_limit_and_quote_orders(venue: Venue) -> None:
    rejected(venue.buy("b", "0.99", "1"), "notional_below_minimum")
    rejected(venue.buy("m", None, None, type="market", quote_qty="0.5"), "notional_below_minimum")
    venue.buy("ok", "100", "1")
    rejected(venue.amend("ok", qty="0.0001"), "notional_below_minimum")


def test_reject_unknown_order_for_never_seen_and_finished_orders(venue: Venue) -> None:
    rejected(venue.cancel("ghost"), "unknown_order")
    venue.buy("b", "100", "1")
    venue.cancel("b")
    rejected(venue.cancel("b"), "unknown_order")
    rejected(venue.amend("b", price="101"), "unknown_order")


def test_reject_not_order_owner_for_cancel_and_amend(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    rejected(venue.cancel("b", account="mallory"), "not_order_owner")
    rejected(venue.amend("b", account="mallory", qty="0.5"), "not_order_owner")
    assert venue.book() == ([("100.00", "1.0000")], [])


def test_reject_duplicate_order_id(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    event = rejected(venue.buy("b", "99", "1", account="bob"), "duplicate_order_id")
    assert event["order_id"] == "b"


def test_reject_post_only_would_take_for_new_and_amend(venue: Venue) -> None:
    venue.sell("s", "101", "1", account="bob")
    rejected(venue.buy("p", "101", "1", post_only=True), "post_only_would_take")
    venue.buy("p2", "100", "1", post_only=True)
    rejected(venue.amend("p2", price="101"), "post_only_would_take")
    assert venue.book() == ([("100.00", "1.0000")], [("101.00", "1.0000")])


def test_reject_market_has_open_orders_for_tick_or_lot_change(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    rejected(
        venue.send({"op": "market", "symbol": "BTC-USD", "tick_size": "0.1"}),
        "market_has_open_orders",
    )
    rejected(
        venue.send({"op": "market", "symbol": "BTC-USD", "lot_size": "0.001"}),
        "market_has_open_orders",
    )


LIMIT = {"op": "new", "id": "o", "account": "a", "symbol": "BTC-USD", "side": "buy",
         "type": "limit", "price": "100", "qty": "1"}  # fmt: skip
MARKET_BUY = {**LIMIT, "type": "market", "price": None}

MALFORMED: dict[str, Any] = {
    "not an object": ["new"],
    "no op": {k: v for k, v in LIMIT.items() if k != "op"},
    "unknown op": {**LIMIT, "op": "replace"},
    "op not a string": {**LIMIT, "op": ["new"]},
    "symbol not a string": {**LIMIT, "symbol": 1},
    "ts negative": {**LIMIT, "ts": -1},
    "ts a float": {**LIMIT, "ts": 1.5},
    "ts a bool": {**LIMIT, "ts": True},
    "no id": {**LIMIT, "id": None},
    "empty id": {**LIMIT, "id": ""},
    "id too long": {**LIMIT, "id": "x" * 129},
    "account not a string": {**LIMIT, "account": 7},
    "bad side": {**LIMIT, "side": "long"},
    "bad type": {**LIMIT, "type": "stop"},
    "bad tif": {**LIMIT, "tif": "GTD"},
    "market with FOK": {**MARKET_BUY, "tif": "FOK"},
    "bad stp": {**LIMIT, "stp": "decrement"},
    "post_only not a bool": {**LIMIT, "post_only": "yes"},
    "post_only on IOC": {**LIMIT, "tif": "IOC", "post_only": True},
    "post_only on a market order": {**MARKET_BUY, "post_only": True},
    "limit without price": {**LIMIT, "price": None},
    "limit with quote_qty": {**LIMIT, "quote_qty": "10"},
    "market with neither qty nor quote_qty": {**MARKET_BUY, "qty": None},
    "price as a number": {**LIMIT, "price": 100},
    "qty as a number": {**LIMIT, "qty": 1.0},
    "amend with neither price nor qty": {"op": "amend", "id": "o", "account": "a",
                                         "symbol": "BTC-USD"},
    "amend with a numeric price": {"op": "amend", "id": "o", "account": "a",
                                   "symbol": "BTC-USD", "price": 5},
    "cancel without account": {"op": "cancel", "id": "o", "symbol": "BTC-USD"},
    "market without terms": {"op": "market", "symbol": "NEW-USD", "base": "NEW"},
    "market with a bad tick": {"op": "market", "symbol": "BTC-USD", "tick_size": "0"},
    "market with a bad status": {"op": "market", "symbol": "BTC-USD", "status": "closed"},
    "market with an empty symbol": {"op": "market", "symbol": "", "base": "X"},
}  # fmt: skip


@pytest.mark.parametrize("command", MALFORMED.values(), ids=MALFORMED.keys())
def test_reject_malformed_command(venue: Venue, command: Any) -> None:
    venue.buy("o", "100", "1", account="a")  # so amends and cancels find an order
    before = venue.engine.snapshot()
    event = rejected(venue.send(command), "malformed_command")
    known = isinstance(command, dict) and command.get("symbol") == "BTC-USD"
    assert event["seq"] == (3 if known else 0)
    assert venue.engine.snapshot().replace(b'"seq":3', b'"seq":2') == before


def test_reject_of_a_command_without_symbol_has_empty_symbol_and_sequence_zero(
    venue: Venue,
) -> None:
    event = rejected(venue.send({"op": "cancel", "id": "o", "account": "a"}), "malformed_command")
    assert (event["symbol"], event["seq"], event["id"]) == ("", 0, ":0")


def test_every_reject_reason_has_a_test_named_for_it() -> None:
    names = [name for name in globals() if name.startswith("test_reject_")]
    missing = [
        r.value
        for r in RejectReason
        if not any(n.startswith(f"test_reject_{r.value}") for n in names)
    ]
    assert not missing

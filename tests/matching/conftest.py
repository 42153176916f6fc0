"""A small driver for engine unit tests: commands as keyword arguments, wire events back."""

from __future__ import annotations

from typing import Any

import pytest

from services.matching.engine import DEFAULT_MARKETS, Market, MatchingEngine, encode_event

SYMBOL = "BTC-USD"  # tick 0.01, lot 0.0001, min_notional 1


class Venue:
    """Sends commands to one ``MatchingEngine`` and returns the encoded events of each."""

    def __init__(self, markets: tuple[Market, ...] = DEFAULT_MARKETS) -> None:
        self.engine = MatchingEngine(markets)

    def send(self, command: Any) -> list[dict[str, Any]]:
        return [encode_event(event) for event in self.engine.apply(command)]

    def order(
        self, order_id: str, side: str, price: str | None, qty: str | None, **extra: Any
    ) -> list[dict[str, Any]]:
        command: dict[str, Any] = {
            "op": "new",
            "id": order_id,
            "account": extra.pop("account", "alice"),
            "symbol": extra.pop("symbol", SYMBOL),
            "side": side,
            "type": extra.pop("type", "limit"),
        }
        if price is not None:
            command["price"] = price
        if qty is not None:
            command["qty"] = qty
        command.update(extra)
        return self.send(command)

    def buy(self, order_id: str, price: str | None, qty: str | None, **extra: Any) -> list[dict]:
        return self.order(order_id, "buy", price, qty, **extra)

    def sell(self, order_id: str, price: str | None, qty: str | None, **extra: Any) -> list[dict]:
        return self.order(order_id, "sell", price, qty, **extra)

    def cancel(self, order_id: str, account: str = "alice", **extra: Any) -> list[dict]:
        command = {"op": "cancel", "id": order_id, "account": account, "symbol": SYMBOL}
        return self.send({**command, **extra})

    def amend(self, order_id: str, account: str = "alice", **fields: Any) -> list[dict]:
        command = {"op": "amend", "id": order_id, "account": account, "symbol": SYMBOL}
        return self.send({**command, **fields})

    def book(self, symbol: str = SYMBOL) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        return self.engine.l2(symbol)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """The event types, in order, with the reason where there is one ("expired:ioc")."""
    return [f"{e['type']}:{e['reason']}" if "reason" in e else e["type"] for e in events]


def trades(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(maker, taker, price, qty) of each trade event."""
    return [
        (e["maker_order_id"], e["taker_order_id"], e["price"], e["qty"])
        for e in events
        if e["type"] == "trade"
    ]


@pytest.fixture
def venue() -> Venue:
    return Venue()

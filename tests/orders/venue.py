"""An in-memory venue for engine tests: the accounts engine, the real matching engine and the
settlement relay rule, wired by a FIFO queue standing in for the streams (no AWS)."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from services.matching.engine import Market, MatchingEngine, encode_event
from services.orders.accounts import AccountsEngine
from services.orders.settlement import settlement_messages

MARKETS: dict[str, dict[str, Any]] = {
    "BTC-USD": {
        "base": "BTC",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.0001",
        "min_notional": "1",
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
    },
    "ETH-USD": {
        "base": "ETH",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "1",
        "maker_fee_bps": 0,
        "taker_fee_bps": 25,
    },
}


class MemoryVenue:
    """Feed `orders`-stream messages in; everything the engines publish is routed like the
    streams would route it. `duplicate_relay` replays every relayed message twice."""

    def __init__(self, *, duplicate_relay: bool = False) -> None:
        self.accounts = AccountsEngine()
        self.matching = MatchingEngine(
            [
                Market(
                    symbol, m["base"], m["quote"], m["tick_size"], m["lot_size"], m["min_notional"]
                )
                for symbol, m in MARKETS.items()
            ]
        )
        self.duplicate_relay = duplicate_relay
        self.published: list[dict[str, Any]] = []
        self.executions: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.ts = 1_700_000_000_000

    def next_id(self, prefix: str = "o") -> str:
        return f"{prefix}{next(self._ids):06d}"

    def send(self, message: dict[str, Any]) -> None:
        queue: deque[dict[str, Any]] = deque([message])
        while queue:
            for stream, _key, out in self.accounts.apply(queue.popleft()):
                if stream == "accounts":
                    self.published.append(out)
                elif stream == "orders":
                    queue.append(out)
                elif stream == "matching":
                    for event in self.matching.apply(out):
                        wire = encode_event(event)
                        self.executions.append(wire)
                        for _s, _k, relayed in settlement_messages(wire):
                            queue.append(relayed)
                            if self.duplicate_relay:
                                queue.append(relayed)

    # -- conveniences -----------------------------------------------------------------------

    def deposit(self, account: str, asset: str, amount: str) -> None:
        self.ts += 1
        self.send(
            {
                "kind": "deposit",
                "account": account,
                "id": self.next_id("d"),
                "asset": asset,
                "amount": amount,
                "ts": self.ts,
            }
        )

    def withdraw(self, account: str, asset: str, amount: str) -> str:
        self.ts += 1
        transfer_id = self.next_id("w")
        self.send(
            {
                "kind": "withdraw",
                "account": account,
                "id": transfer_id,
                "asset": asset,
                "amount": amount,
                "ts": self.ts,
            }
        )
        return transfer_id

    def order(
        self, account: str, symbol: str, side: str, type_: str = "limit", **fields: Any
    ) -> str:
        self.ts += 1
        order_id = fields.pop("id", None) or self.next_id()
        command: dict[str, Any] = {
            "op": "new",
            "id": order_id,
            "account": account,
            "symbol": symbol,
            "side": side,
            "type": type_,
            "ts": self.ts,
        }
        if type_ == "limit":
            command["tif"] = fields.pop("tif", "GTC")
        command.update({k: v for k, v in fields.items() if v is not None})
        self.send(
            {
                "kind": "new",
                "account": account,
                "order": command,
                "market": MARKETS[symbol],
                "client_order_id": None,
            }
        )
        return order_id

    def cancel(self, account: str, order_id: str) -> None:
        self.ts += 1
        self.send(
            {
                "kind": "cancel",
                "account": account,
                "id": order_id,
                "ts": self.ts,
                "request_id": self.next_id("r"),
            }
        )

    def amend(self, account: str, order_id: str, **fields: Any) -> None:
        self.ts += 1
        self.send(
            {
                "kind": "amend",
                "account": account,
                "id": order_id,
                "ts": self.ts,
                "request_id": self.next_id("r"),
                **fields,
            }
        )

    def balance(self, account: str, asset: str) -> tuple[int, int]:
        return self.accounts.balance(account, asset)

    def last_order(self, order_id: str) -> dict[str, Any]:
        views = [
            m["order"]
            for m in self.published
            if m["kind"] == "order" and m["order"]["id"] == order_id
        ]
        return views[-1]

"""Private channels: which account sees which message.

`orders` carries every state change of the account's orders: the engine's order events from
`executions` whose `account` is the user (`accepted`, `rested`, `amended`, `filled`, `cancelled`,
`expired`, `rejected`), one `trade` message per side of every trade the order took part in (with
the order's cumulative `filled`), and `order_rejected` from the `accounts` stream (refused by risk
before reaching the engine). `fills` carries one `fill` per side of each trade. `balances`
carries the `ledger` messages of the `accounts` stream. A message never reaches another account.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PrivateMessage = tuple[str, str, dict[str, Any]]
"""(account, channel, message without the `channel` key)."""

ORDER_EVENTS = frozenset(
    {"accepted", "rested", "amended", "filled", "cancelled", "expired", "rejected"}
)
_BUY = "buy"
_SELL = "sell"


def from_execution(event: dict[str, Any]) -> Iterator[PrivateMessage]:
    """Private messages for one `executions` event."""
    kind = event.get("type")
    if kind == "rejected" and event.get("reason") == "duplicate_order_id":
        # Never the user's doing (the orders API assigns ids): the engine's answer to a `new` the
        # accounts engine sent again while replaying after a crash. The order itself is live;
        # pushing this would tell its owner it was rejected.
        return
    if kind in ORDER_EVENTS:
        account = event.get("account")
        if isinstance(account, str):
            yield account, "orders", event
    elif kind == "trade":
        taker_side = event["taker_side"]
        maker_side = _SELL if taker_side == _BUY else _BUY
        for role, side, account, order_id, filled in (
            (
                "maker",
                maker_side,
                event["maker_account"],
                event["maker_order_id"],
                event["maker_filled"],
            ),
            (
                "taker",
                taker_side,
                event["taker_account"],
                event["taker_order_id"],
                event["taker_filled"],
            ),
        ):
            common = {
                "symbol": event["symbol"],
                "seq": event["seq"],
                "ts": event.get("ts"),
                "order_id": order_id,
                "side": side,
                "role": role,
                "price": event["price"],
                "qty": event["qty"],
            }
            order = {"type": "trade", "id": event["id"], **common, "filled": filled}
            if role == "maker":
                order["remaining"] = event["maker_remaining"]
            yield account, "orders", order
            yield account, "fills", {"type": "fill", "trade_id": event["id"], **common}


def from_accounts(message: dict[str, Any]) -> Iterator[PrivateMessage]:
    """Private messages for one `accounts` stream message."""
    kind = message.get("kind")
    account = message.get("account")
    if not isinstance(account, str):
        return
    if kind == "order_rejected":
        yield account, "orders", {"type": "order_rejected", **_without(message, "kind")}
    elif kind == "ledger":
        yield account, "balances", {"type": "ledger", **_without(message, "kind")}


def _without(message: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != key}

"""The settlement relay's rule: which accounts a matching engine event concerns.

The relay consumes `executions` (partition key = symbol) and puts each event that names an account
on `orders` (partition key = account), so the accounts engine sees fills in its own single input
order. A trade concerns two orders and is relayed once per side, with `role` saying which.
"""

from __future__ import annotations

from typing import Any

Output = tuple[str, str, dict[str, Any]]

_ORDER_EVENTS = frozenset(
    {"accepted", "rested", "amended", "filled", "cancelled", "expired", "rejected"}
)


def settlement_messages(event: dict[str, Any]) -> list[Output]:
    """The `execution` messages to put on `orders` for one engine event (none for `book`,
    `market`, and rejects that name no order)."""
    kind = event.get("type")
    if kind == "trade":
        return [
            ("orders", event["maker_account"], _wrap(event, event["maker_account"], "maker")),
            ("orders", event["taker_account"], _wrap(event, event["taker_account"], "taker")),
        ]
    if kind in _ORDER_EVENTS and event.get("account") and event.get("order_id"):
        return [("orders", event["account"], _wrap(event, event["account"], None))]
    return []


def _wrap(event: dict[str, Any], account: str, role: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"kind": "execution", "account": account, "event": event}
    if role is not None:
        message["role"] = role
    return message

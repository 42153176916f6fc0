"""An order as the accounts engine follows it: what it may still spend and what it has held."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.orders.accounts.money import MarketTerms, fee_ceiling, format_units, notional_units

BUY = "buy"
SELL = "sell"
LIMIT = "limit"
MARKET = "market"


class OrderStatus(StrEnum):
    """The status an order shows on the API. `pending` until the matching engine's verdict."""

    PENDING = "pending"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED}
)
OPEN_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


class Reason(StrEnum):
    """Why the accounts engine refused an order, amend, cancel or transfer."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    MALFORMED_MESSAGE = "malformed_message"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_NOT_OPEN = "order_not_open"
    NOT_ORDER_OWNER = "not_order_owner"
    NOT_AMENDABLE = "not_amendable"
    PRICE_OFF_TICK = "price_off_tick"
    QTY_OFF_LOT = "qty_off_lot"


@dataclass(slots=True)
class LiveOrder:
    """A non-terminal order. Quantities and prices are 1e-8 units; `held` is in `hold_asset`.

    For a buy, `price` and `open` bound what it may still spend (price x open), and so does
    `quote_cap` (a quote_qty order, or a market buy by qty held against the whole balance):
    whichever is smaller. A sell spends at most `open` of the base asset.
    """

    id: str
    account: str
    symbol: str
    side: str
    type: str
    tif: str | None
    post_only: bool
    stp: str | None
    client_order_id: str | None
    terms: MarketTerms
    price: int | None
    qty: int | None
    quote_qty: int | None
    quote_cap: int | None
    open: int | None
    created: int | None
    filled: int = 0
    filled_quote: int = 0
    fee_numerator: int = 0
    """Sum of notional x fee bps over fills; the order's fees are ceil(this / 10000) in total."""
    fees: int = 0
    held: int = 0
    last_seq: int = -1
    matched: bool = False
    """The matching engine accepted it: a later `rejected` answers a cancel or amend."""
    status: str = OrderStatus.PENDING
    reason: str | None = None
    updated: int | None = None
    version: int = 0
    requests: list[list[Any]] = field(default_factory=list)
    """Cancels and amends sent to matching and not answered yet, oldest first:
    ["cancel"] or ["amend", price, qty] (None: unchanged)."""

    @property
    def hold_asset(self) -> str:
        return self.terms.quote if self.side == BUY else self.terms.base

    def spend_bound(self, price: int | None, open_qty: int | None) -> int:
        """Most quote a buy may still spend at this limit and open quantity (before fees)."""
        bounds = []
        if price is not None and open_qty is not None:
            bounds.append(notional_units(price, open_qty))
        if self.quote_cap is not None:
            bounds.append(max(0, self.quote_cap - self.filled_quote))
        return min(bounds) if bounds else 0

    def hold_needed(self) -> int:
        """What must stay held so every fill it can still make, fees included, is paid for.

        Pending amends count at their new terms until the matching engine answers them.
        """
        if self.side == SELL:
            need = self.open or 0
            for request in self.requests:
                if request[0] == "amend":
                    need = max(need, request[2] if request[2] is not None else need)
            return need
        spend = self.spend_bound(self.price, self.open)
        for request in self.requests:
            if request[0] == "amend":
                price = request[1] if request[1] is not None else self.price
                qty = request[2] if request[2] is not None else self.open
                if price is not None and qty is not None:
                    spend = max(spend, notional_units(price, qty))
        worst_fees = fee_ceiling(self.fee_numerator + spend * self.terms.max_fee_bps) - self.fees
        return spend + worst_fees

    def view(self) -> dict[str, Any]:
        """The order as the query side shows it (decimal strings, ms timestamps)."""
        t = self.terms
        avg = None
        if self.filled:
            avg = format_units(self.filled_quote * 10**8 // self.filled)
        return {
            "id": self.id,
            "account": self.account,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "tif": self.tif,
            "price": None if self.price is None else t.price(self.price),
            "qty": None if self.qty is None else t.qty(self.qty),
            "quote_qty": None if self.quote_qty is None else t.quote_amount(self.quote_qty),
            "post_only": self.post_only,
            "stp": self.stp,
            "client_order_id": self.client_order_id,
            "status": str(self.status),
            "reason": self.reason,
            "filled": t.qty(self.filled),
            "open": None if self.open is None else t.qty(self.open),
            "filled_quote": t.quote_amount(self.filled_quote),
            "avg_price": avg,
            "fees": format_units(self.fees),
            "fee_asset": t.quote,
            "held": format_units(self.held),
            "hold_asset": self.hold_asset,
            "created": self.created,
            "updated": self.updated,
            "version": self.version,
        }

    def to_state(self) -> list[Any]:
        return [
            self.id,
            self.account,
            self.symbol,
            self.side,
            self.type,
            self.tif,
            self.post_only,
            self.stp,
            self.client_order_id,
            self.terms.to_state(),
            self.price,
            self.qty,
            self.quote_qty,
            self.quote_cap,
            self.open,
            self.created,
            self.filled,
            self.filled_quote,
            self.fee_numerator,
            self.fees,
            self.held,
            self.last_seq,
            self.matched,
            str(self.status),
            self.reason,
            self.updated,
            self.version,
            self.requests,
        ]

    @classmethod
    def from_state(cls, data: list[Any]) -> LiveOrder:
        values = list(data)
        values[9] = MarketTerms.from_state(values[9])
        return cls(*values)

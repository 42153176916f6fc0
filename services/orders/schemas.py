"""Request and response bodies of the orders API.

Money is a decimal string ("101.25"): a JSON number for a price, quantity or amount is refused
with 422, because a float cannot say 0.1 exactly. No exponent, sign, NaN or whitespace either.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

DECIMAL_PATTERN = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,18})?$")


def _decimal_string(value: Any) -> Any:
    if isinstance(value, int | float):  # bool is an int too
        raise ValueError('must be a decimal string such as "101.25", not a JSON number')
    if not isinstance(value, str) or not DECIMAL_PATTERN.match(value):
        raise ValueError('must be a plain decimal string such as "101.25" (no sign or exponent)')
    if not any(c in "123456789" for c in value):
        raise ValueError("must be greater than zero")
    return value


DecimalString = Annotated[
    str,
    BeforeValidator(_decimal_string),
    Field(json_schema_extra={"pattern": DECIMAL_PATTERN.pattern, "examples": ["101.25"]}),
]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
SelfTradePrevention = Literal["cancel_taker", "cancel_maker", "cancel_both", "none"]
ClientOrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceOrder(_Strict):
    """A new order. Limit: `price` and `qty`. Market: `qty` or `quote_qty`, and optionally a
    protection `price` (the worst price it may trade at)."""

    # A whole valid order: the per-field examples alone combine into an invalid one (a limit
    # order with quote_qty), which is all Swagger UI and schemathesis would otherwise send.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "symbol": "BTC-USD",
                    "side": "buy",
                    "type": "limit",
                    "price": "60000.00",
                    "qty": "0.0010",
                }
            ]
        },
    )

    symbol: str = Field(examples=["BTC-USD"], max_length=32)
    side: Side
    type: OrderType = "limit"
    price: DecimalString | None = None
    qty: DecimalString | None = None
    quote_qty: DecimalString | None = None
    tif: TimeInForce | None = Field(
        default=None, description="GTC (default), IOC or FOK; market orders are IOC."
    )
    post_only: bool = False
    stp: SelfTradePrevention = "cancel_taker"
    client_order_id: ClientOrderId | None = None


class AmendOrder(_Strict):
    """New price and/or new *open* quantity of a resting limit order."""

    price: DecimalString | None = None
    qty: DecimalString | None = None


class Transfer(_Strict):
    """A deposit or withdrawal. `account` (admins only) defaults to the caller's own."""

    asset: str = Field(pattern=r"^[A-Z0-9]{1,12}$", examples=["USD"])
    amount: DecimalString
    account: str | None = Field(default=None, max_length=128)


class NewMarket(_Strict):
    symbol: str = Field(examples=["SOL-USD"])
    base: str = Field(examples=["SOL"])
    quote: str = Field(examples=["USD"])
    tick_size: DecimalString
    lot_size: DecimalString
    min_notional: str = Field(default="1", examples=["1"])
    maker_fee_bps: int = Field(default=10, ge=0, le=1000)
    taker_fee_bps: int = Field(default=20, ge=0, le=1000)


class OrderView(BaseModel):
    """An order as the query side knows it."""

    id: str
    client_order_id: str | None = None
    account: str | None = None
    symbol: str | None = None
    side: str | None = None
    type: str | None = None
    tif: str | None = None
    price: str | None = None
    qty: str | None = None
    quote_qty: str | None = None
    post_only: bool | None = None
    stp: str | None = None
    status: str
    reason: str | None = None
    filled: str | None = None
    open: str | None = None
    filled_quote: str | None = None
    avg_price: str | None = None
    fees: str | None = None
    fee_asset: str | None = None
    created: int | None = None
    updated: int | None = None


class Freshness(BaseModel):
    """How current a projected answer is: `as_of` is the engine time of the last event it
    reflects, `projected_at` when the projector wrote it, `age_ms` now minus `projected_at`."""

    as_of: int | None = None
    projected_at: int | None = None
    age_ms: int | None = None


class OrderResponse(BaseModel):
    order: OrderView
    freshness: Freshness | None = None


class OrderList(BaseModel):
    orders: list[OrderView]
    cursor: str | None = None


class Fill(BaseModel):
    id: str
    order_id: str
    symbol: str
    side: str
    price: str
    qty: str
    fee: str
    fee_asset: str
    liquidity: Literal["maker", "taker"]
    time: int | None


class FillList(BaseModel):
    trades: list[Fill]
    cursor: str | None = None


class Balance(BaseModel):
    asset: str
    available: str
    held: str


class BalanceList(BaseModel):
    balances: list[Balance]


class TransferView(BaseModel):
    id: str
    account: str
    direction: Literal["deposit", "withdraw"]
    asset: str
    amount: str
    status: Literal["pending", "applied", "rejected"]
    reason: str | None = None


class TransferResponse(BaseModel):
    transfer: TransferView

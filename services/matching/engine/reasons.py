"""Why an order was rejected, expired or cancelled. Every reason on the wire comes from here."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why a command was refused. A rejected command changes no book state."""

    MALFORMED_COMMAND = "malformed_command"
    """Not an object, missing/unknown op, missing or mistyped field, bad side/type/tif/stp, ..."""
    UNKNOWN_SYMBOL = "unknown_symbol"
    MARKET_HALTED = "market_halted"
    """New orders and amends on a halted market (cancels are still allowed)."""
    INVALID_PRICE = "invalid_price"
    """Price text that is not a plain positive decimal, or zero, or too large."""
    PRICE_OFF_TICK = "price_off_tick"
    INVALID_QTY = "invalid_qty"
    """Quantity (or quote quantity) text that is not a plain positive decimal, or zero, or too large."""
    QTY_OFF_LOT = "qty_off_lot"
    QUOTE_QTY_OFF_INCREMENT = "quote_qty_off_increment"
    """A ``quote_qty`` finer than tick_size * lot_size, the engine's unit of notional."""
    NOTIONAL_BELOW_MINIMUM = "notional_below_minimum"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    UNKNOWN_ORDER = "unknown_order"
    """Cancel or amend of an id that is not open on this symbol (never seen, or already done)."""
    NOT_ORDER_OWNER = "not_order_owner"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    MARKET_HAS_OPEN_ORDERS = "market_has_open_orders"
    """A market update that changes base, quote, tick or lot while orders rest on its book."""


class ExpireReason(StrEnum):
    """Why the unfilled rest of a taker left without resting."""

    IOC = "ioc"
    """An IOC limit order traded what it could; the rest expired."""
    FOK = "fok"
    """A FOK order could not fill completely; it expired without any trade."""
    SELF_TRADE = "self_trade"
    """Self-trade prevention (``cancel_taker`` or ``cancel_both``) stopped the taker."""
    PROTECTION_PRICE = "protection_price"
    """A market order reached its protection price with quantity left."""
    NO_LIQUIDITY = "no_liquidity"
    """A market order emptied the opposite side of the book with quantity left."""
    QUOTE_REMAINDER = "quote_remainder"
    """A ``quote_qty`` market order's unspent quote buys less than one lot at the best price."""


class CancelReason(StrEnum):
    """Why a resting order was taken off the book."""

    USER = "user"
    """A cancel command."""
    SELF_TRADE = "self_trade"
    """A taker from the same account with ``stp`` ``cancel_maker`` or ``cancel_both`` met it."""

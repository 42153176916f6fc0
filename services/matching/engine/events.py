"""Engine events: compact tuples inside, JSON-ready dicts on the wire.

Creating an event is the engine's most frequent allocation, so an event is a plain tuple:

    (type, symbol, seq, ts, market, *fields)

``type`` is one of the constants below, ``seq`` the symbol's sequence number (0 for a reject on an
unknown symbol), ``ts`` the command's ``ts`` or ``None``, ``market`` the :class:`Market` whose
terms the integer fields are in (``None`` only on rejects without a known market). Integer fields
are ticks, lots or notional units; :func:`encode_event` turns them into decimal strings. The
field layout of each type is listed next to its constant, in wire order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.matching.engine.markets import Market

Event = tuple[Any, ...]
"""An engine event; see the module docstring for the layout."""

ACCEPTED = "accepted"
"""order_id, account, side, order_type, tif, price|None, qty|None, quote_qty|None, post_only, stp"""
TRADE = "trade"
"""maker_order_id, taker_order_id, maker_account, taker_account, price, qty, taker_side,
maker_filled, taker_filled, maker_remaining"""
RESTED = "rested"
"""order_id, account, side, price, open_qty, filled"""
AMENDED = "amended"
"""order_id, account, side, old_price, old_open_qty, price, qty, priority_kept (bool)"""
FILLED = "filled"
"""order_id, account, filled"""
CANCELLED = "cancelled"
"""order_id, account, side, price, open_qty, filled, reason (CancelReason)"""
EXPIRED = "expired"
"""order_id, account, side, filled, remaining|None, remaining_quote|None, reason (ExpireReason)"""
REJECTED = "rejected"
"""order_id|None, account|None, reason (RejectReason), message"""
BOOK = "book"
"""bids, asks: lists of (price_ticks, qty_lots), best first"""
MARKET = "market"
"""no fields: the market itself (position 4) is the payload"""

EVENT_TYPES = (ACCEPTED, TRADE, RESTED, AMENDED, FILLED, CANCELLED, EXPIRED, REJECTED, BOOK, MARKET)


def _header(event: Event) -> dict[str, Any]:
    symbol = event[1]
    seq = event[2]
    wire: dict[str, Any] = {"type": event[0], "symbol": symbol, "seq": seq, "id": f"{symbol}:{seq}"}
    if event[3] is not None:
        wire["ts"] = event[3]
    return wire


def _accepted(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["order_id"] = event[5]
    wire["account"] = event[6]
    wire["side"] = event[7]
    wire["order_type"] = event[8]
    wire["tif"] = event[9]
    if event[10] is not None:
        wire["price"] = m.format_price(event[10])
    if event[11] is not None:
        wire["qty"] = m.format_qty(event[11])
    if event[12] is not None:
        wire["quote_qty"] = m.format_quote(event[12])
    wire["post_only"] = event[13]
    wire["stp"] = event[14]
    return wire


def _trade(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["maker_order_id"] = event[5]
    wire["taker_order_id"] = event[6]
    wire["maker_account"] = event[7]
    wire["taker_account"] = event[8]
    wire["price"] = m.format_price(event[9])
    wire["qty"] = m.format_qty(event[10])
    wire["taker_side"] = event[11]
    wire["maker_filled"] = m.format_qty(event[12])
    wire["taker_filled"] = m.format_qty(event[13])
    wire["maker_remaining"] = m.format_qty(event[14])
    return wire


def _rested(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["order_id"] = event[5]
    wire["account"] = event[6]
    wire["side"] = event[7]
    wire["price"] = m.format_price(event[8])
    wire["open_qty"] = m.format_qty(event[9])
    wire["filled"] = m.format_qty(event[10])
    return wire


def _amended(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["order_id"] = event[5]
    wire["account"] = event[6]
    wire["side"] = event[7]
    wire["old_price"] = m.format_price(event[8])
    wire["old_open_qty"] = m.format_qty(event[9])
    wire["price"] = m.format_price(event[10])
    wire["qty"] = m.format_qty(event[11])
    wire["priority"] = "kept" if event[12] else "lost"
    return wire


def _filled(event: Event) -> dict[str, Any]:
    wire = _header(event)
    wire["order_id"] = event[5]
    wire["account"] = event[6]
    wire["filled"] = event[4].format_qty(event[7])
    return wire


def _cancelled(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["order_id"] = event[5]
    wire["account"] = event[6]
    wire["side"] = event[7]
    wire["price"] = m.format_price(event[8])
    wire["open_qty"] = m.format_qty(event[9])
    wire["filled"] = m.format_qty(event[10])
    wire["reason"] = event[11].value
    return wire


def _expired(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["order_id"] = event[5]
    wire["account"] = event[6]
    wire["side"] = event[7]
    wire["filled"] = m.format_qty(event[8])
    if event[9] is not None:
        wire["remaining"] = m.format_qty(event[9])
    if event[10] is not None:
        wire["remaining_quote"] = m.format_quote(event[10])
    wire["reason"] = event[11].value
    return wire


def _rejected(event: Event) -> dict[str, Any]:
    wire = _header(event)
    if event[5] is not None:
        wire["order_id"] = event[5]
    if event[6] is not None:
        wire["account"] = event[6]
    wire["reason"] = event[7].value
    wire["message"] = event[8]
    return wire


def _book(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    price, qty = m.format_price, m.format_qty
    wire["bids"] = [[price(p), qty(q)] for p, q in event[5]]
    wire["asks"] = [[price(p), qty(q)] for p, q in event[6]]
    return wire


def _market(event: Event) -> dict[str, Any]:
    m: Market = event[4]
    wire = _header(event)
    wire["base"] = m.base
    wire["quote"] = m.quote
    wire["tick_size"] = m.tick_size
    wire["lot_size"] = m.lot_size
    wire["min_notional"] = m.min_notional
    wire["status"] = m.status.value
    return wire


_ENCODERS: dict[str, Callable[[Event], dict[str, Any]]] = {
    ACCEPTED: _accepted,
    TRADE: _trade,
    RESTED: _rested,
    AMENDED: _amended,
    FILLED: _filled,
    CANCELLED: _cancelled,
    EXPIRED: _expired,
    REJECTED: _rejected,
    BOOK: _book,
    MARKET: _market,
}


def encode_event(event: Event) -> dict[str, Any]:
    """Turn an engine event into its wire form: a JSON-ready dict with decimal strings.

    Keys come in a fixed order (type, symbol, seq, id, ts, then the type's fields as documented
    in docs/engine.md), so serializing the dict gives byte-identical output for equal events.
    """
    return _ENCODERS[event[0]](event)

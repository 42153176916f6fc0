"""The order book of one symbol and price-time priority matching.

Layout, chosen for CPython speed:

* ``OrderBook.orders`` maps every open order id to its :class:`Order` (O(1) cancel and amend).
* Each side is a :class:`BookSide`: a dict price -> :class:`PriceLevel` plus ``keys``, a plain
  sorted list of *priority keys* with the best level at the end. A bid's key is its price and an
  ask's key is minus its price, so on both sides the best level is ``keys[-1]``, consuming it is
  ``keys.pop()``, and "the level at key k crosses a taker with limit key L" is ``k >= L``.
  Finding a level is a dict lookup; adding or removing one is a C ``bisect`` plus a pointer
  ``memmove`` (levels are far fewer than orders, and most churn happens at the end of the list).
* A :class:`PriceLevel` keeps its orders in an insertion-ordered dict (time priority; O(1)
  removal) and a running ``qty`` total for L2. Emptied levels go to a small pool and are reused,
  since price-moving amends empty and create levels all the time.

Methods here trust their inputs: the engine validates commands first. All quantities are integer
lots, prices integer ticks, quote amounts integer notional units (see :class:`Market`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from itertools import islice

from services.matching.engine.events import (
    ACCEPTED,
    AMENDED,
    CANCELLED,
    EXPIRED,
    FILLED,
    RESTED,
    TRADE,
    Event,
)
from services.matching.engine.markets import Market
from services.matching.engine.reasons import CancelReason, ExpireReason

BUY = "buy"
SELL = "sell"
STP_NONE = "none"
STP_CANCEL_TAKER = "cancel_taker"
STP_CANCEL_MAKER = "cancel_maker"
STP_CANCEL_BOTH = "cancel_both"
LIMIT = "limit"
MARKET_ORDER = "market"
GTC = "GTC"
IOC = "IOC"
FOK = "FOK"

NO_LIMIT = -(10**19)
"""Limit key of a market order without protection price: below every real key."""

# Why a taker stopped matching.
_GOING = 0
_DONE = 1
_PAST_LIMIT = 2
_BOOK_EMPTY = 3
_SELF_TRADE = 4
_QUOTE_SPENT = 5

_USER = CancelReason.USER
_MAKER_SELF_TRADE = CancelReason.SELF_TRADE


class Order:
    """An order while it lives in the engine: resting, or taking as a new order or amend."""

    __slots__ = (
        "account",
        "amend_ids",
        "filled",
        "is_buy",
        "level",
        "open_qty",
        "order_id",
        "post_only",
        "price",
        "side",
        "stp",
    )

    def __init__(
        self,
        order_id: str,
        account: str,
        side: str,
        price: int | None,
        open_qty: int,
        stp: str,
        post_only: bool,
        filled: int = 0,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.side = side
        self.is_buy = side == BUY
        self.price = price
        self.open_qty = open_qty
        self.filled = filled
        self.stp = stp
        self.post_only = post_only
        self.level: PriceLevel | None = None
        # Request ids of the amends applied to this order (None until the first), so a repeated
        # amend changes nothing; they live and die with the order.
        self.amend_ids: dict[str, None] | None = None


class PriceLevel:
    """All resting orders at one price on one side, in time priority, with their total qty."""

    __slots__ = ("orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.orders: dict[str, Order] = {}


class BookSide:
    """One side of a book: levels by price plus priority keys sorted with the best last."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # +1 for bids, -1 for asks: key = sign * price
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []

    def best_first(self, limit: int | None = None) -> list[PriceLevel]:
        """The levels from best to worst price; only the best ``limit`` if given."""
        sign, levels, keys = self.sign, self.levels, self.keys
        if limit is not None:
            keys = keys[max(0, len(keys) - limit) :] if limit > 0 else []
        return [levels[key * sign] for key in reversed(keys)]


SPARE_LEVELS = 256
"""Most emptied PriceLevel objects a book keeps for reuse."""


class OrderBook:
    """One symbol's book, its sequence counter and the ids it has ever accepted."""

    __slots__ = ("asks", "bids", "market", "orders", "seen_ids", "seq", "spare")

    def __init__(self, market: Market) -> None:
        self.market = market
        self.seq = 0
        self.bids = BookSide(1)
        self.asks = BookSide(-1)
        self.orders: dict[str, Order] = {}
        # Every id ever accepted, in acceptance order (a dict, so snapshots need no sort): ids are
        # unique per symbol forever. About 100 bytes per id of 16 characters.
        self.seen_ids: dict[str, None] = {}
        self.spare: list[PriceLevel] = []

    # -- queries -------------------------------------------------------------------------------

    def crosses(self, is_buy: bool, price: int) -> bool:
        """Would a limit order on this side at this price take liquidity right now?"""
        opposite = self.asks if is_buy else self.bids
        keys = opposite.keys
        return bool(keys) and keys[-1] >= price * opposite.sign

    def depth(
        self, limit: int | None = None
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated (price, qty) levels of bids and asks, best first, at most ``limit`` each."""
        bids = [(level.price, level.qty) for level in self.bids.best_first(limit)]
        asks = [(level.price, level.qty) for level in self.asks.best_first(limit)]
        return bids, asks

    # -- commands ------------------------------------------------------------------------------

    def submit(
        self,
        out: list[Event],
        ts: int | None,
        order: Order,
        order_type: str,
        tif: str,
        quote: int | None,
    ) -> None:
        """Accept a new order, match it, then rest, fill or expire what is left.

        ``order.price`` is the limit (or a market order's protection price, or ``None``);
        ``quote`` is a market order's quote amount: alone (``order.open_qty`` is 0), or a cap on
        the spend of a market order by quantity (both limits bind; whichever is reached first).
        """
        market = self.market
        symbol = market.symbol
        order_id = order.order_id
        self.seen_ids[order_id] = None
        seq = self.seq + 1
        out.append(
            (
                ACCEPTED,
                symbol,
                seq,
                ts,
                market,
                order_id,
                order.account,
                order.side,
                order_type,
                tif,
                order.price,
                order.open_qty or None,
                quote,
                order.post_only,
                order.stp,
            )
        )
        price = order.price
        if order.is_buy:
            side, opposite = self.bids, self.asks
        else:
            side, opposite = self.asks, self.bids
        limit_key = NO_LIMIT if price is None else price * opposite.sign
        if tif == FOK and not self._can_fill(order, opposite, limit_key):
            seq += 1
            out.append(
                (
                    EXPIRED,
                    symbol,
                    seq,
                    ts,
                    market,
                    order_id,
                    order.account,
                    order.side,
                    0,
                    order.open_qty,
                    None,
                    ExpireReason.FOK,
                )
            )
            self.seq = seq
            return
        keys = opposite.keys
        if keys and keys[-1] >= limit_key:
            seq, stop, quote = self._take(out, ts, seq, order, opposite, limit_key, quote)
        else:
            stop = _PAST_LIMIT if keys else _BOOK_EMPTY
        if stop == _DONE:
            seq += 1
            out.append((FILLED, symbol, seq, ts, market, order_id, order.account, order.filled))
        elif tif == GTC and order_type == LIMIT and stop != _SELF_TRADE:
            # Rest at the back of the level (inlined: this is the most common outcome).
            levels = side.levels
            level = levels.get(price)  # type: ignore[arg-type]
            if level is None:
                spare = self.spare
                if spare:
                    level = spare.pop()
                    level.price = price  # type: ignore[assignment]
                else:
                    level = PriceLevel(price)  # type: ignore[arg-type]
                levels[price] = level  # type: ignore[index]
                insort(side.keys, price * side.sign)  # type: ignore[operator]
            level.orders[order_id] = order
            level.qty += order.open_qty
            order.level = level
            self.orders[order_id] = order
            seq += 1
            out.append(
                (
                    RESTED,
                    symbol,
                    seq,
                    ts,
                    market,
                    order_id,
                    order.account,
                    order.side,
                    price,
                    order.open_qty,
                    order.filled,
                )
            )
        else:
            if stop == _SELF_TRADE:
                reason = ExpireReason.SELF_TRADE
            elif order_type == LIMIT:
                reason = ExpireReason.IOC
            elif stop == _PAST_LIMIT:
                reason = ExpireReason.PROTECTION_PRICE
            elif stop == _BOOK_EMPTY:
                reason = ExpireReason.NO_LIQUIDITY
            else:
                reason = ExpireReason.QUOTE_REMAINDER
            seq += 1
            out.append(
                (
                    EXPIRED,
                    symbol,
                    seq,
                    ts,
                    market,
                    order_id,
                    order.account,
                    order.side,
                    order.filled,
                    order.open_qty or None,
                    quote,
                    reason,
                )
            )
        self.seq = seq

    def cancel(self, out: list[Event], ts: int | None, order: Order) -> None:
        """Take a resting order off the book at its owner's request."""
        self._unlink(order)
        del self.orders[order.order_id]
        market = self.market
        seq = self.seq + 1
        self.seq = seq
        out.append(
            (
                CANCELLED,
                market.symbol,
                seq,
                ts,
                market,
                order.order_id,
                order.account,
                order.side,
                order.price,
                order.open_qty,
                order.filled,
                _USER,
            )
        )

    def amend(
        self, out: list[Event], ts: int | None, order: Order, price: int, open_qty: int
    ) -> None:
        """Change a resting order's price and/or open quantity.

        Lowering the quantity at the same price keeps time priority in place. Anything else takes
        the order off the book and re-enters it as a taker at the new price (with its own stp),
        resting what is left at the back of its new level.
        """
        market = self.market
        symbol = market.symbol
        order_id = order.order_id
        old_price = order.price
        old_open = order.open_qty
        seq = self.seq + 1
        if price == old_price and open_qty <= old_open:
            out.append(
                (
                    AMENDED,
                    symbol,
                    seq,
                    ts,
                    market,
                    order_id,
                    order.account,
                    order.side,
                    old_price,
                    old_open,
                    price,
                    open_qty,
                    True,
                )
            )
            order.level.qty -= old_open - open_qty  # type: ignore[union-attr]
            order.open_qty = open_qty
        else:
            out.append(
                (
                    AMENDED,
                    symbol,
                    seq,
                    ts,
                    market,
                    order_id,
                    order.account,
                    order.side,
                    old_price,
                    old_open,
                    price,
                    open_qty,
                    False,
                )
            )
            if order.is_buy:
                side, opposite = self.bids, self.asks
            else:
                side, opposite = self.asks, self.bids
            # Off its level (inlined _unlink: amends are most of the traffic). The order stays in
            # self.orders unless it ends filled or expired.
            level = order.level
            orders = level.orders  # type: ignore[union-attr]
            del orders[order_id]
            level.qty -= old_open  # type: ignore[union-attr]
            if not orders:
                del side.levels[old_price]  # type: ignore[arg-type]
                keys = side.keys
                key = old_price * side.sign  # type: ignore[operator]
                if keys[-1] == key:
                    keys.pop()
                else:
                    del keys[bisect_left(keys, key)]
                spare = self.spare
                if len(spare) < SPARE_LEVELS:
                    spare.append(level)  # type: ignore[arg-type]
            order.price = price
            order.open_qty = open_qty
            keys = opposite.keys
            limit_key = price * opposite.sign
            if keys and keys[-1] >= limit_key:
                seq, stop, _ = self._take(out, ts, seq, order, opposite, limit_key, None)
                if stop in (_DONE, _SELF_TRADE):
                    del self.orders[order_id]
                    seq += 1
                    if stop == _DONE:
                        out.append(
                            (FILLED, symbol, seq, ts, market, order_id, order.account, order.filled)
                        )
                    else:
                        out.append(
                            (
                                EXPIRED,
                                symbol,
                                seq,
                                ts,
                                market,
                                order_id,
                                order.account,
                                order.side,
                                order.filled,
                                order.open_qty,
                                None,
                                ExpireReason.SELF_TRADE,
                            )
                        )
                    self.seq = seq
                    return
            levels = side.levels
            level = levels.get(price)
            if level is None:
                spare = self.spare
                if spare:
                    level = spare.pop()
                    level.price = price
                else:
                    level = PriceLevel(price)
                levels[price] = level
                insort(side.keys, price * side.sign)
            level.orders[order_id] = order
            level.qty += order.open_qty
            order.level = level
        seq += 1
        out.append(
            (
                RESTED,
                symbol,
                seq,
                ts,
                market,
                order_id,
                order.account,
                order.side,
                price,
                order.open_qty,
                order.filled,
            )
        )
        self.seq = seq

    # -- internals -----------------------------------------------------------------------------

    def rest(self, order: Order) -> None:
        """Put ``order`` at the back of its price level (used by restore)."""
        side = self.bids if order.is_buy else self.asks
        price: int = order.price  # type: ignore[assignment]
        level = side.levels.get(price)
        if level is None:
            level = PriceLevel(price)
            side.levels[price] = level
            insort(side.keys, price * side.sign)
        level.orders[order.order_id] = order
        level.qty += order.open_qty
        order.level = level
        self.orders[order.order_id] = order

    def _unlink(self, order: Order) -> None:
        """Take ``order`` out of its level (not out of ``self.orders``)."""
        level: PriceLevel = order.level  # type: ignore[assignment]
        orders = level.orders
        del orders[order.order_id]
        level.qty -= order.open_qty
        order.level = None
        if not orders:
            side = self.bids if order.is_buy else self.asks
            price = level.price
            del side.levels[price]
            keys = side.keys
            key = price * side.sign
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
            spare = self.spare
            if len(spare) < SPARE_LEVELS:
                spare.append(level)

    def _can_fill(self, taker: Order, opposite: BookSide, limit_key: int) -> bool:
        """Could ``taker`` fill completely now (FOK), given its stp? No side effects."""
        need = taker.open_qty
        account = taker.account
        stp = taker.stp
        sign, levels = opposite.sign, opposite.levels
        for key in reversed(opposite.keys):
            if key < limit_key:
                return False
            level = levels[key * sign]
            if stp == STP_NONE:
                need -= level.qty
                if need <= 0:
                    return True
                continue
            for maker in level.orders.values():
                if maker.account == account:
                    if stp == STP_CANCEL_MAKER:
                        continue  # would be cancelled, providing nothing
                    return False  # matching would stop here
                need -= maker.open_qty
                if need <= 0:
                    return True
        return False

    def _take(
        self,
        out: list[Event],
        ts: int | None,
        seq: int,
        taker: Order,
        opposite: BookSide,
        limit_key: int,
        quote: int | None,
    ) -> tuple[int, int, int | None]:
        """Match ``taker`` against ``opposite`` from the best level while it crosses.

        Updates the taker's ``open_qty``/``filled`` and returns ``(seq, stop, quote_left)``.
        Makers leave a level only from its front, so each level is walked with one iterator and
        the consumed prefix is deleted afterwards.
        """
        market = self.market
        symbol = market.symbol
        book_orders = self.orders
        keys, levels, sign = opposite.keys, opposite.levels, opposite.sign
        taker_id = taker.order_id
        account = taker.account
        taker_side = taker.side
        stp = taker.stp
        stp_on = stp != STP_NONE
        remaining = taker.open_qty
        filled = taker.filled
        stop = _GOING
        while keys:
            key = keys[-1]
            if key < limit_key:
                stop = _PAST_LIMIT
                break
            price = key * sign
            level = levels[price]
            orders = level.orders
            gone = 0  # makers consumed from the front of this level
            for maker in orders.values():
                maker_id = maker.order_id
                if stp_on and maker.account == account:
                    if stp == STP_CANCEL_TAKER:
                        stop = _SELF_TRADE
                        break
                    gone += 1
                    del book_orders[maker_id]
                    level.qty -= maker.open_qty
                    seq += 1
                    out.append(
                        (
                            CANCELLED,
                            symbol,
                            seq,
                            ts,
                            market,
                            maker_id,
                            maker.account,
                            maker.side,
                            price,
                            maker.open_qty,
                            maker.filled,
                            _MAKER_SELF_TRADE,
                        )
                    )
                    maker.level = None
                    if stp == STP_CANCEL_BOTH:
                        stop = _SELF_TRADE
                        break
                    continue
                maker_open = maker.open_qty
                if quote is None:
                    qty = maker_open if maker_open < remaining else remaining
                    remaining -= qty
                    done = not remaining
                else:
                    qty = quote // price
                    if not qty:
                        stop = _QUOTE_SPENT
                        break
                    if qty > maker_open:
                        qty = maker_open
                    if remaining:  # a qty order whose spend quote caps: both limits bind
                        if qty > remaining:
                            qty = remaining
                        remaining -= qty
                        quote -= qty * price
                        done = not remaining or not quote  # filled when either is reached
                    else:
                        quote -= qty * price
                        done = not quote
                maker_open -= qty
                maker.open_qty = maker_open
                maker_filled = maker.filled + qty
                maker.filled = maker_filled
                level.qty -= qty
                filled += qty
                seq += 1
                out.append(
                    (
                        TRADE,
                        symbol,
                        seq,
                        ts,
                        market,
                        maker_id,
                        taker_id,
                        maker.account,
                        account,
                        price,
                        qty,
                        taker_side,
                        maker_filled,
                        filled,
                        maker_open,
                    )
                )
                if not maker_open:
                    gone += 1
                    del book_orders[maker_id]
                    maker.level = None
                    seq += 1
                    out.append(
                        (FILLED, symbol, seq, ts, market, maker_id, maker.account, maker_filled)
                    )
                if done:
                    stop = _DONE
                    break
                if maker_open:
                    # Only a quote order gets here: it could not afford this maker's next lot.
                    stop = _QUOTE_SPENT
                    break
            if gone:
                if gone == len(orders):
                    orders.clear()
                    del levels[price]
                    keys.pop()
                    spare = self.spare
                    if len(spare) < SPARE_LEVELS:
                        spare.append(level)
                else:
                    for maker_id in list(islice(orders, gone)):
                        del orders[maker_id]
            if stop:
                break
        else:
            stop = _BOOK_EMPTY
        taker.open_qty = remaining
        taker.filled = filled
        return seq, stop, quote

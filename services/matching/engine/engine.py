"""The matching engine: validates commands, routes them to order books, snapshots state.

``MatchingEngine.apply`` takes a command exactly as parsed from JSON (decimal strings) and returns
the events it caused. It is deterministic: no clock, no randomness, no I/O; the only time is the
command's optional ``ts``, copied into every event of that command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from services.matching.engine.book import (
    BUY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET_ORDER,
    SELL,
    STP_CANCEL_BOTH,
    STP_CANCEL_MAKER,
    STP_CANCEL_TAKER,
    STP_NONE,
    Order,
    OrderBook,
)
from services.matching.engine.decimals import FINER_THAN_SCALE
from services.matching.engine.events import BOOK, MARKET, REJECTED, Event
from services.matching.engine.markets import DEFAULT_MARKETS, Market, MarketStatus
from services.matching.engine.reasons import RejectReason

SNAPSHOT_FORMAT = 2
MAX_NAME_LENGTH = 128
"""Longest order id or account accepted."""
MAX_SYMBOL_LENGTH = 32
MAX_TS = 2**63 - 1

# The accepted spellings of each choice field.
_SIDES = (BUY, SELL)
_ORDER_TYPES = (LIMIT, MARKET_ORDER)
_TIFS = (GTC, IOC, FOK)
_STPS = (STP_NONE, STP_CANCEL_TAKER, STP_CANCEL_MAKER, STP_CANCEL_BOTH)
_HALTED = MarketStatus.HALTED

_R = RejectReason


class MatchingEngine:
    """Price-time priority matching for a set of markets; commands in, events out.

    See docs/engine.md for the command and event contract. Not thread-safe: one writer per
    engine, as everywhere in Tradestack.
    """

    __slots__ = ("_books",)

    def __init__(self, markets: Iterable[Market] = DEFAULT_MARKETS) -> None:
        self._books: dict[str, OrderBook] = {}
        for market in markets:
            self._books[market.symbol] = OrderBook(market)

    # -- commands ------------------------------------------------------------------------------

    def apply(self, command: dict[str, Any]) -> list[Event]:
        """Apply one command (a dict as parsed from JSON) and return the events it produced.

        Never raises for bad input: an invalid command yields one ``rejected`` event.
        """
        out: list[Event] = []
        try:
            handler = _BOOK_OPS[command["op"]]
            book = self._books[command["symbol"]]
        except (KeyError, TypeError):
            # Not a dict, no or unknown op, the market op, or no or unknown symbol.
            self._apply_other(out, command)
            return out
        ts = command.get("ts")
        if ts is not None and not (ts.__class__ is int and 0 <= ts <= MAX_TS):
            self._reject_command(out, command, _R.MALFORMED_COMMAND, _TS_RULE)
        else:
            handler(self, command, out, book, ts)
        return out

    def _apply_other(self, out: list[Event], command: Any) -> None:
        """The commands ``apply``'s fast path does not route: ``market`` and the malformed."""
        if not isinstance(command, dict):
            self._reject(out, None, None, None, _R.MALFORMED_COMMAND, "command must be an object")
            return
        op = command.get("op")
        if op == "market":
            self._market(command, out)
        elif op.__class__ is not str or op not in _BOOK_OPS:
            self._reject_command(out, command, _R.MALFORMED_COMMAND, f"unknown op {op!r}")
        elif not _is_ts(command.get("ts")):
            self._reject_command(out, command, _R.MALFORMED_COMMAND, _TS_RULE)
        elif command.get("symbol").__class__ is not str:
            self._reject_command(out, command, _R.MALFORMED_COMMAND, "symbol must be a string")
        else:
            msg = f"unknown symbol {command['symbol']!r}"
            self._reject_command(out, command, _R.UNKNOWN_SYMBOL, msg)

    def _new(self, cmd: dict[str, Any], out: list[Event], book: OrderBook, ts: int | None) -> None:
        get = cmd.get
        order_id = get("id")
        account = get("account")
        if not (
            order_id.__class__ is str
            and 0 < len(order_id) <= MAX_NAME_LENGTH
            and account.__class__ is str
            and 0 < len(account) <= MAX_NAME_LENGTH
        ):
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, _NAME_RULE)
        # Choices are checked with == against tuples of constants: safe for any JSON value
        # (lists, dicts) and cheaper than dict lookups.
        side = get("side")
        if side not in _SIDES:
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, "bad side")
        order_type = get("type")
        if order_type not in _ORDER_TYPES:
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, "bad type")
        is_limit = order_type == LIMIT
        tif = get("tif")
        if tif is None:
            tif = GTC if is_limit else IOC
        elif tif not in _TIFS or (not is_limit and tif != IOC):
            msg = "bad tif (GTC, IOC or FOK; market orders are IOC)"
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
        post_only = get("post_only")
        if post_only is None:
            post_only = False
        elif post_only.__class__ is not bool or (post_only and tif != GTC):
            msg = "post_only must be a boolean, and true only on GTC limit orders"
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
        stp = get("stp")
        if stp is None:
            stp = STP_NONE
        elif stp not in _STPS:
            msg = "bad stp (cancel_taker, cancel_maker, cancel_both or none)"
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
        price_text: Any = get("price")
        qty_text: Any = get("qty")
        quote_text: Any = get("quote_qty")
        if is_limit:
            if price_text is None or qty_text is None or quote_text is not None:
                msg = "a limit order needs price and qty, and no quote_qty"
                return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
        elif qty_text is None and quote_text is None:
            msg = "a market order needs qty, quote_qty, or both (then whichever binds first)"
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
        if (
            (price_text is not None and price_text.__class__ is not str)
            or (qty_text is not None and qty_text.__class__ is not str)
            or (quote_text is not None and quote_text.__class__ is not str)
        ):
            msg = "price, qty and quote_qty must be decimal strings"
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
        market = book.market
        if market.status is _HALTED:
            return self._reject_order(out, book, ts, cmd, _R.MARKET_HALTED, "market is halted")
        price = None
        if price_text is not None:
            price = market.price_cache.get(price_text)
            if price is None:
                price = market.price_ticks(price_text)
            if price < 0:
                return self._reject_price(out, book, ts, cmd, price)
        qty = 0
        quote = None
        if qty_text is not None:
            lots = market.qty_cache.get(qty_text)
            if lots is None:
                lots = market.qty_lots(qty_text)
            if lots < 0:
                return self._reject_qty(out, book, ts, cmd, lots)
            qty = lots
            if is_limit and price * qty < market.min_notional_units:  # type: ignore[operator]
                msg = f"notional is below the minimum of {market.min_notional}"
                return self._reject_order(out, book, ts, cmd, _R.NOTIONAL_BELOW_MINIMUM, msg)
        if quote_text is not None:
            # A market order's quote amount: alone, or as a cap on the spend of a qty order.
            quote = market.quote_units(str(quote_text))
            if quote < 0:
                if quote == FINER_THAN_SCALE:
                    msg = "quote_qty is finer than tick_size * lot_size"
                    reason = _R.QUOTE_QTY_OFF_INCREMENT
                    return self._reject_order(out, book, ts, cmd, reason, msg)
                msg = "quote_qty must be a positive decimal string"
                return self._reject_order(out, book, ts, cmd, _R.INVALID_QTY, msg)
            if quote < market.min_notional_units:
                msg = f"quote_qty is below the minimum notional of {market.min_notional}"
                return self._reject_order(out, book, ts, cmd, _R.NOTIONAL_BELOW_MINIMUM, msg)
        if order_id in book.seen_ids:
            msg = f"order id {order_id!r} was already used on {market.symbol}"
            return self._reject_order(out, book, ts, cmd, _R.DUPLICATE_ORDER_ID, msg)
        if post_only and book.crosses(side == BUY, price):  # type: ignore[arg-type]
            msg = "post-only order would take liquidity"
            return self._reject_order(out, book, ts, cmd, _R.POST_ONLY_WOULD_TAKE, msg)
        book.submit(
            out,
            ts,
            Order(order_id, account, side, price, qty, stp, post_only),
            order_type,
            tif,
            quote,
        )
        return None

    def _cancel(
        self, cmd: dict[str, Any], out: list[Event], book: OrderBook, ts: int | None
    ) -> None:
        try:
            order = book.orders[cmd["id"]]
        except (KeyError, TypeError):
            return self._reject_order_lookup(out, book, ts, cmd, None, amend=False)
        if order.account != cmd.get("account"):
            return self._reject_order_lookup(out, book, ts, cmd, order, amend=False)
        book.cancel(out, ts, order)
        return None

    def _amend(
        self, cmd: dict[str, Any], out: list[Event], book: OrderBook, ts: int | None
    ) -> None:
        get = cmd.get
        try:
            order = book.orders[cmd["id"]]
        except (KeyError, TypeError):
            return self._reject_order_lookup(out, book, ts, cmd, None, amend=True)
        if order.account != get("account"):
            return self._reject_order_lookup(out, book, ts, cmd, order, amend=True)
        # From here id and account are known to be valid: they match an accepted order.
        request_id = get("request_id")
        if request_id is not None:
            if request_id.__class__ is not str or not 0 < len(request_id) <= MAX_NAME_LENGTH:
                msg = (
                    f"request_id must be a non-empty string of at most {MAX_NAME_LENGTH} characters"
                )
                return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, msg)
            if order.amend_ids is not None and request_id in order.amend_ids:
                # The same amend again (a producer retry or a replay upstream): applying it
                # twice would reset an open quantity that fills have reduced since. No events.
                return None
        price_text = get("price")
        qty_text = get("qty")
        if (
            (price_text is None and qty_text is None)
            or (price_text is not None and price_text.__class__ is not str)
            or (qty_text is not None and qty_text.__class__ is not str)
        ):
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, _AMEND_RULE)
        market = book.market
        if market.status is _HALTED:
            return self._reject_order(out, book, ts, cmd, _R.MARKET_HALTED, "market is halted")
        if price_text is None:
            price: int = order.price  # type: ignore[assignment]
        else:
            price = market.price_cache.get(price_text)  # type: ignore[assignment]
            if price is None:
                price = market.price_ticks(price_text)
            if price < 0:
                return self._reject_price(out, book, ts, cmd, price)
        if qty_text is None:
            qty = order.open_qty
        else:
            qty = market.qty_cache.get(qty_text)  # type: ignore[assignment]
            if qty is None:
                qty = market.qty_lots(qty_text)
            if qty < 0:
                return self._reject_qty(out, book, ts, cmd, qty)
        if price * qty < market.min_notional_units:
            msg = f"notional is below the minimum of {market.min_notional}"
            return self._reject_order(out, book, ts, cmd, _R.NOTIONAL_BELOW_MINIMUM, msg)
        if order.post_only and book.crosses(order.is_buy, price):
            msg = "post-only order would take liquidity"
            return self._reject_order(out, book, ts, cmd, _R.POST_ONLY_WOULD_TAKE, msg)
        if request_id is not None:
            if order.amend_ids is None:
                order.amend_ids = {}
            order.amend_ids[request_id] = None
        book.amend(out, ts, order, price, qty)
        return None

    def _snapshot(
        self, cmd: dict[str, Any], out: list[Event], book: OrderBook, ts: int | None
    ) -> None:
        bids, asks = book.depth()
        book.seq += 1
        out.append((BOOK, book.market.symbol, book.seq, ts, book.market, bids, asks))

    def _market(self, cmd: dict[str, Any], out: list[Event]) -> None:
        ts = cmd.get("ts")
        if not _is_ts(ts):
            return self._reject_command(out, cmd, _R.MALFORMED_COMMAND, _TS_RULE)
        symbol: Any = cmd.get("symbol")
        if not _is_name(symbol) or len(symbol) > MAX_SYMBOL_LENGTH:
            msg = f"symbol must be a non-empty string of at most {MAX_SYMBOL_LENGTH} characters"
            return self._reject_command(out, cmd, _R.MALFORMED_COMMAND, msg)
        book = self._books.get(symbol)
        fields = book.market.to_wire() if book is not None else {"status": "trading"}
        for name in ("base", "quote", "tick_size", "lot_size", "min_notional", "status"):
            value = cmd.get(name)
            if value is not None:
                if value.__class__ is not str:
                    msg = f"{name} must be a string"
                    return self._reject_command(out, cmd, _R.MALFORMED_COMMAND, msg)
                fields[name] = value
        if fields["status"] not in ("trading", "halted"):
            msg = "status must be trading or halted"
            return self._reject_command(out, cmd, _R.MALFORMED_COMMAND, msg)
        missing = [name for name in _MARKET_TERMS if name not in fields]
        if missing:
            msg = f"a new market needs {', '.join(missing)}"
            return self._reject_command(out, cmd, _R.MALFORMED_COMMAND, msg)
        try:
            market = Market(
                symbol,
                fields["base"],
                fields["quote"],
                tick_size=fields["tick_size"],
                lot_size=fields["lot_size"],
                min_notional=fields["min_notional"],
                status=MarketStatus(fields["status"]),
            )
        except ValueError as exc:
            return self._reject_command(out, cmd, _R.MALFORMED_COMMAND, str(exc))
        if book is None:
            book = OrderBook(market)
            self._books[symbol] = book
        else:
            if book.orders and book.market.terms_differ(market):
                msg = "base, quote, tick_size and lot_size cannot change while orders are open"
                return self._reject_command(out, cmd, _R.MARKET_HAS_OPEN_ORDERS, msg)
            book.market = market
        book.seq += 1
        out.append((MARKET, symbol, book.seq, ts, market))
        return None

    # -- rejects -------------------------------------------------------------------------------
    # Checks run in the documented order (docs/engine.md, "Validation order"); the fast paths
    # above only skip checks that cannot fail, and hand every failure to these.

    def _reject_order_lookup(
        self,
        out: list[Event],
        book: OrderBook,
        ts: int | None,
        cmd: dict[str, Any],
        order: Order | None,
        *,
        amend: bool,
    ) -> None:
        """Reject a cancel or amend whose order is missing or belongs to another account."""
        if not _is_name(cmd.get("id")) or not _is_name(cmd.get("account")):
            return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, _NAME_RULE)
        if amend:
            price_text, qty_text = cmd.get("price"), cmd.get("qty")
            if (
                (price_text is None and qty_text is None)
                or (price_text is not None and price_text.__class__ is not str)
                or (qty_text is not None and qty_text.__class__ is not str)
            ):
                return self._reject_order(out, book, ts, cmd, _R.MALFORMED_COMMAND, _AMEND_RULE)
            if book.market.status is _HALTED:
                return self._reject_order(out, book, ts, cmd, _R.MARKET_HALTED, "market is halted")
        if order is None:
            msg = f"order {cmd.get('id')!r} is not open on {book.market.symbol}"
            return self._reject_order(out, book, ts, cmd, _R.UNKNOWN_ORDER, msg)
        msg = "the order belongs to another account"
        return self._reject_order(out, book, ts, cmd, _R.NOT_ORDER_OWNER, msg)

    def _reject_price(
        self, out: list[Event], book: OrderBook, ts: int | None, cmd: dict[str, Any], code: int
    ) -> None:
        if code == FINER_THAN_SCALE:
            msg = f"price is not a multiple of the tick size {book.market.tick_size}"
            return self._reject_order(out, book, ts, cmd, _R.PRICE_OFF_TICK, msg)
        msg = "price must be a positive decimal string"
        return self._reject_order(out, book, ts, cmd, _R.INVALID_PRICE, msg)

    def _reject_qty(
        self, out: list[Event], book: OrderBook, ts: int | None, cmd: dict[str, Any], code: int
    ) -> None:
        if code == FINER_THAN_SCALE:
            msg = f"qty is not a multiple of the lot size {book.market.lot_size}"
            return self._reject_order(out, book, ts, cmd, _R.QTY_OFF_LOT, msg)
        msg = "qty must be a positive decimal string"
        return self._reject_order(out, book, ts, cmd, _R.INVALID_QTY, msg)

    def _reject_order(
        self,
        out: list[Event],
        book: OrderBook,
        ts: int | None,
        cmd: dict[str, Any],
        reason: RejectReason,
        message: str,
    ) -> None:
        self._reject(out, book, cmd, ts, reason, message)

    def _reject_command(
        self, out: list[Event], cmd: dict[str, Any], reason: RejectReason, message: str
    ) -> None:
        symbol = cmd.get("symbol")
        book = self._books.get(symbol) if symbol.__class__ is str else None
        ts = cmd.get("ts")
        self._reject(out, book, cmd, ts if _is_ts(ts) else None, reason, message, symbol)

    def _reject(
        self,
        out: list[Event],
        book: OrderBook | None,
        cmd: dict[str, Any] | None,
        ts: int | None,
        reason: RejectReason,
        message: str,
        symbol: object = None,
    ) -> None:
        order_id = account = None
        if cmd is not None:
            value = cmd.get("id")
            order_id = value if value.__class__ is str else None
            value = cmd.get("account")
            account = value if value.__class__ is str else None
        if book is None:
            name = symbol if symbol.__class__ is str else ""
            out.append((REJECTED, name, 0, ts, None, order_id, account, reason, message))
            return
        book.seq += 1
        market = book.market
        out.append(
            (REJECTED, market.symbol, book.seq, ts, market, order_id, account, reason, message)
        )

    # -- queries -------------------------------------------------------------------------------

    def market(self, symbol: str) -> Market:
        """The market's current terms. Raises ``KeyError`` for an unknown symbol."""
        return self._books[symbol].market

    def markets(self) -> list[Market]:
        """Every market, in the order they were added."""
        return [book.market for book in self._books.values()]

    def sequence(self, symbol: str) -> int:
        """The symbol's last emitted sequence number (0 before any event)."""
        return self._books[symbol].seq

    def book_depth(self, symbol: str) -> tuple[int, int]:
        """Number of (bid, ask) price levels."""
        book = self._books[symbol]
        return len(book.bids.levels), len(book.asks.levels)

    def l2(
        self, symbol: str, depth: int | None = None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Aggregated (price, qty) decimal strings per level, best first: ``(bids, asks)``."""
        book = self._books[symbol]
        market = book.market
        bids, asks = book.depth(depth)
        price, qty = market.format_price, market.format_qty
        return (
            [(price(p), qty(q)) for p, q in bids],
            [(price(p), qty(q)) for p, q in asks],
        )

    # -- snapshot ------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole engine state as bytes (JSON); ``restore`` gives an identical engine.

        Deterministic: equal states give equal bytes. Per book: the market, the sequence, every
        id ever accepted (in acceptance order) and each side's levels best first, each level as
        ``[price_ticks, [id, account, open_lots, filled_lots, stp, post_only, amend_ids, id, ...]]``
        (flat, in time priority: fewer objects to build and parse than a list per order).
        """
        books = []
        for book in self._books.values():
            sides = []
            for side in (book.bids, book.asks):
                levels = []
                for level in side.best_first():
                    flat: list[Any] = []
                    extend = flat.extend
                    for o in level.orders.values():
                        extend(
                            (
                                o.order_id,
                                o.account,
                                o.open_qty,
                                o.filled,
                                o.stp,
                                o.post_only,
                                None if o.amend_ids is None else list(o.amend_ids),
                            )
                        )
                    levels.append([level.price, flat])
                sides.append(levels)
            books.append(
                {
                    "market": book.market.to_wire(),
                    "seq": book.seq,
                    "seen_ids": list(book.seen_ids),
                    "bids": sides[0],
                    "asks": sides[1],
                }
            )
        return orjson.dumps({"format": SNAPSHOT_FORMAT, "books": books})

    @classmethod
    def restore(cls, data: bytes) -> MatchingEngine:
        """Rebuild an engine from ``snapshot()`` bytes. Raises ``ValueError`` on other data."""
        state = orjson.loads(data)
        if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("not a matching engine snapshot of a supported format")
        engine = cls(())
        for saved in state["books"]:
            book = OrderBook(Market(**saved["market"]))
            book.seq = saved["seq"]
            book.seen_ids = dict.fromkeys(saved["seen_ids"])
            for side, levels in ((BUY, saved["bids"]), (SELL, saved["asks"])):
                for price, flat in levels:
                    for at in range(0, len(flat), _SNAPSHOT_ORDER_FIELDS):
                        order_id, account, open_qty, filled, stp, post_only, amend_ids = flat[
                            at : at + _SNAPSHOT_ORDER_FIELDS
                        ]
                        if stp not in _STPS:
                            raise ValueError(f"bad stp {stp!r} in snapshot")
                        order = Order(
                            order_id, account, side, price, open_qty, stp, post_only, filled
                        )
                        if amend_ids is not None:
                            order.amend_ids = dict.fromkeys(amend_ids)
                        book.rest(order)
            engine._books[book.market.symbol] = book
        return engine


_SNAPSHOT_ORDER_FIELDS = 7
"""id, account, open lots, filled lots, stp, post_only, amend request ids (or None)."""

_NAME_RULE = f"id and account must be non-empty strings of at most {MAX_NAME_LENGTH} characters"
_TS_RULE = f"ts must be an integer from 0 to {MAX_TS}"


def _is_name(value: object) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_NAME_LENGTH


def _is_ts(value: object) -> bool:
    return value is None or (type(value) is int and 0 <= value <= MAX_TS)


_AMEND_RULE = "an amend needs price and/or qty as decimal strings"
_MARKET_TERMS = ("base", "quote", "tick_size", "lot_size", "min_notional")

_BOOK_OPS: dict[str, Callable[..., None]] = {
    "new": MatchingEngine._new,
    "cancel": MatchingEngine._cancel,
    "amend": MatchingEngine._amend,
    "snapshot": MatchingEngine._snapshot,
}
"""The ops that address an existing book; ``market`` is routed separately."""

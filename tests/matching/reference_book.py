"""A naive, obviously-correct matching engine used as the oracle for the fast one.

Written from the contract in docs/engine.md, not from the fast engine's code: ``Decimal``
everywhere, resting orders in one plain list per symbol, the best maker found by sorting on every
step, validation spelled out in the documented order. It produces wire dicts directly. Slow by
design; only tests use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from typing import Any

DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_TEXT = 40
MAX_UNITS = 10**18 - 1
MAX_NAME = 128
MAX_SYMBOL = 32
MAX_TS = 2**63 - 1
EXACT = Context(prec=200)


def decimals_of(size: Decimal) -> int:
    """How many decimals a size has once trailing zeros are dropped."""
    exponent = size.normalize(EXACT).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def minimal(value: Decimal) -> str:
    places = decimals_of(value)
    return f"{value:.{places}f}"


def parse_plain(text: Any) -> Decimal | None:
    """A plain non-negative decimal string as a Decimal, else None."""
    if not isinstance(text, str) or len(text) > MAX_TEXT or not DECIMAL_TEXT.fullmatch(text):
        return None
    return Decimal(text)


@dataclass
class RefMarket:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_notional: Decimal
    status: str

    def fmt_price(self, value: Decimal) -> str:
        return f"{value:.{decimals_of(self.tick)}f}"

    def fmt_qty(self, value: Decimal) -> str:
        return f"{value:.{decimals_of(self.lot)}f}"

    def fmt_quote(self, value: Decimal) -> str:
        return f"{value:.{decimals_of(self.tick) + decimals_of(self.lot)}f}"

    def wire(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "quote": self.quote,
            "tick_size": minimal(self.tick),
            "lot_size": minimal(self.lot),
            "min_notional": minimal(self.min_notional),
            "status": self.status,
        }


@dataclass
class RefOrder:
    order_id: str
    account: str
    side: str
    price: Decimal
    open_qty: Decimal
    filled: Decimal
    stp: str
    post_only: bool
    time: int


@dataclass
class RefSymbol:
    market: RefMarket
    seq: int = 0
    resting: list[RefOrder] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class ReferenceEngine:
    """Same commands and events as ``MatchingEngine``, computed the slow, simple way."""

    def __init__(self, markets: list[dict[str, str]]) -> None:
        self.symbols: dict[str, RefSymbol] = {}
        self.clock = 0
        for spec in markets:
            market = self._make_market(spec["symbol"], spec)
            assert market is not None
            self.symbols[market.symbol] = RefSymbol(market)

    # -- plumbing ------------------------------------------------------------------------------

    def _emit(
        self, out: list[dict[str, Any]], sym: RefSymbol, ts: Any, kind: str, **fields: Any
    ) -> None:
        sym.seq += 1
        event: dict[str, Any] = {
            "type": kind,
            "symbol": sym.market.symbol,
            "seq": sym.seq,
            "id": f"{sym.market.symbol}:{sym.seq}",
        }
        if ts is not None:
            event["ts"] = ts
        event.update(fields)
        out.append(event)

    def _reject(self, cmd: Any, reason: str) -> list[dict[str, Any]]:
        symbol = cmd.get("symbol") if isinstance(cmd, dict) else None
        name = symbol if isinstance(symbol, str) else ""
        ts = cmd.get("ts") if isinstance(cmd, dict) else None
        if not ts_ok(ts):
            ts = None
        event: dict[str, Any] = {"type": "rejected", "symbol": name}
        sym = self.symbols.get(name) if isinstance(symbol, str) else None
        if sym is None:
            event["seq"] = 0
        else:
            sym.seq += 1
            event["seq"] = sym.seq
        event["id"] = f"{name}:{event['seq']}"
        if ts is not None:
            event["ts"] = ts
        if isinstance(cmd, dict):
            if isinstance(cmd.get("id"), str):
                event["order_id"] = cmd["id"]
            if isinstance(cmd.get("account"), str):
                event["account"] = cmd["account"]
        event["reason"] = reason
        event["message"] = "(reference)"
        return [event]

    def apply(self, cmd: Any) -> list[dict[str, Any]]:
        try:
            with localcontext(EXACT):
                return self._apply(cmd)
        except Rejected as rejected:
            return self._reject(cmd, rejected.reason)

    def _apply(self, cmd: Any) -> list[dict[str, Any]]:
        if not isinstance(cmd, dict):
            raise Rejected("malformed_command")
        op = cmd.get("op")
        if op not in ("new", "cancel", "amend", "snapshot", "market"):
            raise Rejected("malformed_command")
        if not ts_ok(cmd.get("ts")):
            raise Rejected("malformed_command")
        if op == "market":
            return self._market(cmd)
        if not isinstance(cmd.get("symbol"), str):
            raise Rejected("malformed_command")
        sym = self.symbols.get(cmd["symbol"])
        if sym is None:
            raise Rejected("unknown_symbol")
        if op == "snapshot":
            out: list[dict[str, Any]] = []
            bids, asks = self.levels(sym)
            self._emit(out, sym, cmd.get("ts"), "book", bids=bids, asks=asks)
            return out
        if not name_ok(cmd.get("id")) or not name_ok(cmd.get("account")):
            raise Rejected("malformed_command")
        if op == "new":
            return self._new(cmd, sym)
        if op == "cancel":
            return self._cancel(cmd, sym)
        return self._amend(cmd, sym)

    # -- market --------------------------------------------------------------------------------

    def _make_market(self, symbol: str, fields: dict[str, Any]) -> RefMarket | None:
        tick = parse_plain(fields.get("tick_size"))
        lot = parse_plain(fields.get("lot_size"))
        floor = parse_plain(fields.get("min_notional"))
        base, quote = fields.get("base"), fields.get("quote")
        status = fields.get("status", "trading")
        if tick is None or lot is None or floor is None or not tick or not lot:
            return None
        if decimals_of(tick) > 18 or decimals_of(lot) > 18 or decimals_of(floor) > 36:
            return None
        if tick.scaleb(decimals_of(tick)) > MAX_UNITS or lot.scaleb(decimals_of(lot)) > MAX_UNITS:
            return None
        if not base or not quote or status not in ("trading", "halted"):
            return None
        return RefMarket(symbol, base, quote, tick, lot, floor, status)

    def _market(self, cmd: dict[str, Any]) -> list[dict[str, Any]]:
        symbol = cmd.get("symbol")
        if not isinstance(symbol, str) or not symbol or len(symbol) > MAX_SYMBOL:
            raise Rejected("malformed_command")
        sym = self.symbols.get(symbol)
        fields: dict[str, Any] = {"status": "trading"}
        if sym is not None:
            old = sym.market
            fields = {
                "base": old.base,
                "quote": old.quote,
                "tick_size": minimal(old.tick),
                "lot_size": minimal(old.lot),
                "min_notional": minimal(old.min_notional),
                "status": old.status,
            }
        for name in ("base", "quote", "tick_size", "lot_size", "min_notional", "status"):
            if cmd.get(name) is not None:
                if not isinstance(cmd[name], str):
                    raise Rejected("malformed_command")
                fields[name] = cmd[name]
        market = self._make_market(symbol, fields)
        if market is None:
            raise Rejected("malformed_command")
        if sym is None:
            sym = RefSymbol(market)
            self.symbols[symbol] = sym
        else:
            old = sym.market
            changed = (old.base, old.quote, old.tick, old.lot) != (
                market.base,
                market.quote,
                market.tick,
                market.lot,
            )
            if sym.resting and changed:
                raise Rejected("market_has_open_orders")
            sym.market = market
        out: list[dict[str, Any]] = []
        self._emit(out, sym, cmd.get("ts"), "market", **market.wire())
        return out

    # -- orders --------------------------------------------------------------------------------

    def _price(self, market: RefMarket, text: str) -> Decimal:
        value = parse_plain(text)
        if value is None or value == 0:
            raise Rejected("invalid_price")
        if value % market.tick != 0:
            raise Rejected("price_off_tick")
        if value / market.tick > MAX_UNITS:
            raise Rejected("invalid_price")
        return value

    def _qty(self, market: RefMarket, text: str) -> Decimal:
        value = parse_plain(text)
        if value is None or value == 0:
            raise Rejected("invalid_qty")
        if value % market.lot != 0:
            raise Rejected("qty_off_lot")
        if value / market.lot > MAX_UNITS:
            raise Rejected("invalid_qty")
        return value

    def _new(self, cmd: dict[str, Any], sym: RefSymbol) -> list[dict[str, Any]]:
        market = sym.market
        side = cmd.get("side")
        order_type = cmd.get("type")
        if side not in ("buy", "sell") or order_type not in ("limit", "market"):
            raise Rejected("malformed_command")
        tif = cmd.get("tif")
        if tif is None:
            tif = "GTC" if order_type == "limit" else "IOC"
        if tif not in ("GTC", "IOC", "FOK") or (order_type == "market" and tif != "IOC"):
            raise Rejected("malformed_command")
        post_only = cmd.get("post_only")
        if post_only is None:
            post_only = False
        if not isinstance(post_only, bool) or (post_only and tif != "GTC"):
            raise Rejected("malformed_command")
        stp = cmd.get("stp")
        if stp is None:
            stp = "none"
        if stp not in ("none", "cancel_taker", "cancel_maker", "cancel_both"):
            raise Rejected("malformed_command")
        price_text, qty_text, quote_text = cmd.get("price"), cmd.get("qty"), cmd.get("quote_qty")
        if order_type == "limit" and (
            price_text is None or qty_text is None or quote_text is not None
        ):
            raise Rejected("malformed_command")
        if order_type == "market" and qty_text is None and quote_text is None:
            raise Rejected("malformed_command")
        for text in (price_text, qty_text, quote_text):
            if text is not None and not isinstance(text, str):
                raise Rejected("malformed_command")
        if market.status == "halted":
            raise Rejected("market_halted")
        price = self._price(market, price_text) if price_text is not None else None
        qty: Decimal | None = None
        quote: Decimal | None = None
        if qty_text is not None:
            qty = self._qty(market, qty_text)
            if order_type == "limit" and price is not None and price * qty < market.min_notional:
                raise Rejected("notional_below_minimum")
        if quote_text is not None:  # alone, or capping the spend of a market order by qty
            quote = parse_plain(quote_text)
            if quote is None or quote == 0:
                raise Rejected("invalid_qty")
            unit = market.tick * market.lot
            if quote % unit != 0:
                raise Rejected("quote_qty_off_increment")
            if quote / unit > MAX_UNITS:
                raise Rejected("invalid_qty")
            if quote < market.min_notional:
                raise Rejected("notional_below_minimum")
        if cmd["id"] in sym.seen:
            raise Rejected("duplicate_order_id")
        if post_only and price is not None and self._crosses(sym, side, price):
            raise Rejected("post_only_would_take")

        sym.seen.add(cmd["id"])
        ts = cmd.get("ts")
        out: list[dict[str, Any]] = []
        accepted: dict[str, Any] = {
            "order_id": cmd["id"],
            "account": cmd["account"],
            "side": side,
            "order_type": order_type,
            "tif": tif,
        }
        if price is not None:
            accepted["price"] = market.fmt_price(price)
        if qty is not None:
            accepted["qty"] = market.fmt_qty(qty)
        if quote is not None:
            accepted["quote_qty"] = market.fmt_quote(quote)
        accepted["post_only"] = post_only
        accepted["stp"] = stp
        self._emit(out, sym, ts, "accepted", **accepted)

        taker = RefOrder(
            cmd["id"],
            cmd["account"],
            side,
            price if price is not None else Decimal(0),
            qty if qty is not None else Decimal(0),
            Decimal(0),
            stp,
            post_only,
            0,
        )
        limit = price  # None: no limit
        if tif == "FOK" and not self._fok_possible(sym, taker, limit):
            self._emit(
                out,
                sym,
                ts,
                "expired",
                order_id=taker.order_id,
                account=taker.account,
                side=side,
                filled=market.fmt_qty(Decimal(0)),
                remaining=market.fmt_qty(taker.open_qty),
                reason="fok",
            )
            return out
        stop, quote_left = self._match(out, sym, ts, taker, limit, quote)
        if stop == "done":
            self._emit(
                out,
                sym,
                ts,
                "filled",
                order_id=taker.order_id,
                account=taker.account,
                filled=market.fmt_qty(taker.filled),
            )
        elif order_type == "limit" and tif == "GTC" and stop != "self_trade":
            self._rest(sym, taker)
            self._emit(
                out,
                sym,
                ts,
                "rested",
                order_id=taker.order_id,
                account=taker.account,
                side=side,
                price=market.fmt_price(taker.price),
                open_qty=market.fmt_qty(taker.open_qty),
                filled=market.fmt_qty(taker.filled),
            )
        else:
            if stop == "self_trade":
                reason = "self_trade"
            elif order_type == "limit":
                reason = "ioc"
            elif stop == "past_limit":
                reason = "protection_price"
            elif stop == "empty":
                reason = "no_liquidity"
            else:
                reason = "quote_remainder"
            expired: dict[str, Any] = {
                "order_id": taker.order_id,
                "account": taker.account,
                "side": side,
                "filled": market.fmt_qty(taker.filled),
            }
            if qty is not None:
                expired["remaining"] = market.fmt_qty(taker.open_qty)
            if quote is not None:
                assert quote_left is not None
                expired["remaining_quote"] = market.fmt_quote(quote_left)
            expired["reason"] = reason
            self._emit(out, sym, ts, "expired", **expired)
        return out

    def _cancel(self, cmd: dict[str, Any], sym: RefSymbol) -> list[dict[str, Any]]:
        order = self._find(sym, cmd["id"])
        if order is None:
            raise Rejected("unknown_order")
        if order.account != cmd["account"]:
            raise Rejected("not_order_owner")
        sym.resting.remove(order)
        out: list[dict[str, Any]] = []
        m = sym.market
        self._emit(
            out,
            sym,
            cmd.get("ts"),
            "cancelled",
            order_id=order.order_id,
            account=order.account,
            side=order.side,
            price=m.fmt_price(order.price),
            open_qty=m.fmt_qty(order.open_qty),
            filled=m.fmt_qty(order.filled),
            reason="user",
        )
        return out

    def _amend(self, cmd: dict[str, Any], sym: RefSymbol) -> list[dict[str, Any]]:
        price_text, qty_text = cmd.get("price"), cmd.get("qty")
        if price_text is None and qty_text is None:
            raise Rejected("malformed_command")
        for text in (price_text, qty_text):
            if text is not None and not isinstance(text, str):
                raise Rejected("malformed_command")
        m = sym.market
        if m.status == "halted":
            raise Rejected("market_halted")
        order = self._find(sym, cmd["id"])
        if order is None:
            raise Rejected("unknown_order")
        if order.account != cmd["account"]:
            raise Rejected("not_order_owner")
        price = self._price(m, price_text) if price_text is not None else order.price
        qty = self._qty(m, qty_text) if qty_text is not None else order.open_qty
        if price * qty < m.min_notional:
            raise Rejected("notional_below_minimum")
        if order.post_only and self._crosses(sym, order.side, price):
            raise Rejected("post_only_would_take")
        ts = cmd.get("ts")
        out: list[dict[str, Any]] = []
        kept = price == order.price and qty <= order.open_qty
        self._emit(
            out,
            sym,
            ts,
            "amended",
            order_id=order.order_id,
            account=order.account,
            side=order.side,
            old_price=m.fmt_price(order.price),
            old_open_qty=m.fmt_qty(order.open_qty),
            price=m.fmt_price(price),
            qty=m.fmt_qty(qty),
            priority="kept" if kept else "lost",
        )
        if kept:
            order.open_qty = qty
        else:
            sym.resting.remove(order)
            order.price = price
            order.open_qty = qty
            stop, _ = self._match(out, sym, ts, order, price, None)
            if stop == "done":
                self._emit(
                    out,
                    sym,
                    ts,
                    "filled",
                    order_id=order.order_id,
                    account=order.account,
                    filled=m.fmt_qty(order.filled),
                )
                return out
            if stop == "self_trade":
                self._emit(
                    out,
                    sym,
                    ts,
                    "expired",
                    order_id=order.order_id,
                    account=order.account,
                    side=order.side,
                    filled=m.fmt_qty(order.filled),
                    remaining=m.fmt_qty(order.open_qty),
                    reason="self_trade",
                )
                return out
            self._rest(sym, order)
        self._emit(
            out,
            sym,
            ts,
            "rested",
            order_id=order.order_id,
            account=order.account,
            side=order.side,
            price=m.fmt_price(order.price),
            open_qty=m.fmt_qty(order.open_qty),
            filled=m.fmt_qty(order.filled),
        )
        return out

    # -- the book, naively ---------------------------------------------------------------------

    def _find(self, sym: RefSymbol, order_id: str) -> RefOrder | None:
        for order in sym.resting:
            if order.order_id == order_id:
                return order
        return None

    def _rest(self, sym: RefSymbol, order: RefOrder) -> None:
        self.clock += 1
        order.time = self.clock
        sym.resting.append(order)

    def makers_for(self, sym: RefSymbol, taker_side: str) -> list[RefOrder]:
        """Resting orders a taker on ``taker_side`` meets, best price first, then oldest."""
        if taker_side == "buy":
            asks = [o for o in sym.resting if o.side == "sell"]
            return sorted(asks, key=lambda o: (o.price, o.time))
        bids = [o for o in sym.resting if o.side == "buy"]
        return sorted(bids, key=lambda o: (-o.price, o.time))

    @staticmethod
    def _acceptable(taker_side: str, limit: Decimal | None, maker_price: Decimal) -> bool:
        if limit is None:
            return True
        return maker_price <= limit if taker_side == "buy" else maker_price >= limit

    def _crosses(self, sym: RefSymbol, side: str, price: Decimal) -> bool:
        makers = self.makers_for(sym, side)
        return bool(makers) and self._acceptable(side, price, makers[0].price)

    def _fok_possible(self, sym: RefSymbol, taker: RefOrder, limit: Decimal | None) -> bool:
        got = Decimal(0)
        for maker in self.makers_for(sym, taker.side):
            if not self._acceptable(taker.side, limit, maker.price):
                return False
            if taker.stp != "none" and maker.account == taker.account:
                if taker.stp == "cancel_maker":
                    continue
                return False
            got += maker.open_qty
            if got >= taker.open_qty:
                return True
        return False

    def _match(
        self,
        out: list[dict[str, Any]],
        sym: RefSymbol,
        ts: Any,
        taker: RefOrder,
        limit: Decimal | None,
        quote: Decimal | None,
    ) -> tuple[str, Decimal | None]:
        """Trade the taker against the book; return why it stopped and the unspent quote."""
        m = sym.market
        qty_limited = quote is None or taker.open_qty > 0  # a qty order, perhaps capped by quote
        while True:
            makers = self.makers_for(sym, taker.side)
            if not makers:
                return "empty", quote
            maker = makers[0]
            if not self._acceptable(taker.side, limit, maker.price):
                return "past_limit", quote
            if taker.stp != "none" and maker.account == taker.account:
                if taker.stp == "cancel_taker":
                    return "self_trade", quote
                sym.resting.remove(maker)
                self._emit(
                    out,
                    sym,
                    ts,
                    "cancelled",
                    order_id=maker.order_id,
                    account=maker.account,
                    side=maker.side,
                    price=m.fmt_price(maker.price),
                    open_qty=m.fmt_qty(maker.open_qty),
                    filled=m.fmt_qty(maker.filled),
                    reason="self_trade",
                )
                if taker.stp == "cancel_both":
                    return "self_trade", quote
                continue
            if quote is None:
                qty = min(maker.open_qty, taker.open_qty)
            else:
                lots = (quote / (maker.price * m.lot)).to_integral_value(rounding="ROUND_FLOOR")
                if lots == 0:
                    return "quote_spent", quote
                qty = min(maker.open_qty, lots * m.lot)
                if qty_limited:
                    qty = min(qty, taker.open_qty)
                quote -= qty * maker.price
            maker.open_qty -= qty
            maker.filled += qty
            taker.filled += qty
            if qty_limited:
                taker.open_qty -= qty
            self._emit(
                out,
                sym,
                ts,
                "trade",
                maker_order_id=maker.order_id,
                taker_order_id=taker.order_id,
                maker_account=maker.account,
                taker_account=taker.account,
                price=m.fmt_price(maker.price),
                qty=m.fmt_qty(qty),
                taker_side=taker.side,
                maker_filled=m.fmt_qty(maker.filled),
                taker_filled=m.fmt_qty(taker.filled),
                maker_remaining=m.fmt_qty(maker.open_qty),
            )
            if maker.open_qty == 0:
                sym.resting.remove(maker)
                self._emit(
                    out,
                    sym,
                    ts,
                    "filled",
                    order_id=maker.order_id,
                    account=maker.account,
                    filled=m.fmt_qty(maker.filled),
                )
            if (qty_limited and taker.open_qty == 0) or (quote is not None and quote == 0):
                return "done", quote

    def levels(self, sym: RefSymbol) -> tuple[list[list[str]], list[list[str]]]:
        """L2 as the ``book`` event spells it: [[price, qty], ...] best first."""
        m = sym.market
        result = []
        for side, best_first in (("buy", True), ("sell", False)):
            totals: dict[Decimal, Decimal] = {}
            for order in sym.resting:
                if order.side == side:
                    totals[order.price] = totals.get(order.price, Decimal(0)) + order.open_qty
            prices = sorted(totals, reverse=best_first)
            result.append([[m.fmt_price(p), m.fmt_qty(totals[p])] for p in prices])
        return result[0], result[1]


def ts_ok(value: Any) -> bool:
    return value is None or (type(value) is int and 0 <= value <= MAX_TS)


def name_ok(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME

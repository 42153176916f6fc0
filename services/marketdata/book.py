"""The L2 (price-aggregated) book of one symbol, rebuilt from the matching engine's events.

Only four event types move resting quantity, because only resting orders are on an L2 book:
`rested` adds `open_qty` at `price`; a `trade` takes `qty` off the maker's level (the side opposite
`taker_side`); `cancelled` takes `open_qty` off; `amended` takes the order off the book
(`old_open_qty` at `old_price`) and the `rested` that follows puts it back. A `book` event (the
engine's own L2 snapshot) replaces every level, which also heals a book after an input gap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sortedcontainers import SortedDict

from services.marketdata.decimals import ZERO, decimal_text

BUY = "buy"
SELL = "sell"

Level = list[str]
"""`[price, qty]` as decimal strings; qty "0" in a diff means the level is gone."""
LevelChange = tuple[str, str, Decimal]
"""(side, price text, new total qty at that price; zero when the level is gone)."""


class BookSide:
    """Levels of one side keyed by price, iterated best first."""

    __slots__ = ("is_bid", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        # Decimal price -> (price text as the engine wrote it, total qty). Bids sort descending.
        self.levels: SortedDict = SortedDict(_negate) if is_bid else SortedDict()

    def add(self, price_text: str, qty: Decimal) -> Decimal:
        """Add (or, with a negative qty, remove) quantity; returns the level's new total, which
        is negative if more was removed than the level held (the level is then gone)."""
        price = Decimal(price_text)
        current = self.levels.get(price)
        total = qty if current is None else current[1] + qty
        if total > ZERO:
            self.levels[price] = (price_text if current is None else current[0], total)
        elif current is not None:
            del self.levels[price]
        return total

    def best_first(self, depth: int | None = None) -> list[Level]:
        values = self.levels.values()
        if depth is not None:
            values = values[:depth]
        return [[text, decimal_text(qty)] for text, qty in values]

    def qty_at(self, price_text: str) -> Decimal:
        entry = self.levels.get(Decimal(price_text))
        return ZERO if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self.levels)


def _negate(price: Decimal) -> Decimal:
    return -price


class L2Book:
    """A symbol's L2 book and the sequence number of the last event applied to it."""

    __slots__ = ("asks", "bids", "inconsistencies", "seq", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = 0
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        # Removals of more than a level holds: only possible after an input gap.
        self.inconsistencies = 0

    def side(self, name: str) -> BookSide:
        return self.bids if name == BUY else self.asks

    def apply(self, event: dict[str, Any], changes: list[LevelChange]) -> None:
        """Apply one engine event's effect on resting quantity, appending the changed levels."""
        kind = event["type"]
        if kind == "rested":
            self._change(event["side"], event["price"], Decimal(event["open_qty"]), changes)
        elif kind == "trade":
            maker_side = SELL if event["taker_side"] == BUY else BUY
            self._change(maker_side, event["price"], -Decimal(event["qty"]), changes)
        elif kind == "cancelled":
            self._change(event["side"], event["price"], -Decimal(event["open_qty"]), changes)
        elif kind == "amended":
            self._change(
                event["side"], event["old_price"], -Decimal(event["old_open_qty"]), changes
            )
        elif kind == "book":
            self._replace(event["bids"], event["asks"], changes)

    def depth(self, depth: int | None = None) -> dict[str, Any]:
        """`{"seq", "bids", "asks"}` with at most `depth` levels a side, best first."""
        return {
            "seq": self.seq,
            "bids": self.bids.best_first(depth),
            "asks": self.asks.best_first(depth),
        }

    def _change(self, side: str, price: str, qty: Decimal, changes: list[LevelChange]) -> None:
        total = self.side(side).add(price, qty)
        if total < ZERO:
            self.inconsistencies += 1
            total = ZERO
        changes.append((side, price, total))

    def _replace(self, bids: list[Level], asks: list[Level], changes: list[LevelChange]) -> None:
        for name, book_side, levels in ((BUY, self.bids, bids), (SELL, self.asks, asks)):
            wanted = {Decimal(price): (price, Decimal(qty)) for price, qty in levels}
            for price, (text, _qty) in list(book_side.levels.items()):
                if price not in wanted:
                    del book_side.levels[price]
                    changes.append((name, text, ZERO))
            for price, (text, qty) in wanted.items():
                current = book_side.levels.get(price)
                if current is None or current[1] != qty:
                    if qty > ZERO:
                        book_side.levels[price] = (text, qty)
                    changes.append((name, text, qty))

    # -- snapshots -----------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        return {"seq": self.seq, "bids": self.bids.best_first(), "asks": self.asks.best_first()}

    @classmethod
    def from_snapshot(cls, symbol: str, data: dict[str, Any]) -> L2Book:
        book = cls(symbol)
        book.seq = int(data["seq"])
        for side, levels in ((book.bids, data["bids"]), (book.asks, data["asks"])):
            for price, qty in levels:
                side.levels[Decimal(price)] = (price, Decimal(qty))
        return book

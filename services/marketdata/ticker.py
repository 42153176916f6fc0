"""A 24-hour rolling ticker per symbol, at one-minute granularity, on the events' own clock.

The window is the 1,440 one-minute buckets (UTC-aligned) ending with the bucket of `as_of`, the
latest `ts` of any event of the symbol — not the wall clock, so the result is deterministic and an
idle market's ticker moves on only when its next event arrives. `open` is the first trade in the
window, `high`/`low` the extremes, `last` the latest trade ever (it is still the price after a
quiet day), `volume` the base quantity and `quote_volume` the sum of price x qty traded in the
window, `change` = last - open and `change_percent` = 100 x change / open, rounded to 0.01. With
no trade in the window, open = high = low = last and the volumes are 0; before the first trade
ever, every price is null.
"""

from __future__ import annotations

from bisect import bisect_left
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from services.marketdata.candles import MINUTE_MS, Candle, bucket_start
from services.marketdata.decimals import WIDE, ZERO, add, decimal_text

WINDOW_MINUTES = 1440
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


class RollingTicker:
    """Minute buckets of the last 24 hours plus running sums, so a read is O(1)."""

    __slots__ = (
        "_high",
        "_low",
        "as_of",
        "buckets",
        "last",
        "quote_volume",
        "starts",
        "trades",
        "volume",
    )

    def __init__(self) -> None:
        self.buckets: list[Candle] = []
        self.starts: list[int] = []
        self.as_of: int | None = None
        self.last: Decimal | None = None
        self.volume = ZERO
        self.quote_volume = ZERO
        self.trades = 0
        self._high: Decimal | None = None
        self._low: Decimal | None = None

    def window_start(self) -> int | None:
        if self.as_of is None:
            return None
        return bucket_start(self.as_of, MINUTE_MS) - (WINDOW_MINUTES - 1) * MINUTE_MS

    def advance(self, ts: int) -> bool:
        """Move the window's end to `ts` if it is later; returns True if buckets fell out."""
        if self.as_of is not None and ts <= self.as_of:
            return False
        self.as_of = ts
        first = self.window_start()
        assert first is not None
        dropped = bisect_left(self.starts, first)
        if not dropped:
            return False
        for candle in self.buckets[:dropped]:
            self.volume = WIDE.subtract(self.volume, candle.volume)
            self.quote_volume = WIDE.subtract(self.quote_volume, candle.quote_volume)
            self.trades -= candle.trades
        del self.buckets[:dropped]
        del self.starts[:dropped]
        if not self.buckets:  # a quiet day: plain zeros rather than "0.0000"
            self.volume = self.quote_volume = ZERO
        self._recompute_extremes()
        return True

    def add_trade(self, ts: int, price: Decimal, qty: Decimal, notional: Decimal) -> None:
        """Fold in the symbol's newest trade (trades arrive in sequence order)."""
        self.last = price
        self.advance(ts)
        first = self.window_start()
        assert first is not None
        if ts < first:  # an out-of-order timestamp older than the whole window
            return
        start = bucket_start(ts, MINUTE_MS)
        index = bisect_left(self.starts, start)
        if index < len(self.starts) and self.starts[index] == start:
            candle = self.buckets[index]
        else:
            candle = Candle(start, price)
            self.starts.insert(index, start)
            self.buckets.insert(index, candle)
        candle.add_trade(price, qty, notional)
        self.volume = add(self.volume, qty)
        self.quote_volume = add(self.quote_volume, notional)
        self.trades += 1
        if self._high is None or price > self._high:
            self._high = price
        if self._low is None or price < self._low:
            self._low = price

    def _recompute_extremes(self) -> None:
        if not self.buckets:
            self._high = self._low = None
            return
        self._high = max(candle.high for candle in self.buckets)
        self._low = min(candle.low for candle in self.buckets)

    def to_wire(self) -> dict[str, Any]:
        """The ticker's fields as decimal strings (prices null before the first trade)."""
        last = self.last
        open_: Decimal | None = last
        high, low = last, last
        if self.buckets:
            open_, high, low = self.buckets[0].open, self._high, self._low
        change = change_percent = None
        if last is not None and open_ is not None:
            change = WIDE.subtract(last, open_)
            change_percent = WIDE.divide(WIDE.multiply(change, _HUNDRED), open_).quantize(
                _CENT, rounding=ROUND_HALF_EVEN
            )
        return {
            "open": _text(open_),
            "high": _text(high),
            "low": _text(low),
            "last": _text(last),
            "volume": format(self.volume, "f"),
            "quote_volume": format(self.quote_volume, "f"),
            "change": _text(change),
            "change_percent": _text(change_percent),
            "trades": self.trades,
            "window_start": self.window_start(),
            "as_of": self.as_of,
        }

    # -- snapshots -----------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "last": None if self.last is None else decimal_text(self.last),
            "buckets": [candle.to_wire() for candle in self.buckets],
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> RollingTicker:
        ticker = cls()
        ticker.as_of = data["as_of"]
        ticker.last = None if data["last"] is None else Decimal(data["last"])
        ticker.buckets = [Candle.from_wire(item) for item in data["buckets"]]
        ticker.starts = [candle.start for candle in ticker.buckets]
        for candle in ticker.buckets:
            ticker.volume = add(ticker.volume, candle.volume)
            ticker.quote_volume = add(ticker.quote_volume, candle.quote_volume)
            ticker.trades += candle.trades
        ticker._recompute_extremes()
        return ticker


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")

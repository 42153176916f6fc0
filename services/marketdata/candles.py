"""OHLCV candles from trades, bucketed by the trade's own `ts` (never the wall clock).

A candle covers `[start, start + interval)` in epoch milliseconds, with `start` a multiple of the
interval counted from the Unix epoch: minutes start at :00 seconds, hours at :00 minutes, days at
00:00 UTC. Buckets without a trade have no candle. Within a bucket, `open` is the first trade and
`close` the last one in sequence order, so a trade whose `ts` is earlier than its predecessor's
(timestamps come from order entry) still lands in the bucket its `ts` names.
"""

from __future__ import annotations

from bisect import bisect_left
from decimal import Decimal
from typing import Any

from services.marketdata.decimals import ZERO, add, decimal_text

MINUTE_MS = 60_000
INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "1d": 24 * 60 * MINUTE_MS,
}


def bucket_start(ts: int, interval_ms: int) -> int:
    """The start of the UTC-aligned bucket holding `ts`."""
    return ts - ts % interval_ms


class Candle:
    """One bucket's open, high, low, close, volume (base), quote volume and trade count."""

    __slots__ = ("close", "high", "low", "open", "quote_volume", "start", "trades", "volume")

    def __init__(self, start: int, price: Decimal) -> None:
        self.start = start
        self.open = self.high = self.low = self.close = price
        self.volume = ZERO
        self.quote_volume = ZERO
        self.trades = 0

    def add_trade(self, price: Decimal, qty: Decimal, notional: Decimal) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume = add(self.volume, qty)
        self.quote_volume = add(self.quote_volume, notional)
        self.trades += 1

    def to_wire(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "open": decimal_text(self.open),
            "high": decimal_text(self.high),
            "low": decimal_text(self.low),
            "close": decimal_text(self.close),
            "volume": decimal_text(self.volume),
            "quote_volume": decimal_text(self.quote_volume),
            "trades": self.trades,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Candle:
        candle = cls(int(data["start"]), Decimal(data["open"]))
        candle.high = Decimal(data["high"])
        candle.low = Decimal(data["low"])
        candle.close = Decimal(data["close"])
        candle.volume = Decimal(data["volume"])
        candle.quote_volume = Decimal(data["quote_volume"])
        candle.trades = int(data["trades"])
        return candle


class CandleSeries:
    """The most recent `keep` candles of one interval, ordered by start."""

    __slots__ = ("candles", "interval_ms", "keep", "starts")

    def __init__(self, interval_ms: int, keep: int) -> None:
        self.interval_ms = interval_ms
        self.keep = keep
        self.candles: list[Candle] = []
        self.starts: list[int] = []

    def add_trade(self, ts: int, price: Decimal, qty: Decimal, notional: Decimal) -> Candle | None:
        """Fold a trade into its bucket; returns the candle it changed (None if too old to keep)."""
        start = bucket_start(ts, self.interval_ms)
        starts = self.starts
        if starts and start == starts[-1]:  # the common case: the current bucket
            candle = self.candles[-1]
        elif not starts or start > starts[-1]:
            candle = Candle(start, price)
            starts.append(start)
            self.candles.append(candle)
            if len(starts) > self.keep:
                del starts[0]
                del self.candles[0]
        else:
            index = bisect_left(starts, start)
            if index < len(starts) and starts[index] == start:
                candle = self.candles[index]
            elif len(starts) < self.keep or index > 0:
                candle = Candle(start, price)
                starts.insert(index, start)
                self.candles.insert(index, candle)
                if len(starts) > self.keep:
                    del starts[0]
                    del self.candles[0]
            else:
                return None
        candle.add_trade(price, qty, notional)
        return candle

    def query(self, start: int | None, end: int | None, limit: int) -> list[Candle]:
        """Candles whose start is in `[start, end]`, oldest first, the newest `limit` of them."""
        lo = 0 if start is None else bisect_left(self.starts, start)
        hi = len(self.starts) if end is None else bisect_left(self.starts, end + 1)
        return self.candles[max(lo, hi - limit) : hi]

    def to_snapshot(self) -> list[dict[str, Any]]:
        return [candle.to_wire() for candle in self.candles]

    def restore(self, data: list[dict[str, Any]]) -> None:
        self.candles = [Candle.from_wire(item) for item in data][-self.keep :]
        self.starts = [candle.start for candle in self.candles]

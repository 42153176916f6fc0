"""Market data's state machine: every symbol's L2 book, recent trades, candles and ticker.

It is a read-only projection of the `executions` stream. Events of one symbol arrive in sequence
order (the stream is partitioned by symbol); a replay after a crash re-emits identical events, so
an event whose `seq` is at or below the symbol's last applied `seq` is a duplicate and ignored. A
`seq` that jumps ahead is an input gap: it is logged and counted, and the event is applied anyway
(the next engine `book` event, if any, heals the book).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.marketdata.book import L2Book, LevelChange
from services.marketdata.candles import INTERVALS, Candle, CandleSeries
from services.marketdata.decimals import notional
from services.marketdata.ticker import RollingTicker

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1


class SymbolState:
    """Everything market data knows about one symbol."""

    __slots__ = ("book", "candles", "symbol", "ticker", "trades")

    def __init__(self, symbol: str, *, trades_kept: int, candles_kept: int) -> None:
        self.symbol = symbol
        self.book = L2Book(symbol)
        self.trades: deque[dict[str, Any]] = deque(maxlen=trades_kept)
        self.candles = {name: CandleSeries(ms, candles_kept) for name, ms in INTERVALS.items()}
        self.ticker = RollingTicker()

    @property
    def seq(self) -> int:
        return self.book.seq

    def ticker_wire(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "seq": self.book.seq, **self.ticker.to_wire()}


@dataclass(slots=True)
class SymbolUpdate:
    """What one applied event changed, for the WebSocket fan-out."""

    symbol: str
    seq: int
    ts: int | None = None
    levels: list[LevelChange] = field(default_factory=list)
    trade: dict[str, Any] | None = None
    candles: list[tuple[str, Candle]] = field(default_factory=list)
    ticker_changed: bool = False


@dataclass(slots=True)
class StateCounters:
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    missing_events: int = 0
    ignored: int = 0


class MarketDataState:
    """The projection of every symbol seen on `executions`. Deterministic given its input."""

    def __init__(self, *, trades_kept: int = 1000, candles_kept: int = 1500) -> None:
        self.trades_kept = trades_kept
        self.candles_kept = candles_kept
        self.symbols: dict[str, SymbolState] = {}
        self.counters = StateCounters()

    def symbol(self, symbol: str) -> SymbolState:
        """The state of `symbol`, created empty on first use."""
        state = self.symbols.get(symbol)
        if state is None:
            state = SymbolState(
                symbol, trades_kept=self.trades_kept, candles_kept=self.candles_kept
            )
            self.symbols[symbol] = state
        return state

    def view(self, symbol: str) -> SymbolState:
        """The state of `symbol` for reading: an empty one (not stored) if it has no events yet,
        so reads never change what a snapshot holds."""
        state = self.symbols.get(symbol)
        if state is None:
            state = SymbolState(
                symbol, trades_kept=self.trades_kept, candles_kept=self.candles_kept
            )
        return state

    def apply(self, event: dict[str, Any]) -> SymbolUpdate | None:
        """Apply one engine event (wire form). Returns what changed, or None for a duplicate or
        an event outside any symbol's sequence (a reject of an unknown symbol has seq 0)."""
        seq = event.get("seq")
        symbol = event.get("symbol")
        if not isinstance(seq, int) or seq <= 0 or not isinstance(symbol, str):
            self.counters.ignored += 1
            return None
        state = self.symbol(symbol)
        book = state.book
        if seq <= book.seq:
            self.counters.duplicates += 1
            return None
        if seq != book.seq + 1:
            self.counters.gaps += 1
            self.counters.missing_events += seq - book.seq - 1
            log.warning(
                "gap in executions input",
                extra={"symbol": symbol, "after_seq": book.seq, "next_seq": seq},
            )
        ts = event.get("ts")
        if not isinstance(ts, int):
            ts = None
        update = SymbolUpdate(symbol, seq, ts)
        book.apply(event, update.levels)
        book.seq = seq
        if event["type"] == "trade":
            self._trade(state, event, ts, update)
        elif ts is not None and state.ticker.advance(ts):
            update.ticker_changed = True
        self.counters.applied += 1
        return update

    def _trade(
        self, state: SymbolState, event: dict[str, Any], ts: int | None, update: SymbolUpdate
    ) -> None:
        trade = {
            "id": event["id"],
            "seq": event["seq"],
            "price": event["price"],
            "qty": event["qty"],
            "side": event["taker_side"],
            "ts": ts,
        }
        state.trades.append(trade)
        update.trade = trade
        if ts is None:  # no time, no bucket: the trade is listed but not in candles
            return
        price = Decimal(event["price"])
        qty = Decimal(event["qty"])
        value = notional(price, qty)
        for name, series in state.candles.items():
            candle = series.add_trade(ts, price, qty, value)
            if candle is not None:
                update.candles.append((name, candle))
        state.ticker.add_trade(ts, price, qty, value)
        update.ticker_changed = True

    # -- snapshots -----------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-compatible state; `from_snapshot(to_snapshot())` behaves identically."""
        return {
            "version": SNAPSHOT_VERSION,
            "trades_kept": self.trades_kept,
            "candles_kept": self.candles_kept,
            "symbols": {
                name: {
                    "book": state.book.to_snapshot(),
                    "trades": list(state.trades),
                    "candles": {k: series.to_snapshot() for k, series in state.candles.items()},
                    "ticker": state.ticker.to_snapshot(),
                }
                for name, state in sorted(self.symbols.items())
            },
        }

    @classmethod
    def from_snapshot(
        cls,
        data: dict[str, Any],
        *,
        trades_kept: int | None = None,
        candles_kept: int | None = None,
    ) -> MarketDataState:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported market data snapshot version {data.get('version')!r}")
        state = cls(
            trades_kept=trades_kept or int(data["trades_kept"]),
            candles_kept=candles_kept or int(data["candles_kept"]),
        )
        for name, item in data["symbols"].items():
            symbol = state.symbol(name)
            symbol.book = L2Book.from_snapshot(name, item["book"])
            symbol.trades.extend(item["trades"])
            for interval, candles in item["candles"].items():
                if interval in symbol.candles:
                    symbol.candles[interval].restore(candles)
            symbol.ticker = RollingTicker.from_snapshot(item["ticker"])
        return state

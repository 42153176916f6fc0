"""The market data service object: state, hub, catalog and verifier of one process.

Consumers (`worker.py`) feed it `executions` events and `accounts` messages; the REST routes and
the WebSocket read from it. A publish tick flushes coalesced channel messages every
`publish_interval_ms`; a heartbeat tick keeps idle connections visibly alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from services.common.errors import BadRequest, NotFound
from services.marketdata.auth import TokenChecker
from services.marketdata.candles import INTERVALS
from services.marketdata.hub import Hub
from services.marketdata.markets import MarketCatalog, MarketRecord
from services.marketdata.metrics import INPUT_DUPLICATES, INPUT_GAPS
from services.marketdata.private import from_accounts, from_execution
from services.marketdata.settings import MarketDataSettings
from services.marketdata.state import MarketDataState, SymbolState

log = logging.getLogger(__name__)


class MarketDataService:
    def __init__(
        self,
        settings: MarketDataSettings,
        catalog: MarketCatalog,
        tokens: TokenChecker | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.tokens = tokens
        self.state = MarketDataState(
            trades_kept=settings.trades_kept, candles_kept=settings.candles_kept
        )
        self.hub = Hub(self.state, max_queue=settings.ws_send_queue)
        self._tasks: list[asyncio.Task[None]] = []
        self._counted = (0, 0)

    # -- state -----------------------------------------------------------------------------------

    def replace_state(self, state: MarketDataState) -> None:
        """Use a state restored from a snapshot (before any subscriber is told anything)."""
        self.state = state
        self.hub.state = state

    def apply_execution(self, event: dict[str, Any], *, private: bool = True) -> None:
        """One `executions` event: public state and channels, then (if `private`) the owners'
        private channels. Duplicates (replays) change nothing and reach nobody."""
        update = self.state.apply(event)
        if update is not None:
            self.hub.on_update(update)
        elif event.get("seq") != 0:  # a duplicate; seq 0 (reject of an unknown symbol) has no order
            return
        if private:
            for account, channel, message in from_execution(event):
                self.hub.publish_private(account, channel, message)

    def apply_executions(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            self.apply_execution(event)
        self._count_input()

    def apply_account_message(self, message: dict[str, Any]) -> None:
        for account, channel, private in from_accounts(message):
            self.hub.publish_private(account, channel, private)

    def _count_input(self) -> None:
        counters = self.state.counters
        gaps, duplicates = self._counted
        if counters.gaps > gaps:
            INPUT_GAPS.inc(counters.gaps - gaps)
        if counters.duplicates > duplicates:
            INPUT_DUPLICATES.inc(counters.duplicates - duplicates)
        self._counted = (counters.gaps, counters.duplicates)

    # -- queries ---------------------------------------------------------------------------------

    async def markets(self) -> list[MarketRecord]:
        return await self.catalog.markets()

    async def symbol_state(self, symbol: str) -> SymbolState:
        """The state of a listed (or already traded) symbol; NotFound otherwise."""
        if symbol not in self.state.symbols and await self.catalog.get(symbol) is None:
            raise NotFound(f"Unknown market {symbol!r}.", code="unknown_symbol")
        return self.state.view(symbol)

    async def is_known(self, symbol: str) -> bool:
        return symbol in self.state.symbols or await self.catalog.get(symbol) is not None

    async def tickers(self) -> list[dict[str, Any]]:
        symbols = {m["symbol"] for m in await self.catalog.markets()} | set(self.state.symbols)
        return [self.state.view(s).ticker_wire() for s in sorted(symbols)]

    @staticmethod
    def check_interval(interval: str) -> int:
        try:
            return INTERVALS[interval]
        except KeyError:
            choices = ", ".join(INTERVALS)
            raise BadRequest(
                f"Unknown candle interval {interval!r}; use one of {choices}.", code="bad_interval"
            ) from None

    # -- ticks -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._publish_loop(), name="marketdata-publish"))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="marketdata-heartbeat"))

    async def stop(self) -> None:
        self.hub.flush()
        self.hub.drop_all("going_away", "The server is shutting down; reconnect shortly.")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _publish_loop(self) -> None:
        interval = self.settings.publish_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                self.hub.flush()
            except Exception:  # a bad message must not stop every channel for good
                log.exception("publishing market data failed")

    async def _heartbeat_loop(self) -> None:
        settings = self.settings
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(min(1.0, settings.ws_heartbeat_s))
            now = time.monotonic()
            self.hub.cut_stalled(settings.ws_send_timeout_s, now)
            if now - last_beat >= settings.ws_heartbeat_s:
                last_beat = now
                self.hub.broadcast({"type": "heartbeat", "ts": int(time.time() * 1000)})

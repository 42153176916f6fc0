"""The markets table as market data sees it: a cached list of markets for `GET /api/markets`.

The orders service owns the table (it adds, halts and resumes markets); market data only reads it,
and caches the whole list for a couple of seconds because every REST call and subscription checks
a symbol against it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from services.common.markets import list_markets, table_name

MarketRecord = dict[str, Any]
"""A market as `GET /api/markets` shows it (`MarketSpec.public()`)."""
MarketsLoader = Callable[[], Awaitable[list[MarketRecord]]]


class DynamoMarketsLoader:
    """Reads every market with the shared table code (services.common.markets), keeping one
    aioboto3 table open between loads; `aclose()` at shutdown."""

    def __init__(self, prefix: str) -> None:
        self._name = table_name(prefix)
        self._stack = AsyncExitStack()
        self._table: Any = None

    async def __call__(self) -> list[MarketRecord]:
        if self._table is None:
            from services.common.aws import aio_session, client_config

            resource = await self._stack.enter_async_context(
                aio_session().resource("dynamodb", config=client_config())
            )
            self._table = await resource.Table(self._name)
        return [spec.public() for spec in await list_markets(self._table)]

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._table = None


class MarketCatalog:
    """The markets, reloaded at most every `cache_s` seconds (one load at a time)."""

    def __init__(
        self,
        loader: MarketsLoader,
        *,
        cache_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._cache_s = cache_s
        self._clock = clock
        self._markets: dict[str, MarketRecord] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def markets(self) -> list[MarketRecord]:
        await self._refresh()
        return list(self._markets.values())

    async def get(self, symbol: str) -> MarketRecord | None:
        await self._refresh()
        market = self._markets.get(symbol)
        if market is None and self._age() >= min(self._cache_s, 0.5):
            # A market added a moment ago: look again rather than wait for the cache to expire.
            await self._refresh(force=True)
            market = self._markets.get(symbol)
        return market

    def _age(self) -> float:
        return float("inf") if self._loaded_at is None else self._clock() - self._loaded_at

    async def _refresh(self, *, force: bool = False) -> None:
        if not force and self._age() < self._cache_s:
            return
        loaded_at = self._loaded_at
        async with self._lock:
            if self._loaded_at != loaded_at:  # someone else reloaded while we waited
                return
            markets = await self._loader()
            self._markets = {m["symbol"]: m for m in markets}
            self._loaded_at = self._clock()

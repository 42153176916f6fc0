"""The market data service: REST market data and the `/ws` WebSocket (port 8003).

Its lifespan starts the consumers of `executions` (public state) and `accounts` (private
channels); see worker.py. Several replicas can run side by side: each reads every shard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.common.http import create_service_app
from services.common.identity import IdentityVerifier, install_verifier
from services.common.logging import configure_logging
from services.marketdata import api, ws
from services.marketdata.auth import TokenChecker, VerifierTokenChecker
from services.marketdata.markets import DynamoMarketsLoader, MarketCatalog
from services.marketdata.service import MarketDataService
from services.marketdata.settings import MarketDataSettings


def create_app(
    settings: MarketDataSettings | None = None,
    *,
    catalog: MarketCatalog | None = None,
    tokens: TokenChecker | None = None,
) -> FastAPI:
    """The app; tests pass their own catalog and token checker (and turn the consumers off)."""
    settings = settings or MarketDataSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            checker = tokens
            if checker is None:
                verifier = IdentityVerifier.from_settings(settings)
                install_verifier(app, verifier)
                stack.push_async_callback(verifier.aclose)
                checker = VerifierTokenChecker(verifier)
            markets = catalog
            if markets is None:
                loader = DynamoMarketsLoader(settings.resource_prefix)
                stack.push_async_callback(loader.aclose)
                markets = MarketCatalog(loader, cache_s=settings.markets_cache_s)
            service = app.state.marketdata = MarketDataService(settings, markets, checker)
            await service.start()
            stack.push_async_callback(service.stop)
            from services.marketdata.worker import MarketDataConsumers

            consumers = app.state.consumers = MarketDataConsumers(service)
            await consumers.start()
            stack.push_async_callback(consumers.stop)
            yield

    async def markets_table() -> None:
        await app.state.marketdata.catalog.markets()

    async def consumers() -> None:
        app.state.consumers.raise_if_unhealthy()

    app = create_service_app(
        settings,
        title="Tradestack market data",
        routers=[api.router, ws.router],
        readiness={"markets_table": markets_table, "consumers": consumers},
        lifespan=lifespan,
    )
    return app


def _app() -> FastAPI:
    settings = MarketDataSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    return create_app(settings)


app = _app()

"""The orders API process: order entry, queries, balances and market admin (port 8002)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.common.aws import aio_session, client_config
from services.common.http import create_service_app
from services.common.identity import identity_lifespan
from services.common.item_batcher import ItemBatcher
from services.common.logging import configure_logging
from services.common.markets import MarketCache
from services.common.resources import physical_name
from services.common.streams import StreamProducer
from services.orders.admin_api import router as admin_router
from services.orders.api import router
from services.orders.service import OrdersService
from services.orders.settings import OrdersSettings

settings = OrdersSettings()
configure_logging(settings.service_name, settings.log_level, settings.log_format)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    prefix = settings.resource_prefix
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(identity_lifespan(app))
        session = aio_session()
        config = client_config(max_pool_connections=100)
        dynamodb = await stack.enter_async_context(session.resource("dynamodb", config=config))
        kinesis = await stack.enter_async_context(session.client("kinesis", config=config))
        tables = {
            name: await dynamodb.Table(physical_name(prefix, name))
            for name in ("orders", "trades", "balances", "ledger", "markets")
        }
        orders_stream = StreamProducer(
            kinesis, physical_name(prefix, "orders"), metrics_stream="orders"
        )
        matching_stream = StreamProducer(
            kinesis, physical_name(prefix, "matching"), metrics_stream="matching"
        )
        app.state.orders = OrdersService(
            settings=settings,
            orders_table=tables["orders"],
            trades_table=tables["trades"],
            balances_table=tables["balances"],
            ledger_table=tables["ledger"],
            markets_table=tables["markets"],
            orders_stream=orders_stream,
            matching_stream=matching_stream,
            markets=MarketCache(tables["markets"], settings.orders_market_cache_s),
            order_items=ItemBatcher(dynamodb, physical_name(prefix, "orders")),
        )
        try:
            yield
        finally:
            await orders_stream.close()
            await matching_stream.close()


async def _tables_ready() -> None:
    await app.state.orders.markets.all()


app = create_service_app(
    settings,
    title="Tradestack orders",
    routers=[router, admin_router],
    readiness={"markets_table": _tables_ready},
    lifespan=lifespan,
)

"""Market data fixtures: the app served by a real uvicorn on the test's event loop, with a fixed
market list and a fake token checker, consumers off (tests feed events directly)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import uvicorn
import websockets

from services.common.errors import Unauthorized
from services.common.local_aws import free_port
from services.marketdata.app import create_app
from services.marketdata.markets import MarketCatalog
from services.marketdata.service import MarketDataService
from services.marketdata.settings import MarketDataSettings

MARKETS = [
    {
        "symbol": "BTC-USD",
        "base": "BTC",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.0001",
        "min_notional": "1",
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "status": "trading",
        "updated": 0,
    },
    {
        "symbol": "ETH-USD",
        "base": "ETH",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "1",
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "status": "trading",
        "updated": 0,
    },
]


class FakeTokens:
    """token -> (account, expiry in epoch seconds)."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, float]] = {}

    async def check(self, token: str) -> tuple[str, float]:
        if token not in self.tokens:
            raise Unauthorized("The token's signature is not valid.", code="invalid_token")
        return self.tokens[token]


@dataclass
class RunningMarketData:
    url: str
    ws_url: str
    service: MarketDataService
    tokens: FakeTokens


def md_settings(**overrides: Any) -> MarketDataSettings:
    values: dict[str, Any] = {
        "consume_executions": False,
        "consume_accounts": False,
        "publish_interval_ms": 10,
        "ws_heartbeat_s": 60,
        "ws_max_subscriptions": 8,
    }
    values.update(overrides)
    return MarketDataSettings(**values)


async def serve(settings: MarketDataSettings) -> AsyncIterator[RunningMarketData]:
    async def load() -> list[dict[str, Any]]:
        return [dict(m) for m in MARKETS]

    tokens = FakeTokens()
    app = create_app(settings, catalog=MarketCatalog(load, cache_s=60), tokens=tokens)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield RunningMarketData(
            f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", app.state.marketdata, tokens
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def marketdata() -> AsyncIterator[RunningMarketData]:
    async for running in serve(md_settings()):
        yield running


async def receive(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message.get("type") != "heartbeat":
            return message


async def request(ws: Any, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    await ws.send(orjson.dumps(message).decode())
    return await receive(ws, timeout)


def connect(url: str) -> Any:
    return websockets.connect(url, max_size=None)

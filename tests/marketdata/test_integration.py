"""Market data as real processes on the moto server: events put on `executions` with the runtime
producer; clients follow snapshot + diffs across replicas, a graceful restart and a crash."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from services.marketdata.client import BookFollower
from services.marketdata.state import MarketDataState
from services.matching.engine import MatchingEngine
from tests.marketdata.processes import publish, seed_markets, start_marketdata, wait_for
from tests.marketdata.scenario import replay
from tests.marketdata.test_state import random_commands

pytestmark = pytest.mark.aws

SYMBOLS = ("BTC-USD", "ETH-USD")


class Client:
    """A WebSocket client following both books; reconnects are explicit."""

    def __init__(self) -> None:
        self.books = {symbol: BookFollower() for symbol in SYMBOLS}
        self.snapshots: list[tuple[str, int]] = []
        self.task: asyncio.Task[None] | None = None

    def connect(self, url: str) -> None:
        self.task = asyncio.create_task(self._run(url))

    async def _run(self, url: str) -> None:
        channels = [f"book:{symbol}" for symbol in SYMBOLS]
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channels": channels}).decode())
            try:
                async for raw in ws:
                    message = orjson.loads(raw)
                    channel = message.get("channel", "")
                    if channel.startswith("book:"):
                        symbol = channel.split(":")[1]
                        if message["type"] == "snapshot":
                            previous = self.books[symbol].seq or 0
                            assert message["seq"] >= previous  # a replica never goes back
                            self.snapshots.append((symbol, message["seq"]))
                        self.books[symbol].on_message(message)  # raises on a gap
            except websockets.ConnectionClosed:
                return

    async def disconnected(self) -> None:
        assert self.task is not None
        await asyncio.wait_for(self.task, 20)

    def synced_with(self, engine: MatchingEngine) -> bool:
        if self.task is not None and self.task.done():
            self.task.result()  # surface a gap or a failed assertion
        return all(self.books[s].seq == engine.sequence(s) for s in SYMBOLS)

    def assert_equal(self, engine: MatchingEngine) -> None:
        for symbol in SYMBOLS:
            bids, asks = engine.l2(symbol)
            assert self.books[symbol].levels() == ([list(b) for b in bids], [list(a) for a in asks])


async def get(url: str, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get(path, params=params)
        response.raise_for_status()
        return response.json()


async def test_clients_follow_books_across_replicas_a_restart_and_a_crash(
    aws_prefix: str, tmp_path: Path
) -> None:
    seed_markets(aws_prefix)
    engine = MatchingEngine()
    commands = random_commands(random.Random(99), 1800)
    batches = [commands[i : i + 300] for i in range(0, len(commands), 300)]
    events: list[dict[str, Any]] = []

    async def publish_batch(batch: list[dict[str, Any]]) -> None:
        produced = replay(batch, engine)
        events.extend(produced)
        await publish(aws_prefix, "executions", produced)

    await publish_batch(batches[0])
    fast_snapshots = {"TRADESTACK_SNAPSHOT_INTERVAL_S": "0.5"}
    a = start_marketdata(aws_prefix, tmp_path, **fast_snapshots)
    b = start_marketdata(aws_prefix, tmp_path, **fast_snapshots)
    on_a, on_b = Client(), Client()
    try:
        on_a.connect(a.ws_url)
        on_b.connect(b.ws_url)
        await publish_batch(batches[1])
        await wait_for(lambda: on_a.synced_with(engine) and on_b.synced_with(engine))
        on_a.assert_equal(engine)
        on_b.assert_equal(engine)
        assert (await get(a.url, "/api/markets"))["markets"][0]["symbol"] == "BTC-USD"

        # A stops gracefully (final snapshot) while the venue goes on; it comes back and catches up.
        a.stop(signal.SIGTERM)
        await on_a.disconnected()
        await publish_batch(batches[2])
        a = start_marketdata(aws_prefix, tmp_path, port=a.port, **fast_snapshots)
        assert "restored market data from a snapshot" in a.log.read_text()
        on_a.connect(a.ws_url)
        await publish_batch(batches[3])
        await wait_for(lambda: on_a.synced_with(engine) and on_b.synced_with(engine))
        on_a.assert_equal(engine)

        # B crashes (no final snapshot): it restores an older snapshot and skips the duplicates.
        b.stop(signal.SIGKILL)
        await on_b.disconnected()
        await publish_batch(batches[4])
        b = start_marketdata(aws_prefix, tmp_path, port=b.port, **fast_snapshots)
        on_b.connect(b.ws_url)
        await publish_batch(batches[5])
        await wait_for(lambda: on_a.synced_with(engine) and on_b.synced_with(engine))
        on_a.assert_equal(engine)
        on_b.assert_equal(engine)

        # Both replicas now hold exactly what one uninterrupted pass over the stream gives.
        reference = MarketDataState()
        for event in events:
            reference.apply(event)
        for replica in (a, b):
            for symbol in SYMBOLS:
                state = reference.symbol(symbol)
                book = await get(replica.url, f"/api/markets/{symbol}/book", depth=5000)
                assert book == {"symbol": symbol, **state.book.depth()}
                trades = await get(replica.url, f"/api/markets/{symbol}/trades", limit=1000)
                assert trades["trades"] == list(reversed(state.trades))
                for interval in ("1m", "1h"):
                    candles = await get(
                        replica.url, f"/api/markets/{symbol}/candles", interval=interval, limit=1500
                    )
                    assert candles["candles"] == state.candles[interval].to_snapshot()
                ticker = await get(replica.url, f"/api/markets/{symbol}/ticker")
                assert ticker == state.ticker_wire()
    finally:
        for process in (a, b):
            process.stop(signal.SIGKILL)
        for client in (on_a, on_b):
            if client.task is not None:
                client.task.cancel()

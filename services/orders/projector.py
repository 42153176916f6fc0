"""The projector (port 8007): `accounts` and `executions` into the query tables, in batches.

Two stream readers hand every message to a `Projection` (pure, coalescing per item); a flush loop
writes what is pending with BatchWriteItem every `orders_projector_flush_s` (a few calls per table
at once), then saves the reader positions it had reached when it took the batch (a checkpoint after
the write, so a crash replays and rewrites, never skips; at most once a second). Positions live in
the leases table, item `pk = projector#<stream>`.

One projector process per stack: it holds no lease (see docs/orders.md, "Not done").
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack, suppress
from typing import Any

from botocore.config import Config

from services.common.aws import aio_session, client_config
from services.common.dynamo_items import to_item
from services.common.logging import configure_logging
from services.common.metrics import ERRORS
from services.common.resources import physical_name
from services.common.streams import RecordPosition, RuntimeConfig, StreamReader
from services.orders.projection import TABLES, Projection
from services.orders.settings import OrdersSettings
from services.orders.worker_app import consumer_app

log = logging.getLogger(__name__)
STREAMS = ("accounts", "executions")
MAX_PENDING = 20_000
BATCH_WRITE_MAX = 25
"""Items per BatchWriteItem call (DynamoDB's limit)."""
WRITERS_PER_TABLE = 4
"""BatchWriteItem calls under way at once per table in a flush (items of one flush have distinct
keys, so the order among them does not matter; flushes stay strictly one after the other)."""
SAVE_POSITIONS_EVERY_S = 1.0
"""Reader positions are stored at most this often (and at shutdown): a crash replays at most
that much more, which the projection absorbs (newest version wins, immutable items are equal)."""


class Projector:
    """Reads `accounts` and `executions`, writes orders, trades, balances and ledger."""

    def __init__(self, settings: OrdersSettings) -> None:
        self.settings = settings
        self.prefix = settings.resource_prefix
        self.projection = Projection()
        self.readers: dict[str, StreamReader] = {}
        self.running = False
        self.flushes = 0
        self.items_written = 0
        self.last_flush_ms: int | None = None
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._saved: dict[str, dict[str, str]] = {}
        self._saved_at = float("-inf")

    def stop(self) -> None:
        self._stopping.set()
        for reader in self.readers.values():
            reader.stop()

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "pending_items": len(self.projection),
            "messages": self.projection.messages,
            "flushes": self.flushes,
            "items_written": self.items_written,
            "last_flush_ms": self.last_flush_ms,
            "readers": {name: reader.status() for name, reader in self.readers.items()},
        }

    async def run(self) -> None:
        session = aio_session()
        async with AsyncExitStack() as stack:
            dynamodb = await stack.enter_async_context(
                session.resource("dynamodb", config=client_config(max_pool_connections=20))
            )
            # Item writes through the low-level client, items converted once (`to_item`), no
            # client-side parameter validation: the resource layer's conversions were a third of
            # the projector's CPU (docs/performance.md).
            writer = await stack.enter_async_context(
                session.client(
                    "dynamodb",
                    config=client_config(max_pool_connections=20).merge(
                        Config(parameter_validation=False)
                    ),
                )
            )
            tables = {t: _TableWriter(writer, physical_name(self.prefix, t)) for t in TABLES}
            leases = await dynamodb.Table(physical_name(self.prefix, "leases"))
            config = RuntimeConfig(
                idle_poll_max_s=0.1,
                scan_interval_s=self.settings.orders_scan_interval_s,
                tip_poll_interval_s=self.settings.stream_tip_poll_s,
            )
            for stream in STREAMS:
                positions = await self._load_positions(leases, stream)
                self.readers[stream] = StreamReader(
                    stream,
                    self._handler(stream),
                    prefix=self.prefix,
                    start="TRIM_HORIZON",
                    positions=positions,
                    name=f"projector-{stream}",
                    config=config,
                    session=session,
                )
            tasks = [
                asyncio.create_task(r.run(), name=f"projector:{n}") for n, r in self.readers.items()
            ]
            self.running = True
            try:
                while not self._stopping.is_set():
                    with suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._stopping.wait(), self.settings.orders_projector_flush_s
                        )
                    await self._flush(tables, leases)
                for reader in self.readers.values():
                    reader.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._flush(tables, leases, final=True)
            finally:
                self.running = False
                for task in tasks:
                    task.cancel()

    def _handler(self, stream: str) -> Any:
        apply = (
            self.projection.apply_accounts
            if stream == "accounts"
            else self.projection.apply_execution
        )

        async def handle(message: dict[str, Any], position: RecordPosition) -> None:
            apply(message)
            if len(self.projection) >= MAX_PENDING:  # backpressure while a flush catches up
                self._room.clear()
                await self._room.wait()

        return handle

    async def _flush(self, tables: dict[str, Any], leases: Any, *, final: bool = False) -> None:
        # Take the batch and the positions together (no await in between): every message up to
        # these positions is in this batch or an earlier one.
        positions = {name: reader.positions for name, reader in self.readers.items()}
        now = int(time.time() * 1000)
        batch = self.projection.take(now)
        self._room.set()
        if batch:
            await asyncio.gather(*(self._write(tables[t], items) for t, items in batch.items()))
            self.items_written += sum(len(items) for items in batch.values())
        if final or time.monotonic() - self._saved_at >= SAVE_POSITIONS_EVERY_S:
            self._saved_at = time.monotonic()
            for stream, shard_positions in positions.items():
                if shard_positions and shard_positions != self._saved.get(stream):
                    await self._save_positions(leases, stream, shard_positions)
                    self._saved[stream] = shard_positions
        self.flushes += 1
        self.last_flush_ms = now

    async def _write(self, table: _TableWriter, items: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in items]
        chunks = [
            requests[i : i + BATCH_WRITE_MAX] for i in range(0, len(requests), BATCH_WRITE_MAX)
        ]
        for start in range(0, len(chunks), WRITERS_PER_TABLE):
            await asyncio.gather(
                *(table.write(chunk) for chunk in chunks[start : start + WRITERS_PER_TABLE])
            )

    async def _load_positions(self, leases: Any, stream: str) -> dict[str, str]:
        response = await leases.get_item(
            Key={"pk": f"projector#{stream}", "sk": "positions"}, ConsistentRead=True
        )
        return dict((response.get("Item") or {}).get("positions") or {})

    async def _save_positions(self, leases: Any, stream: str, positions: dict[str, str]) -> None:
        await leases.put_item(
            Item={"pk": f"projector#{stream}", "sk": "positions", "positions": positions}
        )


class _TableWriter:
    """BatchWriteItem calls for one table: a chunk is retried, and its unprocessed items resent,
    until all of it is written (the projection must not skip anything)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    async def write(self, requests: list[dict[str, Any]]) -> None:
        delay = 0.05
        while requests:
            try:
                response = await self.client.batch_write_item(RequestItems={self.name: requests})
            except Exception:
                ERRORS.labels("projector_write").inc()
                log.exception("projector write failed; retrying", extra={"table": self.name})
            else:
                requests = response.get("UnprocessedItems", {}).get(self.name, [])
                if not requests:
                    return
                ERRORS.labels("projector_unprocessed").inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


settings = OrdersSettings(service_name="projector")
configure_logging(settings.service_name, settings.log_level, settings.log_format)
app = consumer_app(settings, Projector(settings), title="Tradestack projector")

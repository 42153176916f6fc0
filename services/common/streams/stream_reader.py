"""`StreamReader`: a read-only consumer of every shard, without leases.

For replicas that each need the whole stream (market data: every instance keeps its own books).
It keeps its own position per shard (`positions`, to persist if wanted), follows resharding
parent-before-child, and hands each message with its position to a handler, in stream order per
shard. Nothing is checkpointed for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, Literal

from services.common.aws import client_config
from services.common.metrics import ERRORS, RECORDS_PROCESSED, STREAM_LAG_MS
from services.common.resources import physical_name
from services.common.serialization import RecordFormatError, decode_record
from services.common.streams.clients import runtime_session
from services.common.streams.config import RuntimeConfig
from services.common.streams.retry import is_transient
from services.common.streams.shard_reader import ShardReader
from services.common.streams.shards import ShardInfo, list_shards, ready_shards
from services.common.streams.state_machine import RecordPosition

log = logging.getLogger(__name__)

MessageHandler = Callable[[dict[str, Any], RecordPosition], Awaitable[None] | None]
"""Called once per message, in order per shard; may be a plain function or a coroutine."""


class StreamReader:
    """Reads every shard of the logical stream `stream` and calls `handler` for each message.

    `start`: where shards without a known position begin, "LATEST" (only what arrives from now
    on; shards already closed are skipped) or "TRIM_HORIZON" (everything retained). Shards
    created later by resharding always start at their beginning. `positions` resumes shards
    after the given sequence numbers.
    """

    def __init__(
        self,
        stream: str,
        handler: MessageHandler,
        *,
        prefix: str,
        start: Literal["LATEST", "TRIM_HORIZON"] = "LATEST",
        positions: Mapping[str, str] | None = None,
        name: str = "reader",
        config: RuntimeConfig | None = None,
        session: Any = None,
    ) -> None:
        self.stream = stream
        self.stream_name = physical_name(prefix, stream)
        self.handler = handler
        self.start = start
        self.name = name
        self.config = config or RuntimeConfig()
        self._session = session
        self._positions: dict[str, str] = dict(positions or {})
        self._finished: set[str] = set()
        self._readers: dict[str, ShardReader] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        self._rescan = asyncio.Event()
        self._first_scan = True
        self.records_processed = 0

    @property
    def positions(self) -> dict[str, str]:
        """The last sequence number handled, per shard."""
        return dict(self._positions)

    @property
    def finished_shards(self) -> set[str]:
        """Closed shards read to their end (or skipped, for a LATEST start)."""
        return set(self._finished)

    def stop(self) -> None:
        """Stop after the message being handled; `run()` returns."""
        self._stopping.set()

    def status(self) -> dict[str, Any]:
        """Positions and lag per shard, for admin endpoints."""
        return {
            "stream": self.stream,
            "records_processed": self.records_processed,
            "shards": {
                shard_id: {
                    "position": self._positions.get(shard_id),
                    "lag_ms": reader.millis_behind_latest,
                }
                for shard_id, reader in self._readers.items()
            },
            "finished": sorted(self._finished),
        }

    async def run(self) -> None:
        """Read until `stop()` or cancellation."""
        session = runtime_session(self._session)
        async with AsyncExitStack() as stack:
            kinesis = await stack.enter_async_context(
                session.client("kinesis", config=client_config())
            )
            try:
                while not self._stopping.is_set():
                    await self._scan(kinesis)
                    self._rescan.clear()
                    waits = [
                        asyncio.ensure_future(self._stopping.wait()),
                        asyncio.ensure_future(self._rescan.wait()),
                    ]
                    await asyncio.wait(
                        waits,
                        timeout=self.config.scan_interval_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for waiter in waits:
                        waiter.cancel()
            finally:
                tasks = list(self._tasks.values())
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*tasks, return_exceptions=True)

    async def _scan(self, kinesis: Any) -> None:
        try:
            shards = await list_shards(kinesis, self.stream_name)
        except Exception as exc:
            if not is_transient(exc):
                ERRORS.labels("stream_reader_scan").inc()
            log.warning("shard scan failed", extra={"stream": self.stream_name, "error": repr(exc)})
            return
        if self._first_scan and self.start == "LATEST":
            # From now on: closed shards hold only the past.
            self._finished.update(
                s.shard_id for s in shards if s.closed and s.shard_id not in self._positions
            )
        for shard in ready_shards(shards, self._finished):
            reader = self._readers.get(shard.shard_id)
            if reader is not None:
                reader.closed = reader.closed or shard.closed
                continue
            start = self.start if self._first_scan else "TRIM_HORIZON"
            self._start(kinesis, shard, start)
        self._first_scan = False

    def _start(self, kinesis: Any, shard: ShardInfo, start: str) -> None:
        reader = ShardReader(
            kinesis,
            self.stream_name,
            shard.shard_id,
            after=self._positions.get(shard.shard_id),
            start=start,
            closed=shard.closed,
            config=self.config,
        )
        self._readers[shard.shard_id] = reader
        self._tasks[shard.shard_id] = asyncio.create_task(
            self._read_shard(reader), name=f"read:{shard.shard_id}"
        )

    async def _read_shard(self, reader: ShardReader) -> None:
        shard_id = reader.shard_id
        records_metric = RECORDS_PROCESSED.labels(self.stream, self.name)
        lag_metric = STREAM_LAG_MS.labels(self.stream, shard_id)
        try:
            while not self._stopping.is_set():
                batch = await reader.read(self._stopping)
                if batch.millis_behind_latest is not None:
                    lag_metric.set(batch.millis_behind_latest)
                for record in batch.records:
                    sequence_number = record["SequenceNumber"]
                    try:
                        messages = decode_record(record["Data"])
                    except RecordFormatError as exc:
                        ERRORS.labels("stream_record_format").inc()
                        log.error(
                            "skipping an unreadable stream record",
                            extra={
                                "stream": self.stream_name,
                                "shard": shard_id,
                                "sequence_number": sequence_number,
                                "error": str(exc),
                            },
                        )
                        messages = []
                    arrival = record.get("ApproximateArrivalTimestamp")
                    arrival_ms = int(arrival.timestamp() * 1000) if arrival is not None else None
                    for index, message in enumerate(messages):
                        result = self.handler(
                            message, RecordPosition(shard_id, sequence_number, index, arrival_ms)
                        )
                        if inspect.isawaitable(result):
                            await result
                    self._positions[shard_id] = sequence_number
                    self.records_processed += 1
                records_metric.inc(len(batch.records))
                if batch.end_of_shard:
                    self._finished.add(shard_id)
                    log.info(
                        "shard read to its end",
                        extra={"stream": self.stream_name, "shard": shard_id},
                    )
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            ERRORS.labels("stream_reader").inc()
            # The next scan starts the shard again from its last position.
            log.exception(
                "stream reader failed on a shard",
                extra={"stream": self.stream_name, "shard": shard_id},
            )
        finally:
            self._readers.pop(shard_id, None)
            self._tasks.pop(shard_id, None)
            self._rescan.set()

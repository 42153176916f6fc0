"""`StreamProducer`: batched, ordered, retrying writes of messages to one Kinesis stream.

How it keeps order per partition key (the matching engine's output per symbol must stay in order):
- messages wait in one FIFO per partition key; a record packs a prefix of that FIFO;
- a key has at most one record in flight, so a PutRecords call carries at most one record per key;
- a record that fails is retried (with backoff) before any later message of its key is packed.
Kinesis then stores each key's records in the order they were sent. A whole call that fails on a
dropped connection may have been written anyway; it is retried, so a record can appear twice
(consumers are idempotent, DESIGN.md rule 5), but never out of order after the first copy.

`flush()` (or `wait_durable(mark)`) returns only once everything put before it is acknowledged by
Kinesis: the shard worker's checkpoint-after-publish rule rests on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.common.metrics import ERRORS, MESSAGES_PUBLISHED
from services.common.serialization import MAX_ENVELOPE_OVERHEAD, encode_message, pack_encoded
from services.common.streams.config import ProducerConfig
from services.common.streams.retry import backoff_delay, error_code, is_transient

log = logging.getLogger(__name__)

PublishGuard = Callable[[], Awaitable[None]]
"""Awaited before every PutRecords call; it may wait, and raises to forbid publishing."""


class ProducerFailed(Exception):
    """The producer stopped for good: a non-transient AWS error, its guard refused (lease lost),
    or it was aborted. Buffered messages were not all written."""


class MessageTooLarge(ValueError):
    """One message does not fit in a Kinesis record (1 MiB including the partition key)."""


@dataclass(slots=True)
class _Record:
    data: bytes
    first_seq: int
    count: int
    message_bytes: int


@dataclass(slots=True)
class _KeyQueue:
    key: str
    key_bytes: int
    messages: deque[tuple[int, bytes]] = field(default_factory=deque)
    first_put_at: float = 0.0
    record: _Record | None = None
    in_flight: bool = False
    waiting_retry: bool = False
    attempts: int = 0

    def low_seq(self) -> int:
        return self.record.first_seq if self.record is not None else self.messages[0][0]


@dataclass(slots=True)
class ProducerStats:
    """Counters for tests, benchmarks and status pages."""

    calls: int = 0
    records: int = 0
    messages: int = 0
    failed_records: int = 0
    failed_calls: int = 0


class StreamProducer:
    """Writes messages to one Kinesis stream in batches, in order per partition key.

    `kinesis` is an aioboto3 Kinesis client (shared freely); `stream_name` the physical stream
    name. Start it implicitly with the first `put`; finish with `close()` (or `async with`).
    """

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        *,
        config: ProducerConfig | None = None,
        guard: PublishGuard | None = None,
        metrics_stream: str | None = None,
    ) -> None:
        self._kinesis = kinesis
        self.stream_name = stream_name
        self._config = config or ProducerConfig()
        self._guard = guard
        self._metrics = MESSAGES_PUBLISHED.labels(metrics_stream or stream_name)
        self.stats = ProducerStats()

        self._keys: dict[str, _KeyQueue] = {}
        self._ready: dict[str, None] = {}  # ordered set: keys that can go in the next call
        self._ready_oldest = 0.0
        self._retry_heap: list[tuple[float, int, str]] = []
        self._retry_tiebreak = itertools.count()
        self._next_seq = 1
        self._buffered_messages = 0
        self._buffered_bytes = 0
        self._unpacked_bytes = 0
        self._in_flight_calls = 0

        self._wakeup = asyncio.Event()
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._durable_waiters: list[tuple[int, str | None, asyncio.Future[None]]] = []
        self._send_tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._error: ProducerFailed | None = None
        self._closing = False

    # ------------------------------------------------------------------ public API

    @property
    def last_put(self) -> int:
        """A mark for `wait_durable`: the number of messages put so far."""
        return self._next_seq - 1

    @property
    def buffered(self) -> int:
        """Messages put but not yet acknowledged by Kinesis."""
        return self._buffered_messages

    @property
    def failure(self) -> BaseException | None:
        """Why the producer stopped, if it did."""
        return self._failure

    async def put(self, partition_key: str, message: dict[str, Any]) -> int:
        """Queue `message` for `partition_key`; returns its number (a mark for `wait_durable`).
        Waits while the buffer is full (backpressure). Raises `ProducerFailed` once the producer
        has failed, `MessageTooLarge` for a message that cannot fit in one record."""
        self._raise_if_unusable()
        encoded = encode_message(message)
        key_bytes = len(partition_key.encode())
        if not 1 <= len(partition_key) <= 256:
            raise ValueError("a partition key has 1 to 256 characters")
        if len(encoded) + key_bytes + MAX_ENVELOPE_OVERHEAD > self._config.max_record_bytes:
            raise MessageTooLarge(
                f"a {len(encoded)}-byte message does not fit in a "
                f"{self._config.max_record_bytes}-byte Kinesis record"
            )
        while self._is_full():
            waiter = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            self._wake()
            await waiter
            self._raise_if_unusable()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"producer:{self.stream_name}")

        seq = self._next_seq
        self._next_seq = seq + 1
        queue = self._keys.get(partition_key)
        if queue is None:
            queue = self._keys[partition_key] = _KeyQueue(partition_key, key_bytes)
        now = time.monotonic()
        if not queue.messages:
            queue.first_put_at = now
        queue.messages.append((seq, encoded))
        self._buffered_messages += 1
        self._buffered_bytes += len(encoded)
        self._unpacked_bytes += len(encoded)
        if not queue.in_flight and not queue.waiting_retry and partition_key not in self._ready:
            if not self._ready:
                self._ready_oldest = queue.first_put_at
                self._wake()
            self._ready[partition_key] = None
        if (
            len(self._ready) >= self._config.max_batch_records
            or self._unpacked_bytes >= self._config.max_batch_bytes
        ):
            self._wake()
        return seq

    async def wait_durable(self, mark: int, partition_key: str | None = None) -> None:
        """Return once every message up to `mark` (`last_put`, or a number `put` returned) is
        written to the stream; with `partition_key`, only that key's messages count (one request
        need not wait for another key's retries). Sends what is buffered without waiting for the
        linger. Raises `ProducerFailed`."""
        self._raise_if_failed()
        if self._is_durable(mark, partition_key):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._durable_waiters.append((mark, partition_key, waiter))
        self._wake()
        await waiter

    async def flush(self) -> None:
        """Return once everything put so far is durably written to the stream."""
        await self.wait_durable(self.last_put)

    async def close(self) -> None:
        """Write everything buffered, then stop. Raises `ProducerFailed` if that was impossible."""
        self._closing = True
        self._wake()
        try:
            if self._task is not None:
                await asyncio.shield(self._task)
        finally:
            await self._drain_send_tasks()
        self._raise_if_failed()

    async def abort(self, reason: str = "aborted") -> None:
        """Stop at once, dropping whatever is buffered (used when the lease is lost)."""
        self._closing = True
        if self._failure is None:
            self._fail(ProducerFailed(reason))
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._send_tasks):
            task.cancel()
        await self._drain_send_tasks()

    async def __aenter__(self) -> StreamProducer:
        return self

    async def __aexit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self.abort(f"closed by {exc_type}")

    # ------------------------------------------------------------------ the flush loop

    async def _run(self) -> None:
        config = self._config
        try:
            while self._failure is None:
                if self._closing and self._buffered_messages == 0 and self._in_flight_calls == 0:
                    return
                now = time.monotonic()
                next_retry = self._release_due_retries(now)
                if not self._ready or self._in_flight_calls >= config.max_in_flight:
                    await self._sleep(None if next_retry is None else next_retry - now)
                    continue
                send_at = self._ready_oldest + config.linger_s
                if send_at > now and not self._urgent():
                    wait = send_at - now
                    if next_retry is not None:
                        wait = min(wait, next_retry - now)
                    await self._sleep(wait)
                    continue
                batch = self._take_batch()
                self._in_flight_calls += 1
                task = asyncio.create_task(self._send(batch))
                self._send_tasks.add(task)
                task.add_done_callback(self._send_tasks.discard)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must fail the producer loudly, not hang flush()
            log.exception("stream producer loop failed", extra={"stream": self.stream_name})
            self._fail(exc)

    def _urgent(self) -> bool:
        return bool(
            self._closing
            or self._durable_waiters
            or self._space_waiters
            or len(self._ready) >= self._config.max_batch_records
            or self._unpacked_bytes >= self._config.max_batch_bytes
        )

    async def _sleep(self, timeout: float | None) -> None:
        self._wakeup.clear()
        if timeout is not None and timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _wake(self) -> None:
        self._wakeup.set()

    def _release_due_retries(self, now: float) -> float | None:
        heap = self._retry_heap
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            queue = self._keys[key]
            queue.waiting_retry = False
            self._ready_oldest = 0.0  # a retry is overdue by definition
            self._ready[key] = None
        return heap[0][0] if heap else None

    def _take_batch(self) -> list[_KeyQueue]:
        config = self._config
        batch: list[_KeyQueue] = []
        total = 0
        for key in list(self._ready):
            queue = self._keys[key]
            if queue.record is None:
                queue.record = self._pack(queue)
            size = len(queue.record.data) + queue.key_bytes
            if batch and (
                len(batch) >= config.max_batch_records or total + size > config.max_batch_bytes
            ):
                break
            del self._ready[key]
            queue.in_flight = True
            batch.append(queue)
            total += size
        if self._ready:
            self._ready_oldest = min(self._keys[k].first_put_at for k in self._ready)
        return batch

    def _pack(self, queue: _KeyQueue) -> _Record:
        config = self._config
        budget = config.max_record_bytes - queue.key_bytes - MAX_ENVELOPE_OVERHEAD
        messages = queue.messages
        first_seq = messages[0][0]
        parts: list[bytes] = []
        used = 0
        while messages and len(parts) < config.max_messages_per_record:
            size = len(messages[0][1])
            if parts and used + size > budget:
                break
            parts.append(messages.popleft()[1])
            used += size
        self._unpacked_bytes -= used
        if messages:
            queue.first_put_at = 0.0  # the rest spilled over a full record: send it next
        return _Record(pack_encoded(parts), first_seq, len(parts), used)

    async def _send(self, batch: list[_KeyQueue]) -> None:
        try:
            if self._guard is not None:
                try:
                    await self._guard()
                except Exception as exc:
                    log.warning(
                        "publishing refused, producer stopped",
                        extra={"stream": self.stream_name, "reason": str(exc)},
                    )
                    self._fail(exc)
                    return
            request = [{"Data": q.record.data, "PartitionKey": q.key} for q in batch if q.record]
            self.stats.calls += 1
            response = await self._kinesis.put_records(StreamName=self.stream_name, Records=request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._failure is None and is_transient(exc):
                self.stats.failed_calls += 1
                ERRORS.labels("put_records_call").inc()
                log.warning(
                    "PutRecords failed, retrying its records",
                    extra={"stream": self.stream_name, "records": len(batch), "error": repr(exc)},
                )
                for queue in batch:
                    self._schedule_retry(queue)
            else:
                if self._failure is None:
                    log.error(
                        "stream producer stopped",
                        extra={
                            "stream": self.stream_name,
                            "error": repr(exc),
                            "code": error_code(exc),
                        },
                    )
                self._fail(exc)
        else:
            failed = 0
            for queue, result in zip(batch, response["Records"], strict=True):
                if result.get("ErrorCode"):
                    failed += 1
                    self._schedule_retry(queue)
                else:
                    self._acknowledge(queue)
            if failed:
                self.stats.failed_records += failed
                ERRORS.labels("put_records_record").inc(failed)
                log.debug(
                    "PutRecords partially failed",
                    extra={"stream": self.stream_name, "failed": failed, "records": len(batch)},
                )
        finally:
            self._in_flight_calls -= 1
            self._after_send()

    def _acknowledge(self, queue: _KeyQueue) -> None:
        record = queue.record
        assert record is not None
        queue.record = None
        queue.in_flight = False
        queue.attempts = 0
        self._buffered_messages -= record.count
        self._buffered_bytes -= record.message_bytes
        self.stats.records += 1
        self.stats.messages += record.count
        self._metrics.inc(record.count)
        if queue.messages:
            if not self._ready:
                self._ready_oldest = queue.first_put_at
            else:
                self._ready_oldest = min(self._ready_oldest, queue.first_put_at)
            self._ready[queue.key] = None
        else:
            del self._keys[queue.key]

    def _schedule_retry(self, queue: _KeyQueue) -> None:
        queue.in_flight = False
        queue.waiting_retry = True
        delay = backoff_delay(
            queue.attempts, base_s=self._config.retry_base_s, cap_s=self._config.retry_cap_s
        )
        queue.attempts += 1
        heapq.heappush(
            self._retry_heap, (time.monotonic() + delay, next(self._retry_tiebreak), queue.key)
        )

    def _after_send(self) -> None:
        if self._durable_waiters and self._failure is None:
            low: int | None = None
            still: list[tuple[int, str | None, asyncio.Future[None]]] = []
            for mark, key, waiter in self._durable_waiters:
                if key is None:
                    if low is None:
                        low = self._low_water()
                    durable = mark < low
                else:
                    durable = self._is_durable(mark, key)
                if durable:
                    if not waiter.done():
                        waiter.set_result(None)
                else:
                    still.append((mark, key, waiter))
            self._durable_waiters = still
        while self._space_waiters and not self._is_full():
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        self._wake()

    # ------------------------------------------------------------------ bookkeeping

    def _is_durable(self, mark: int, partition_key: str | None) -> bool:
        if partition_key is None:
            return mark < self._low_water()
        queue = self._keys.get(partition_key)
        return queue is None or mark < queue.low_seq()

    def _low_water(self) -> int:
        """The lowest message number not yet acknowledged (all below it are durable)."""
        return min((q.low_seq() for q in self._keys.values()), default=self._next_seq)

    def _is_full(self) -> bool:
        return (
            self._buffered_messages >= self._config.max_buffered_messages
            or self._buffered_bytes >= self._config.max_buffered_bytes
        )

    def _fail(self, exc: BaseException) -> None:
        if self._failure is not None:
            return
        self._failure = exc
        if isinstance(exc, ProducerFailed):
            self._error = exc
        else:
            self._error = ProducerFailed(f"{self.stream_name}: {exc!r}")
            self._error.__cause__ = exc
        for _, _, waiter in self._durable_waiters:
            if not waiter.done():
                waiter.set_exception(self._error)
        self._durable_waiters = []
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._error)
        self._wake()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _raise_if_unusable(self) -> None:
        self._raise_if_failed()
        if self._closing:
            raise ProducerFailed(f"{self.stream_name}: producer is closed")

    async def _drain_send_tasks(self) -> None:
        if self._send_tasks:
            await asyncio.gather(*list(self._send_tasks), return_exceptions=True)

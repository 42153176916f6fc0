"""StreamProducer against the moto server: batching, packing, order per key under failures,
record size limits, backpressure, flush semantics."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from services.common.aws import aio_session, client_config
from services.common.resources import physical_name
from services.common.streams import MessageTooLarge, ProducerConfig, ProducerFailed, StreamProducer
from services.common.streams.lease import LeaseLost
from tests.common.stream_support import read_stream


class FlakyKinesis:
    """A real client whose PutRecords fails some records (without writing them), throttles some
    whole calls, and drops the connection after writing some others. Checks one record per key."""

    def __init__(
        self,
        real: Any,
        *,
        record_failures: float = 0.0,
        throttled_calls: float = 0.0,
        throttle_every: int = 0,
        dropped_after_write: float = 0.0,
        seed: int = 7,
    ) -> None:
        self.real = real
        self.record_failures = record_failures
        self.throttled_calls = throttled_calls
        self.throttle_every = throttle_every
        self.dropped_after_write = dropped_after_write
        self.rng = random.Random(seed)
        self.calls: list[list[str]] = []
        self.record_sizes: list[int] = []
        self.gate: asyncio.Event | None = None
        self.failing_keys: set[str] = set()

    async def put_records(
        self, *, StreamName: str, Records: list[dict[str, Any]]
    ) -> dict[str, Any]:
        if self.gate is not None:
            await self.gate.wait()
        keys = [r["PartitionKey"] for r in Records]
        assert len(keys) <= 500
        assert len(set(keys)) == len(keys), "two records of one partition key in one call"
        assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in Records) <= 5 * 1024 * 1024
        self.calls.append(keys)
        self.record_sizes.extend(len(r["Data"]) + len(r["PartitionKey"]) for r in Records)
        every = self.throttle_every
        if (every and len(self.calls) % every == 0) or self.rng.random() < self.throttled_calls:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ProvisionedThroughputExceededException",
                        "Message": "slow down",
                    }
                },
                "PutRecords",
            )
        failing = [
            r["PartitionKey"] in self.failing_keys or self.rng.random() < self.record_failures
            for r in Records
        ]
        passing = [r for r, fail in zip(Records, failing, strict=True) if not fail]
        written = (
            await self.real.put_records(StreamName=StreamName, Records=passing)
            if passing
            else {"Records": []}
        )
        if self.rng.random() < self.dropped_after_write:
            raise ConnectionClosedError(endpoint_url="http://moto")
        results = iter(written["Records"])
        merged = [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}
            if fail
            else next(results)
            for fail in failing
        ]
        return {"FailedRecordCount": sum(failing), "Records": merged}


@pytest.fixture
async def kinesis(local_aws: str) -> AsyncIterator[Any]:
    async with aio_session().client("kinesis", config=client_config()) as client:
        yield client


def _messages_by_key(prefix: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for _, _, partition_key, message in read_stream(prefix, "executions"):
        assert message["key"] == partition_key
        out.setdefault(partition_key, []).append(message["n"])
    return out


async def _put_all(producer: StreamProducer, keys: int, per_key: int, *, size: int = 0) -> None:
    pad = "x" * size
    for n in range(per_key):
        for k in range(keys):
            await producer.put(f"k{k}", {"key": f"k{k}", "n": n, "pad": pad})


async def test_batches_pack_messages_of_a_key_into_records(aws_prefix: str, kinesis: Any) -> None:
    flaky = FlakyKinesis(kinesis)
    producer = StreamProducer(flaky, physical_name(aws_prefix, "executions"))
    await _put_all(producer, keys=20, per_key=100)
    await producer.close()
    assert producer.stats.messages == 2000
    assert producer.stats.records < 2000 / 10, "messages of one key share records"
    assert producer.stats.calls == len(flaky.calls) < 20
    assert _messages_by_key(aws_prefix) == {f"k{k}": list(range(100)) for k in range(20)}


async def test_order_per_key_survives_failed_records_and_throttled_calls(
    aws_prefix: str, kinesis: Any
) -> None:
    flaky = FlakyKinesis(kinesis, record_failures=0.3, throttle_every=4)
    config = ProducerConfig(linger_s=0.002, retry_base_s=0.005, retry_cap_s=0.05)
    producer = StreamProducer(flaky, physical_name(aws_prefix, "executions"), config=config)
    for n in range(150):
        for k in range(30):
            await producer.put(f"k{k}", {"key": f"k{k}", "n": n})
        if n % 10 == 0:
            await asyncio.sleep(0.003)  # let batches go out while more arrive
    await producer.flush()
    assert producer.stats.failed_records > 10 and producer.stats.failed_calls > 0
    assert producer.buffered == 0
    # Failed records are never written, so no duplicates; and each key is in put() order.
    assert _messages_by_key(aws_prefix) == {f"k{k}": list(range(150)) for k in range(30)}
    await producer.close()


async def test_a_call_that_fails_after_writing_duplicates_but_never_reorders(
    aws_prefix: str, kinesis: Any
) -> None:
    flaky = FlakyKinesis(kinesis, dropped_after_write=0.3, record_failures=0.1)
    config = ProducerConfig(linger_s=0.001, retry_base_s=0.005, retry_cap_s=0.05)
    producer = StreamProducer(flaky, physical_name(aws_prefix, "executions"), config=config)
    for n in range(60):
        for k in range(10):
            await producer.put(f"k{k}", {"key": f"k{k}", "n": n})
        await asyncio.sleep(0.002)
    await producer.close()
    written = _messages_by_key(aws_prefix)
    for key, seen in written.items():
        assert list(dict.fromkeys(seen)) == list(range(60)), key  # first copies in put() order
    assert sum(len(seen) for seen in written.values()) > 600, "some records were written twice"
    assert producer.stats.failed_calls > 0


async def test_records_respect_the_one_mib_limit(aws_prefix: str, kinesis: Any) -> None:
    flaky = FlakyKinesis(kinesis)
    producer = StreamProducer(flaky, physical_name(aws_prefix, "executions"))
    await _put_all(producer, keys=2, per_key=25, size=100_000)
    with pytest.raises(MessageTooLarge):
        await producer.put("k0", {"key": "k0", "pad": "x" * (1024 * 1024)})
    await producer.close()
    assert max(flaky.record_sizes) <= 1024 * 1024
    assert producer.stats.records >= 2 * 3  # 2.5 MB per key needs at least 3 records each
    assert _messages_by_key(aws_prefix) == {"k0": list(range(25)), "k1": list(range(25))}


async def test_put_waits_while_the_buffer_is_full(aws_prefix: str, kinesis: Any) -> None:
    flaky = FlakyKinesis(kinesis)
    flaky.gate = asyncio.Event()
    producer = StreamProducer(
        flaky,
        physical_name(aws_prefix, "executions"),
        config=ProducerConfig(max_buffered_messages=10, linger_s=0.001),
    )
    for n in range(10):
        await producer.put("k0", {"key": "k0", "n": n})
    blocked = asyncio.create_task(producer.put("k0", {"key": "k0", "n": 10}))
    await asyncio.sleep(0.2)
    assert not blocked.done(), "put() must wait while the buffer is full"
    flush = asyncio.create_task(producer.flush())
    await asyncio.sleep(0.1)
    assert not flush.done(), "flush() returns only once Kinesis acknowledged"
    flaky.gate.set()
    await asyncio.wait_for(blocked, 5)
    await asyncio.wait_for(flush, 5)
    await producer.close()
    assert _messages_by_key(aws_prefix) == {"k0": list(range(11))}


async def test_close_writes_what_is_still_lingering(aws_prefix: str, kinesis: Any) -> None:
    producer = StreamProducer(
        kinesis, physical_name(aws_prefix, "executions"), config=ProducerConfig(linger_s=30)
    )
    await _put_all(producer, keys=3, per_key=5)
    await asyncio.sleep(0.05)
    assert producer.stats.calls == 0  # still lingering
    await asyncio.wait_for(producer.close(), 5)
    assert _messages_by_key(aws_prefix) == {f"k{k}": list(range(5)) for k in range(3)}
    with pytest.raises(ProducerFailed):
        await producer.put("k0", {"key": "k0", "n": 99})


async def test_a_permanent_error_fails_flush_and_put(local_aws: str, kinesis: Any) -> None:
    producer = StreamProducer(kinesis, "no-such-stream")
    await producer.put("k0", {"n": 1})
    with pytest.raises(ProducerFailed, match="ResourceNotFound"):
        await producer.flush()
    with pytest.raises(ProducerFailed):
        await producer.put("k0", {"n": 2})
    with pytest.raises(ProducerFailed):
        await producer.close()


async def test_a_refusing_guard_stops_publishing(aws_prefix: str, kinesis: Any) -> None:
    async def lease_gone() -> None:
        raise LeaseLost("someone else owns the shard")

    producer = StreamProducer(kinesis, physical_name(aws_prefix, "executions"), guard=lease_gone)
    await producer.put("k0", {"key": "k0", "n": 0})
    with pytest.raises(ProducerFailed, match="someone else"):
        await producer.flush()
    await producer.abort()
    assert read_stream(aws_prefix, "executions") == []


async def test_waiting_for_one_key_ignores_another_keys_retries(
    aws_prefix: str, kinesis: Any
) -> None:
    flaky = FlakyKinesis(kinesis)
    flaky.failing_keys.add("stuck")
    config = ProducerConfig(linger_s=0.001, retry_base_s=0.01, retry_cap_s=0.05)
    producer = StreamProducer(flaky, physical_name(aws_prefix, "executions"), config=config)
    await producer.put("stuck", {"key": "stuck", "n": 0})
    mark = await producer.put("fast", {"key": "fast", "n": 0})
    await asyncio.wait_for(producer.wait_durable(mark, "fast"), 2)
    everything = asyncio.create_task(producer.flush())
    await asyncio.sleep(0.2)
    assert not everything.done(), "the stuck key's message is not written yet"
    flaky.failing_keys.clear()
    await asyncio.wait_for(everything, 5)
    await producer.close()
    assert _messages_by_key(aws_prefix) == {"stuck": [0], "fast": [0]}

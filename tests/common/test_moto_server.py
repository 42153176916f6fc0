"""The patched moto used locally: no lost records under concurrent writes, and reads that return
exactly what moto's own code returns."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from services.common.aws import aio_session, client_config
from services.common.local_aws import free_port, local_aws_environment, wait_until_up
from services.common.moto_server import _get_records, patch_moto


def test_fast_reads_return_what_moto_returns() -> None:
    from moto.kinesis.models import Shard

    patch_moto()
    original = Shard.get_records.__wrapped__  # type: ignore[attr-defined]
    shard = Shard(0, 0, 2**128 - 1)
    for i in range(300):
        shard.put_record(f"k{i % 7}", f"data{i}", "")
    assert shard.get_max_sequence_number() == 300
    rng = random.Random(3)
    for _ in range(300):
        after = str(rng.randint(0, 320))
        limit = rng.choice([None, 1, 5, 100, 1000])
        fast = _get_records(original, shard, after, limit)
        slow = original(shard, after, limit)
        assert [r.sequence_number for r in fast[0]] == [r.sequence_number for r in slow[0]]
        assert fast[1:] == slow[1:], (after, limit)


@pytest.fixture
def patched_moto() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.common.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_until_up(endpoint)
        yield endpoint
    finally:
        process.kill()
        process.wait()


async def test_concurrent_writes_to_one_shard_lose_nothing(
    patched_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in local_aws_environment(patched_moto).items():
        monkeypatch.setenv(key, value)
    kinesis = boto3.client("kinesis", config=client_config())
    kinesis.create_stream(StreamName="race", ShardCount=1)
    for _ in range(10):  # a long shard makes moto's unpatched critical section long
        kinesis.put_records(
            StreamName="race", Records=[{"Data": b"x", "PartitionKey": f"p{j}"} for j in range(500)]
        )
    async with aio_session().client("kinesis", config=client_config()) as client:

        async def put(i: int) -> list[str]:
            records = [{"Data": f"{i}-{j}".encode(), "PartitionKey": f"p{j}"} for j in range(20)]
            response: dict[str, Any] = await client.put_records(StreamName="race", Records=records)
            return [r["SequenceNumber"] for r in response["Records"]]

        acked = [
            seq for batch in await asyncio.gather(*(put(i) for i in range(40))) for seq in batch
        ]
    assert len(set(acked)) == len(acked) == 800
    iterator = kinesis.get_shard_iterator(
        StreamName="race", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    stored = kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    assert len(stored) == 5800

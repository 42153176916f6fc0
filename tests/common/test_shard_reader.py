"""ShardReader against a scripted client: transient errors, expired iterators, idle backoff, and the
end of a closed shard (with and without NextShardIterator)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from services.common.streams import RuntimeConfig, ShardReader


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetRecords")


class ScriptedKinesis:
    """Answers GetRecords from a script of responses and exceptions; records iterator requests."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.iterator_requests: list[dict[str, Any]] = []
        self.calls = 0

    async def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.iterator_requests.append(kwargs)
        return {"ShardIterator": f"it-{len(self.iterator_requests)}"}

    async def get_records(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def records(*seqs: int, behind: int = 0, next_iterator: str | None = "next") -> dict[str, Any]:
    response: dict[str, Any] = {
        "Records": [{"SequenceNumber": str(s), "Data": b"", "PartitionKey": "k"} for s in seqs],
        "MillisBehindLatest": behind,
    }
    if next_iterator is not None:
        response["NextShardIterator"] = next_iterator
    return response


FAST = RuntimeConfig(idle_poll_min_s=0.001, idle_poll_max_s=0.004)


async def test_transient_errors_are_retried_and_an_expired_iterator_is_renewed() -> None:
    kinesis = ScriptedKinesis(
        [
            ConnectionClosedError(endpoint_url="http://moto"),
            client_error("ProvisionedThroughputExceededException"),
            records(1, 2),
            client_error("ExpiredIteratorException"),
            records(3),
        ]
    )
    reader = ShardReader(kinesis, "s", "shard-0", after="0", config=FAST)
    first = await reader.read()
    assert [r["SequenceNumber"] for r in first.records] == ["1", "2"]
    second = await reader.read()
    assert [r["SequenceNumber"] for r in second.records] == ["3"]
    assert [r.get("StartingSequenceNumber") for r in kinesis.iterator_requests] == ["0", "2"]
    assert kinesis.iterator_requests[1]["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"


async def test_a_permanent_error_is_raised() -> None:
    reader = ShardReader(
        ScriptedKinesis([client_error("ResourceNotFoundException")]), "s", "shard-0"
    )
    with pytest.raises(ClientError):
        await reader.read()


async def test_idle_reads_back_off_and_records_reset_the_pause() -> None:
    config = RuntimeConfig(idle_poll_min_s=0.02, idle_poll_max_s=0.08)
    kinesis = ScriptedKinesis([records(), records(), records(), records(), records(1), records()])
    reader = ShardReader(kinesis, "s", "shard-0", config=config)
    pauses = []
    for _ in range(6):
        started = time.monotonic()
        await reader.read()
        pauses.append(time.monotonic() - started)
    # before each read: 0, then 20, 40, 80 ms (capped) after empty reads, 0 after records
    assert pauses[1] >= 0.018 and pauses[2] >= 0.038 and pauses[3] >= 0.078
    assert 0.078 <= pauses[4] < 0.078 + 0.1  # the cap holds
    assert pauses[0] < 0.05 and pauses[5] < 0.05


async def test_a_closed_shard_ends_without_iterator_or_when_caught_up() -> None:
    aws = ShardReader(
        ScriptedKinesis([records(7, next_iterator=None)]), "s", "shard-0", config=FAST
    )
    assert (await aws.read()).end_of_shard  # Kinesis: no NextShardIterator after the last record

    moto = ShardReader(
        ScriptedKinesis([records(7), records(behind=5), records()]), "s", "shard-0", config=FAST
    )
    assert not (await moto.read()).end_of_shard
    moto.closed = True  # ListShards now shows an EndingSequenceNumber
    assert not (await moto.read()).end_of_shard  # empty but behind the tip: not the end yet
    assert (await moto.read()).end_of_shard


async def test_a_read_at_the_tip_waits_before_the_next_while_a_shard_behind_is_read_at_once() -> (
    None
):
    config = RuntimeConfig(tip_poll_interval_s=0.2, idle_poll_min_s=0.001, idle_poll_max_s=0.004)
    kinesis = ScriptedKinesis([records(1, behind=500), records(2), records(3)])
    reader = ShardReader(kinesis, "s", "shardId-0", config=config)
    await reader.read()  # behind the tip: the next read follows at once
    started = time.monotonic()
    await reader.read()  # reached the tip: the next read waits
    assert time.monotonic() - started < 0.1
    started = time.monotonic()
    await reader.read()
    assert time.monotonic() - started >= 0.19

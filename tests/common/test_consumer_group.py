"""Consumer groups on the moto server: one owner per shard, takeover after a SIGKILL, fencing of a
SIGSTOPped owner, resharding parent-before-child, and lease-free readers."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.common.aws import client_config
from services.common.resources import init_aws, physical_name
from services.common.streams import (
    ConsumerGroup,
    LeaseConfig,
    RecordPosition,
    RuntimeConfig,
    ShardInfo,
    StreamReader,
    ready_shards,
)
from tests.common.stream_support import (
    ToyWorkers,
    by_key,
    checkpoint_reached,
    dedupe,
    lease_items,
    make_inputs,
    put_inputs,
    read_stream,
    stop_process,
    wait_for,
)
from tests.common.toy_machine import RunningSumFactory, run_uninterrupted

SHARD = "shardId-000000000000"
LEASE_S = 3.0
SCAN_S = 0.5


@pytest.fixture
def toy_workers(aws_prefix: str, tmp_path: Path) -> Iterator[ToyWorkers]:
    with ToyWorkers(aws_prefix, tmp_path) as workers:
        yield workers


@pytest.fixture
def two_shard_prefix(local_aws: str) -> str:
    prefix = "t" + uuid.uuid4().hex[:10]
    init_aws(prefix, shards=2)
    return prefix


def fast_config(**overrides: Any) -> RuntimeConfig:
    settings: dict[str, Any] = {
        "lease": LeaseConfig(duration_s=LEASE_S),
        "scan_interval_s": SCAN_S,
        "checkpoint_interval_s": 0.1,
        "idle_poll_max_s": 0.1,
        **overrides,
    }
    return RuntimeConfig(**settings)


def outputs(prefix: str) -> list[dict[str, Any]]:
    return [message for *_, message in read_stream(prefix, "executions")]


def owner_of(prefix: str, shard: str = SHARD) -> str | None:
    return lease_items(prefix, "toy").get(shard, {}).get("owner")


def has_event(workers: ToyWorkers, owner: str, message: str) -> dict[str, Any] | None:
    return next((e for e in workers.log(owner) if e.get("message") == message), None)


def test_ready_shards_puts_parents_before_children() -> None:
    # 0 split into 1 and 2; 1 and 2 merged into 3. Shard 9's parent aged out of the stream.
    shards = [
        ShardInfo("s0", (), closed=True),
        ShardInfo("s1", ("s0",), closed=True),
        ShardInfo("s2", ("s0",), closed=True),
        ShardInfo("s3", ("s1", "s2")),
        ShardInfo("s9", ("gone",)),
    ]
    ids = lambda finished: [s.shard_id for s in ready_shards(shards, finished)]  # noqa: E731
    assert ids(set()) == ["s0", "s9"]
    assert ids({"s0"}) == ["s1", "s2", "s9"]
    assert ids({"s0", "s1"}) == ["s2", "s9"]  # a merge waits for both parents
    assert ids({"s0", "s1", "s2"}) == ["s3", "s9"]


async def test_two_members_on_one_shard_exactly_one_processes(aws_prefix: str) -> None:
    inputs = make_inputs(300, keys=4)
    tips = put_inputs(aws_prefix, inputs)
    members = [
        ConsumerGroup(
            group="toy",
            stream="matching",
            factory=RunningSumFactory(),
            prefix=aws_prefix,
            owner=name,
            config=fast_config(),
        )
        for name in ("a", "b")
    ]
    tasks = [asyncio.create_task(m.run()) for m in members]
    try:
        async with asyncio.timeout(20):
            while not any(
                w["checkpoint"] == tips[SHARD] for m in members for w in m.status()["workers"]
            ):
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # several scans: the other member must not take the lease
        owning = [m.owner for m in members if m.workers]
        assert len(owning) == 1
        idle = next(m for m in members if not m.workers)
        assert idle.status()["leases"][SHARD]["owner"] == owning[0]
    finally:
        for member in members:
            member.stop()
        await asyncio.gather(*tasks)
    published = outputs(aws_prefix)
    assert len(published) == 300 and by_key(published) == by_key(run_uninterrupted(inputs))


async def test_members_share_shards_up_to_max_leases(two_shard_prefix: str) -> None:
    prefix = two_shard_prefix
    inputs = make_inputs(400, keys=16)
    tips = put_inputs(prefix, inputs)
    assert len(tips) == 2
    config = fast_config(max_leases=1)
    members = [
        ConsumerGroup(
            group="toy",
            stream="matching",
            factory=RunningSumFactory(),
            prefix=prefix,
            owner=name,
            config=config,
        )
        for name in ("a", "b")
    ]
    tasks = [asyncio.create_task(m.run()) for m in members]
    try:
        async with asyncio.timeout(20):
            while not checkpoint_reached(prefix, tips):
                await asyncio.sleep(0.1)
        assert sorted(len(m.workers) for m in members) == [1, 1]
    finally:
        for member in members:
            member.stop()
        await asyncio.gather(*tasks)
    published = outputs(prefix)
    assert len(published) == 400 and by_key(published) == by_key(run_uninterrupted(inputs))


def test_a_killed_owner_is_taken_over_from_its_checkpoint(
    aws_prefix: str, toy_workers: ToyWorkers
) -> None:
    args = ("--lease-duration", str(LEASE_S), "--scan-interval", str(SCAN_S), "--get-limit", "10")
    a = toy_workers.start("a", *args)
    wait_for(lambda: owner_of(aws_prefix) == "a", what="a to own the shard")
    b = toy_workers.start("b", *args)
    wait_for(
        lambda: has_event(toy_workers, "b", "consumer group member started"), what="b to start"
    )

    inputs = make_inputs(600, keys=5)
    tips = put_inputs(aws_prefix, inputs)
    wait_for(
        lambda: int(lease_items(aws_prefix, "toy")[SHARD].get("checkpoint", 0)) > 0, interval=0.02
    )
    a.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert a.wait(5) == -signal.SIGKILL
    checkpoint_at_kill = lease_items(aws_prefix, "toy")[SHARD]["checkpoint"]
    assert int(checkpoint_at_kill) < int(tips[SHARD]), "a was killed in the middle of the work"

    wait_for(
        lambda: owner_of(aws_prefix) == "b",
        timeout=LEASE_S + 5,
        interval=0.05,
        what="b to take over",
    )
    takeover_s = time.monotonic() - killed_at
    print(f"takeover {takeover_s:.2f}s after SIGKILL (lease {LEASE_S}s, scan {SCAN_S}s)")
    assert takeover_s <= LEASE_S + SCAN_S + 2.0
    started = has_event(toy_workers, "b", "shard worker started")
    assert (
        started is not None
        and started["checkpoint"] == checkpoint_at_kill
        and started["fence"] == 2
    )

    wait_for(lambda: checkpoint_reached(aws_prefix, tips), timeout=30, what="b to catch up")
    assert stop_process(b) == 0
    assert by_key(dedupe(outputs(aws_prefix))) == by_key(run_uninterrupted(inputs))


def test_a_paused_owner_cannot_publish_or_checkpoint_after_it_resumes(
    aws_prefix: str, toy_workers: ToyWorkers
) -> None:
    args = ("--lease-duration", str(LEASE_S), "--scan-interval", str(SCAN_S))
    a = toy_workers.start("a", *args)
    wait_for(lambda: owner_of(aws_prefix) == "a", what="a to own the shard")
    b = toy_workers.start("b", *args)
    wait_for(
        lambda: has_event(toy_workers, "b", "consumer group member started"), what="b to start"
    )
    inputs = make_inputs(400, keys=5)

    tips = put_inputs(aws_prefix, inputs[:100])
    wait_for(lambda: checkpoint_reached(aws_prefix, tips), what="a to checkpoint everything")
    a.send_signal(signal.SIGSTOP)  # a is paused holding the lease, past its expiry
    wait_for(lambda: owner_of(aws_prefix) == "b", timeout=LEASE_S + 5, what="b to take over")

    tips = put_inputs(aws_prefix, inputs[100:300])  # a will see these when it resumes
    wait_for(lambda: checkpoint_reached(aws_prefix, tips), what="b to process the second batch")
    a.send_signal(signal.SIGCONT)
    lost = wait_for(
        lambda: has_event(toy_workers, "a", "lease lost"), timeout=LEASE_S + 2, what="a to notice"
    )
    assert (
        "conditional renew failed" in lost["reason"]
        or "conditional checkpoint failed" in lost["reason"]
    )

    tips = put_inputs(aws_prefix, inputs[300:])
    wait_for(lambda: checkpoint_reached(aws_prefix, tips), what="b to process the third batch")
    time.sleep(0.5)
    assert a.poll() is None, "a stays up (it just owns nothing)"
    item = lease_items(aws_prefix, "toy")[SHARD]
    assert (item["owner"], item["fence"]) == ("b", "2")

    published = outputs(aws_prefix)
    # a checkpointed all it had published before the pause, and b started from there: any copy
    # of an output would have come from a after it resumed.
    assert len(published) == len(dedupe(published)) == 400
    assert by_key(published) == by_key(run_uninterrupted(inputs))
    assert stop_process(a) == 0 and stop_process(b) == 0


async def test_a_split_shard_is_finished_before_its_children_start(aws_prefix: str) -> None:
    kinesis = boto3.client("kinesis", config=client_config())
    stream_name = physical_name(aws_prefix, "matching")
    inputs = make_inputs(400, keys=8)
    put_inputs(aws_prefix, inputs[:200])
    kinesis.split_shard(StreamName=stream_name, ShardToSplit=SHARD, NewStartingHashKey=str(2**127))
    put_inputs(aws_prefix, inputs[200:])
    # On AWS the parent keeps the records written before the split and the children get the
    # later ones. moto (5.2) keeps routing every record to the closed parent, whose hash range it
    # does not narrow, so here the children stay empty; what is checked is the order of work.
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    children = [s["ShardId"] for s in shards if s.get("ParentShardId") == SHARD]
    assert len(children) == 2
    assert "EndingSequenceNumber" in shards[0]["SequenceNumberRange"]  # the parent is closed
    tips: dict[str, str] = {}
    for shard, seq, *_ in read_stream(aws_prefix, "matching"):
        tips[shard] = seq

    def all_done() -> bool:
        items = lease_items(aws_prefix, "toy")
        return (
            checkpoint_reached(aws_prefix, tips)
            and items[SHARD].get("finished") is True
            and all(c in items for c in children)
        )

    group = ConsumerGroup(
        group="toy",
        stream="matching",
        factory=RunningSumFactory(),
        prefix=aws_prefix,
        config=fast_config(),
    )
    task = asyncio.create_task(group.run())
    try:
        async with asyncio.timeout(20):
            while not all_done():
                await asyncio.sleep(0.1)
    finally:
        group.stop()
        await task
    items = lease_items(aws_prefix, "toy")
    assert items[SHARD]["finished"] is True
    for child in children:
        assert int(items[child]["acquired_at"]) >= int(items[SHARD]["updated_at"])
    published = outputs(aws_prefix)
    assert len(published) == 400 and by_key(published) == by_key(run_uninterrupted(inputs))


async def test_a_reader_without_leases_reads_every_shard(two_shard_prefix: str) -> None:
    prefix = two_shard_prefix
    inputs = make_inputs(300, keys=10)
    put_inputs(prefix, inputs, stream="executions")
    seen: list[dict[str, Any]] = []
    positions: list[RecordPosition] = []

    now_ms = time.time() * 1000

    async def handle(message: dict[str, Any], position: RecordPosition) -> None:
        seen.append(message)
        positions.append(position)

    reader = StreamReader(
        "executions", handle, prefix=prefix, start="TRIM_HORIZON", config=fast_config()
    )
    latest: list[dict[str, Any]] = []
    late_reader = StreamReader(
        "executions",
        lambda m, _: latest.append(m),
        prefix=prefix,
        start="LATEST",
        config=fast_config(),
    )
    tasks = [asyncio.create_task(reader.run()), asyncio.create_task(late_reader.run())]
    try:
        async with asyncio.timeout(20):
            while len(seen) < 300 or len(late_reader.status()["shards"]) < 2:
                await asyncio.sleep(0.05)
            more = make_inputs(40, keys=10, start=300)
            put_inputs(prefix, more, stream="executions")
            while len(seen) < 340 or len(latest) < 40:
                await asyncio.sleep(0.05)
    finally:
        reader.stop()
        late_reader.stop()
        await asyncio.gather(*tasks)
    assert by_key(seen) == by_key(inputs + more)  # all of it, in order per key
    assert by_key(latest) == by_key(more)  # LATEST: only what arrived after the start
    assert set(reader.positions) == {p.shard_id for p in positions} and len(reader.positions) == 2
    assert lease_items(prefix, "reader") == {}  # no leases, no checkpoints
    assert all(abs((p.arrival_ms or 0) - now_ms) < 60_000 for p in positions)  # UTC epoch ms

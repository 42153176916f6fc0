"""Shard workers run by a consumer group on the moto server: processing, checkpoint after publish,
restart with replay, snapshots, and crashes at the worst moments (real processes)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.aws import aio_session, client_config
from services.common.resources import physical_name
from services.common.streams import ConsumerGroup, LeaseConfig, RuntimeConfig, SnapshotStore
from services.common.streams.state_machine import RecordPosition
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
from tests.common.toy_machine import RunningSum, RunningSumFactory, run_uninterrupted

SHARD = "shardId-000000000000"


@pytest.fixture
def toy_workers(aws_prefix: str, tmp_path: Path) -> Iterator[ToyWorkers]:
    with ToyWorkers(aws_prefix, tmp_path) as workers:
        yield workers


def fast_config(**overrides: Any) -> RuntimeConfig:
    settings: dict[str, Any] = {
        "lease": LeaseConfig(duration_s=3.0),
        "scan_interval_s": 0.3,
        "checkpoint_interval_s": 0.1,
        "checkpoint_every_records": 100,
        "idle_poll_max_s": 0.1,
        "snapshot_interval_s": 3600,
        **overrides,
    }
    return RuntimeConfig(**settings)


def outputs(prefix: str) -> list[dict[str, Any]]:
    return [message for *_, message in read_stream(prefix, "executions")]


async def run_until_checkpointed(
    group: ConsumerGroup, tip: str, *, timeout: float = 30.0
) -> dict[str, Any]:
    """Run `group` until its worker has checkpointed `tip`, then stop it gracefully."""
    task = asyncio.create_task(group.run())
    try:
        async with asyncio.timeout(timeout):
            while True:
                await asyncio.sleep(0.05)
                workers = group.status()["workers"]
                if workers and workers[0]["checkpoint"] == tip:
                    status = workers[0]
                    break
    finally:
        group.stop()
        await asyncio.wait_for(task, 15)
    return status


async def test_a_group_runs_the_machine_over_the_stream(aws_prefix: str) -> None:
    inputs = make_inputs(600, keys=7, run=3)
    tips = put_inputs(aws_prefix, inputs, per_record=3)  # several messages per record
    assert int(tips[SHARD]) == 200
    group = ConsumerGroup(
        group="toy",
        stream="matching",
        factory=RunningSumFactory(),
        prefix=aws_prefix,
        config=fast_config(),
    )
    status = await run_until_checkpointed(group, tips[SHARD])
    assert status["owner"] == group.owner and status["fence"] == 1 and status["lease"] == "valid"
    assert status["records_replayed"] == 0 and status["records_processed"] == int(tips[SHARD])

    published = outputs(aws_prefix)
    assert len(published) == len(inputs)  # nothing twice
    assert by_key(published) == by_key(run_uninterrupted(inputs))
    item = lease_items(aws_prefix, "toy")[SHARD]
    assert "owner" not in item and item["checkpoint"] == tips[SHARD]  # released, fully checkpointed
    assert item["snapshot_seq"] == tips[SHARD]  # final snapshot on graceful shutdown


async def test_a_restart_replays_up_to_the_checkpoint_without_publishing(aws_prefix: str) -> None:
    first = make_inputs(300, keys=4)
    tips = put_inputs(aws_prefix, first)
    config = fast_config(snapshot_on_shutdown=False, snapshot_every_records=10**9)
    await run_until_checkpointed(
        ConsumerGroup(
            group="toy",
            stream="matching",
            factory=RunningSumFactory(),
            prefix=aws_prefix,
            config=config,
        ),
        tips[SHARD],
    )
    second = make_inputs(100, keys=4, start=300)
    tips = put_inputs(aws_prefix, second)
    status = await run_until_checkpointed(
        ConsumerGroup(
            group="toy",
            stream="matching",
            factory=RunningSumFactory(),
            prefix=aws_prefix,
            config=config,
        ),
        tips[SHARD],
    )
    assert status["restored_from"] is None and status["records_replayed"] == 300
    assert status["fence"] == 2
    published = outputs(aws_prefix)
    assert len(published) == 400  # the replayed 300 were not published again
    assert by_key(published) == by_key(run_uninterrupted(first + second))  # state rebuilt by replay


async def test_snapshot_and_replay_restore_the_identical_state(aws_prefix: str) -> None:
    def group(**overrides: Any) -> ConsumerGroup:
        config = fast_config(**overrides)
        factory = RunningSumFactory()
        return ConsumerGroup(
            group="toy", stream="matching", factory=factory, prefix=aws_prefix, config=config
        )

    inputs = make_inputs(450, keys=6)
    tips = put_inputs(aws_prefix, inputs[:300])
    await run_until_checkpointed(
        group(snapshot_every_records=100, get_records_limit=50), tips[SHARD]
    )
    tips = put_inputs(aws_prefix, inputs[300:])
    await run_until_checkpointed(group(snapshot_on_shutdown=False), tips[SHARD])
    item = lease_items(aws_prefix, "toy")[SHARD]
    snapshot_seq = int(item["snapshot_seq"])
    assert snapshot_seq == 300 and item["checkpoint"] == "450"

    # The snapshot in S3 plus the records after its position rebuild exactly the state.
    async with aio_session().client("s3", config=client_config()) as s3:
        store = SnapshotStore(
            s3, physical_name(aws_prefix, "snapshots"), group="toy", stream="matching"
        )
        data = await store.load(item["snapshot_key"])
        listing = await s3.list_objects_v2(Bucket=physical_name(aws_prefix, "snapshots"))
    assert len(listing["Contents"]) <= RuntimeConfig().snapshots_kept  # older ones deleted
    machine = RunningSumFactory().restore(data)
    for message in inputs[snapshot_seq:]:
        machine.apply(message, RecordPosition(SHARD, "0"))
    reference = RunningSum()
    for message in inputs:
        reference.apply(message, RecordPosition(SHARD, "0"))
    assert machine.snapshot() == reference.snapshot()

    # A restarted worker starts from that snapshot and replays only the rest, silently.
    more = make_inputs(50, keys=6, start=450)
    tips = put_inputs(aws_prefix, more)
    status = await run_until_checkpointed(group(snapshot_on_shutdown=False), tips[SHARD])
    assert status["restored_from"] == str(snapshot_seq)
    assert status["records_replayed"] == 450 - snapshot_seq
    published = outputs(aws_prefix)
    assert len(published) == 500
    assert by_key(published) == by_key(run_uninterrupted(inputs + more))


@pytest.mark.parametrize(
    ("crash", "exit_code"),
    [
        (("--crash-before-checkpoint", "3"), 70),  # outputs published, checkpoint not written
        (("--crash-after-messages", "261"), 71),  # in the middle of a batch and of a record
    ],
    ids=["after-publish-before-checkpoint", "mid-batch"],
)
def test_a_crash_anywhere_loses_nothing(
    aws_prefix: str, toy_workers: ToyWorkers, crash: tuple[str, str], exit_code: int
) -> None:
    inputs = make_inputs(500, keys=5, run=2)
    tips = put_inputs(aws_prefix, inputs, per_record=2)
    args = (
        "--checkpoint-every",
        "40",
        "--snapshot-every",
        "120",
        "--fanout",
        "2",
        "--lease-duration",
        "2",
    )
    crashing = toy_workers.start("crashing", *args, *crash)
    assert crashing.wait(30) == exit_code
    before_restart = outputs(aws_prefix)
    assert before_restart, "the crashed worker had published something"

    restarted = toy_workers.start("restarted", *args)
    try:
        wait_for(
            lambda: checkpoint_reached(aws_prefix, tips),
            timeout=30,
            what="the restarted worker to catch up",
        )
    finally:
        assert stop_process(restarted, signal.SIGTERM) == 0
    published = outputs(aws_prefix)
    expected = run_uninterrupted(inputs, fanout=2)
    assert by_key(dedupe(published)) == by_key(expected)
    if exit_code == 70:
        assert len(published) > len(expected), (
            "outputs after the last checkpoint were published again"
        )
    item = lease_items(aws_prefix, "toy")[SHARD]
    assert item["fence"] == "2" and item["checkpoint"] == tips[SHARD]

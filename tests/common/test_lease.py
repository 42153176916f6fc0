"""ShardLease against DynamoDB on the moto server: one owner, fencing, validity, takeover rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.aws import aio_session, client_config
from services.common.resources import physical_name
from services.common.streams import (
    LeaseConfig,
    LeaseItem,
    LeaseLost,
    LeaseObserver,
    LeaseState,
    LeaseTable,
    ShardLease,
)

SHARD = "shardId-000000000000"


@pytest.fixture
async def table(aws_prefix: str) -> AsyncIterator[LeaseTable]:
    async with aio_session().client("dynamodb", config=client_config()) as dynamodb:
        yield LeaseTable(
            dynamodb, physical_name(aws_prefix, "leases"), group="g", stream="matching"
        )


def lease(table: LeaseTable, owner: str, **config: Any) -> ShardLease:
    return ShardLease(table, SHARD, owner, LeaseConfig(**{"duration_s": 3.0, **config}))


async def test_exactly_one_of_two_acquires_a_new_lease(table: LeaseTable) -> None:
    a, b = lease(table, "a"), lease(table, "b")
    results = await asyncio.gather(a.acquire(None), b.acquire(None))
    assert sorted(results) == [False, True]
    item = await table.get(SHARD)
    assert item is not None and item.owner in ("a", "b") and item.fence == 1


async def test_a_takeover_bumps_the_fence_and_fences_off_the_old_owner(table: LeaseTable) -> None:
    a = lease(table, "a")
    assert await a.acquire(None)
    await a.checkpoint("10")
    observed = await table.get(SHARD)
    b = lease(table, "b")
    assert await b.acquire(observed)  # as if a's lease had expired
    assert (b.fence, b.checkpoint_seq) == (2, "10")  # the new owner goes on from a's checkpoint

    with pytest.raises(LeaseLost, match="conditional checkpoint failed"):
        await a.checkpoint("11")
    assert a.state is LeaseState.LOST
    with pytest.raises(LeaseLost):
        await a.renew()
    with pytest.raises(LeaseLost):
        await a.wait_valid()  # so its producers refuse to publish
    item = await table.get(SHARD)
    assert item is not None and (item.owner, item.fence, item.checkpoint) == ("b", 2, "10")

    await b.checkpoint("12", snapshot_key="snap-12")
    item = await table.get(SHARD)
    assert item is not None and (item.checkpoint, item.snapshot_key, item.snapshot_seq) == (
        "12",
        "snap-12",
        "12",
    )


async def test_an_acquisition_based_on_a_stale_sighting_fails(table: LeaseTable) -> None:
    a = lease(table, "a")
    assert await a.acquire(None)
    stale = await table.get(SHARD)
    await a.renew()  # the owner is alive: the heartbeat moved on
    assert not await lease(table, "b").acquire(stale)
    assert a.is_valid()


async def test_validity_runs_out_by_the_owners_clock_and_a_renewal_restores_it(
    table: LeaseTable,
) -> None:
    a = lease(table, "a", duration_s=1.0, renew_interval_s=0.3, safety_margin_s=0.3)
    assert await a.acquire(None)
    assert a.is_valid()
    await asyncio.sleep(0.75)
    assert not a.is_valid()  # inside the safety margin: no publishing
    waiting = asyncio.create_task(a.wait_valid())
    await asyncio.sleep(0.1)
    assert not waiting.done() and a.state is LeaseState.UNCERTAIN
    await a.renew()  # nobody took over: the conditional renewal succeeds
    await asyncio.wait_for(waiting, 1)
    assert a.is_valid()


async def test_keep_alive_renews_until_released(table: LeaseTable) -> None:
    a = lease(table, "a", duration_s=1.0, renew_interval_s=0.2)
    assert await a.acquire(None)
    renewer = asyncio.create_task(a.keep_alive())
    await asyncio.sleep(1.5)
    assert a.is_valid()
    item = await table.get(SHARD)
    assert item is not None and item.heartbeat >= 5
    await a.release()
    await asyncio.wait_for(renewer, 2)
    item = await table.get(SHARD)
    assert item is not None and item.owner is None and item.fence == 1
    assert LeaseObserver(a.config).is_takeable(item)  # released: free at once
    b = lease(table, "b")
    assert await b.acquire(item) and b.fence == 2


async def test_keep_alive_ends_when_someone_else_took_over(table: LeaseTable) -> None:
    a = lease(table, "a", duration_s=1.0, renew_interval_s=0.2)
    assert await a.acquire(None)
    assert await lease(table, "b").acquire(await table.get(SHARD))
    await asyncio.wait_for(a.keep_alive(), 2)
    assert a.state is LeaseState.LOST and "conditional renew failed" in (a.lost_reason or "")


def test_observer_takes_over_after_a_whole_duration_without_a_heartbeat() -> None:
    observer = LeaseObserver(LeaseConfig(duration_s=3.0))
    wall = 1_000_000_000
    item = LeaseItem(SHARD, "a", fence=1, heartbeat=5, expires_at_ms=wall + 3000)
    assert not observer.is_takeable(item, now=100.0, wall_ms=wall)
    assert not observer.is_takeable(item, now=102.9, wall_ms=wall)
    assert observer.is_takeable(item, now=103.0, wall_ms=wall)
    renewed = LeaseItem(SHARD, "a", fence=1, heartbeat=6, expires_at_ms=wall + 6000)
    assert not observer.is_takeable(renewed, now=104.0, wall_ms=wall)  # alive again: clock restarts
    assert not observer.is_takeable(renewed, now=106.9, wall_ms=wall)
    assert observer.is_takeable(renewed, now=107.0, wall_ms=wall)


def test_observer_rules_for_free_finished_and_long_dead_leases() -> None:
    observer = LeaseObserver(LeaseConfig(duration_s=3.0))
    wall = 1_000_000_000
    assert observer.is_takeable(LeaseItem(SHARD, None, 3, 9, 0), now=0.0, wall_ms=wall)
    assert not observer.is_takeable(
        LeaseItem(SHARD, None, 3, 9, 0, finished=True), now=0.0, wall_ms=wall
    )
    # Expired over a whole duration ago by the wall clock: a leftover of a long-dead process.
    dead = LeaseItem("shard-2", "old", 1, 1, expires_at_ms=wall - 3001)
    assert observer.is_takeable(dead, now=0.0, wall_ms=wall)
    recent = LeaseItem("shard-3", "old", 1, 1, expires_at_ms=wall - 1000)
    assert not observer.is_takeable(recent, now=0.0, wall_ms=wall)

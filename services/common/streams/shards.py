"""A stream's shards and the parent-before-child rule of resharding.

After a split or merge, the parent shard is closed and its children receive the new records for
its hash range. A child may be processed only once every parent still present in the stream is
finished, or the order per partition key would break. A parent no longer listed has aged out of
the stream's retention and has nothing left to read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """One shard as ListShards describes it."""

    shard_id: str
    parents: tuple[str, ...] = ()
    closed: bool = False
    """True once the shard was split or merged: no new records will arrive."""

    @classmethod
    def from_description(cls, shard: dict[str, Any]) -> ShardInfo:
        """From one entry of a ListShards response."""
        parents = tuple(
            p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p
        )
        closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
        return cls(shard["ShardId"], parents, closed)


async def list_shards(kinesis: Any, stream_name: str) -> list[ShardInfo]:
    """Every shard of a stream (open and closed), sorted by shard id (= creation order)."""
    shards: list[ShardInfo] = []
    kwargs: dict[str, Any] = {"StreamName": stream_name}
    while True:
        page = await kinesis.list_shards(**kwargs)
        shards.extend(ShardInfo.from_description(s) for s in page.get("Shards", []))
        token = page.get("NextToken")
        if not token:
            break
        kwargs = {"NextToken": token}
    return sorted(shards, key=lambda s: s.shard_id)


def ready_shards(
    shards: Sequence[ShardInfo], is_finished: Callable[[str], bool] | Collection[str]
) -> list[ShardInfo]:
    """The shards that may be processed now: not finished themselves, and every parent that is
    still in `shards` finished. `is_finished` is a predicate or a collection of finished ids."""
    finished = is_finished if callable(is_finished) else is_finished.__contains__
    present = {s.shard_id for s in shards}
    return [
        s
        for s in shards
        if not finished(s.shard_id) and all(p not in present or finished(p) for p in s.parents)
    ]

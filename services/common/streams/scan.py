"""Read a whole stream from its oldest record to its tip with plain boto3 (no lease, no state).

For tools and checks that look at everything a stream holds: the crash campaign's trade check,
the e2e bench's per-hop latencies, the tests. Workers use `ShardReader`/`StreamReader` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def iter_records(kinesis: Any, stream_name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(shard id, raw Kinesis record) for every record of every shard, shard by shard, in stream
    order; each shard ends at the first empty page that is no longer behind the tip."""
    for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                yield shard_id, record
            if not page["Records"] and not page.get("MillisBehindLatest"):
                break
            iterator = page.get("NextShardIterator")

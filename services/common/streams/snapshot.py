"""Engine snapshots in S3 (the `snapshots` bucket): the state machine's bytes at a stream position.

Key: `<group>/<stream>/<shard id>/<sequence number, zero-padded>-f<fence>.snap`, so keys sort by
position and an old owner that lost its lease can never overwrite the new owner's object. The
lease item, not a listing, says which snapshot is current (see lease.py).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class SnapshotStore:
    """Reads and writes snapshots of one consumer group's shards."""

    def __init__(self, s3: Any, bucket: str, *, group: str, stream: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.group = group
        self.stream = stream

    def key(self, shard_id: str, sequence_number: str, fence: int) -> str:
        """Where the snapshot of `shard_id` at `sequence_number`, written under `fence`, lives."""
        return f"{self.group}/{self.stream}/{shard_id}/{sequence_number:0>40}-f{fence}.snap"

    async def save(self, shard_id: str, sequence_number: str, fence: int, data: bytes) -> str:
        """Upload a snapshot; returns its key (to be recorded in the lease by a checkpoint)."""
        key = self.key(shard_id, sequence_number, fence)
        await self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/octet-stream",
            Metadata={"shard": shard_id, "sequence-number": sequence_number, "fence": str(fence)},
        )
        return key

    async def load(self, key: str) -> bytes:
        """The bytes of a snapshot (raises if it is missing: a shard never silently starts over)."""
        response = await self.s3.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, key: str) -> None:
        """Delete a superseded snapshot (best effort; a bucket lifecycle rule is the backstop)."""
        try:
            await self.s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:  # an orphaned object costs a little storage, nothing more
            log.warning("could not delete an old snapshot", extra={"key": key, "error": repr(exc)})

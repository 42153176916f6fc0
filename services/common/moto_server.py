"""moto's server with the fixes the local stack needs: `python -m services.common.moto_server`.

1. Lost records. moto's server is threaded and its Kinesis `put_record` is not thread-safe: two
   PutRecords calls on one shard at the same moment can both take sequence number n + 1, and the
   second record silently replaces the first, although both were acknowledged. Measured: 1-2 of
   800 records lost with 40 concurrent calls on a shard of 5,000 records. Shard writes and reads
   are serialized here.
2. Speed. moto finds a shard's last sequence number by listing every key (so writing n records
   costs O(n^2)) and scans a shard from its first record on every GetRecords. Sequence numbers of a
   moto shard are consecutive integers, so both become direct look-ups (with moto's own code kept
   for any shard where that does not hold).

Same command-line arguments as `python -m moto.server`. Nothing here runs against real AWS.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()


def _max_sequence_number(self: Any) -> int:
    return next(reversed(self.records)) if self.records else 0


def _get_records(
    original: Any, self: Any, last_sequence_id: str, limit: int | None
) -> tuple[list[Any], int, int]:
    records = self.records
    if not records:
        return original(self, last_sequence_id, limit)
    first, last = next(iter(records)), next(reversed(records))
    if last - first + 1 != len(records):
        return original(self, last_sequence_id, limit)
    after = int(last_sequence_id)
    start = max(after + 1, first)
    end = last if limit is None else min(last, start + limit - 1)
    results = [records[n] for n in range(start, end + 1)]
    if not results:
        return [], after, 0
    behind = records[last].created_at - results[-1].created_at
    return results, results[-1].sequence_number, int(behind * 1000)


def patch_moto() -> None:
    """Apply the fixes to moto's Kinesis models (idempotent)."""
    from moto.kinesis import models

    if getattr(models.Stream, "_tradestack_patched", False):
        return
    # Monkeypatching moto's classes is the point of this module.
    original_put = models.Stream.put_record
    original_get = models.Shard.get_records

    @functools.wraps(original_put)
    def put_record(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original_put(self, *args, **kwargs)

    @functools.wraps(original_get)
    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> Any:
        with _LOCK:
            return _get_records(original_get, self, last_sequence_id, limit)

    models.Stream.put_record = put_record  # type: ignore[method-assign]
    models.Shard.get_records = get_records  # type: ignore[method-assign]
    models.Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign]
    setattr(models.Stream, "_tradestack_patched", True)  # noqa: B010


def main() -> None:
    """Run moto's server with the fixes applied."""
    patch_moto()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()

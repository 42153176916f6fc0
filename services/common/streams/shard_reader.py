"""Reading one shard by polling GetRecords (moto has no SubscribeToShard; polling works everywhere).

Adaptive polling: while a shard is behind, the next read follows at once (after
`min_poll_interval_s`); a read that returned records and reached the tip waits
`tip_poll_interval_s`; empty reads back off from `idle_poll_min_s` doubling to `idle_poll_max_s`.
Transient errors back off and retry; an expired iterator is renewed after the last record read.

End of a closed shard: Kinesis answers with no NextShardIterator. moto never does (its iterators go
on forever), so a shard known to be closed also ends at an empty read that is not behind the tip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from services.common.metrics import ERRORS
from services.common.streams.config import RuntimeConfig
from services.common.streams.retry import backoff_delay, error_code, is_transient

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReadBatch:
    """What one GetRecords call returned."""

    records: list[dict[str, Any]] = field(default_factory=list)
    millis_behind_latest: int | None = None
    end_of_shard: bool = False


class ShardReader:
    """Reads one shard from a position onwards.

    `after`: start after this sequence number; otherwise at `start` (TRIM_HORIZON or LATEST).
    """

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        shard_id: str,
        *,
        after: str | None = None,
        start: str = "TRIM_HORIZON",
        closed: bool = False,
        config: RuntimeConfig | None = None,
    ) -> None:
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.shard_id = shard_id
        self.closed = closed
        self.last_sequence = after
        self.millis_behind_latest: int | None = None
        self._start = start
        self._config = config or RuntimeConfig()
        self._iterator: str | None = None
        self._delay = 0.0
        self._idle = self._config.idle_poll_min_s

    async def read(self, stop: asyncio.Event | None = None) -> ReadBatch:
        """The next batch of records (possibly empty), after the adaptive pause. Returns an empty
        batch early if `stop` is set. Raises only for non-transient errors."""
        config = self._config
        attempt = 0
        while True:
            if self._delay > 0 and await _stopped_within(stop, self._delay):
                return ReadBatch()
            if stop is not None and stop.is_set():
                return ReadBatch()
            try:
                if self._iterator is None:
                    self._iterator = await self._new_iterator()
                response = await self.kinesis.get_records(
                    ShardIterator=self._iterator, Limit=config.get_records_limit
                )
            except Exception as exc:
                code = error_code(exc)
                if code == "ExpiredIteratorException":
                    self._iterator = None
                    self._delay = 0.0
                    continue
                if not is_transient(exc):
                    raise
                ERRORS.labels("get_records").inc()
                self._delay = backoff_delay(attempt, base_s=0.1, cap_s=2.0)
                attempt += 1
                log.warning(
                    "GetRecords failed, retrying",
                    extra={"stream": self.stream_name, "shard": self.shard_id, "error": repr(exc)},
                )
                continue
            return self._accept(response)

    def _accept(self, response: dict[str, Any]) -> ReadBatch:
        config = self._config
        records = response.get("Records", [])
        behind = response.get("MillisBehindLatest")
        self.millis_behind_latest = behind
        self._iterator = response.get("NextShardIterator")
        if records:
            self.last_sequence = records[-1]["SequenceNumber"]
            at_tip = not behind and len(records) < config.get_records_limit
            self._delay = max(
                config.min_poll_interval_s, config.tip_poll_interval_s if at_tip else 0.0
            )
            self._idle = config.idle_poll_min_s
        else:
            self._delay = self._idle
            self._idle = min(self._idle * 2, config.idle_poll_max_s)
        end = self._iterator is None or (self.closed and not records and not behind)
        return ReadBatch(records, behind, end)

    async def _new_iterator(self) -> str:
        args: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if self.last_sequence is not None:
            args.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=self.last_sequence
            )
        else:
            args["ShardIteratorType"] = self._start
        response = await self.kinesis.get_shard_iterator(**args)
        iterator: str = response["ShardIterator"]
        return iterator


async def _stopped_within(stop: asyncio.Event | None, delay: float) -> bool:
    """Sleep `delay` seconds, or less if `stop` is set; True if it was."""
    if stop is None:
        await asyncio.sleep(delay)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
    return stop.is_set()

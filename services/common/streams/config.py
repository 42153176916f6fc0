"""The knobs of the stream runtime, with defaults meant for AWS; tests shorten the timings."""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    """How a `StreamProducer` batches, bounds its buffer and retries.

    Kinesis limits: 500 records and 5 MiB per PutRecords call, 1 MiB per record (data plus
    partition key), 1,000 records/s and 1 MiB/s per shard.
    """

    linger_s: float = 0.01
    """How long the first buffered message may wait for company before a batch is sent."""
    max_buffered_messages: int = 100_000
    """`put` waits (backpressure) while this many messages are not yet durably written."""
    max_buffered_bytes: int = 64 * MIB
    max_batch_records: int = 500
    max_batch_bytes: int = 5 * MIB
    max_record_bytes: int = 1 * MIB
    max_messages_per_record: int = 10_000
    max_in_flight: int = 2
    """PutRecords calls under way at once (never two with the same partition key)."""
    retry_base_s: float = 0.05
    retry_cap_s: float = 2.0


@dataclass(frozen=True, slots=True)
class LeaseConfig:
    """Shard lease timing. A lease is valid for `duration_s` from the start of its last successful
    write; its owner stops publishing `safety_margin_s` before that."""

    duration_s: float = 10.0
    renew_interval_s: float | None = None
    """Default: a third of the duration."""
    safety_margin_s: float | None = None
    """Default: a fifth of the duration."""

    @property
    def renew_every_s(self) -> float:
        """The renewal period in effect."""
        return self.renew_interval_s if self.renew_interval_s is not None else self.duration_s / 3

    @property
    def margin_s(self) -> float:
        """The safety margin in effect."""
        return self.safety_margin_s if self.safety_margin_s is not None else self.duration_s / 5

    def __post_init__(self) -> None:
        if self.renew_every_s >= self.duration_s - self.margin_s:
            raise ValueError("renew_interval_s must be shorter than duration_s - safety_margin_s")


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Everything a `ConsumerGroup` and its `ShardWorker`s need to know about timing and batching."""

    lease: LeaseConfig = field(default_factory=LeaseConfig)
    producer: ProducerConfig = field(default_factory=ProducerConfig)
    checkpoint_every_records: int = 1_000
    checkpoint_interval_s: float = 1.0
    """A checkpoint is written when either is reached (and something new was processed)."""
    snapshot_every_records: int = 100_000
    snapshot_interval_s: float = 60.0
    snapshot_on_shutdown: bool = True
    snapshots_kept: int = 2
    """Older snapshot objects of a shard are deleted once a newer one is committed."""
    get_records_limit: int = 1_000
    min_poll_interval_s: float = 0.0
    """Pause between GetRecords calls while busy. AWS allows 5 calls/s per shard, shared by every
    consumer of the shard: set 0.2 there if several groups read one stream."""
    tip_poll_interval_s: float = 0.0
    """Pause after a read that returned records and reached the tip of the shard (nothing more
    behind): the next read would most likely come back with one or two records, for a whole call's
    CPU in the client and the endpoint. Services set it from `TRADESTACK_STREAM_TIP_POLL_S`."""
    idle_poll_min_s: float = 0.02
    idle_poll_max_s: float = 0.25
    """After an empty GetRecords the pause doubles from min to max; any record resets it."""
    scan_interval_s: float = 5.0
    """How often a consumer group lists shards and leases to pick up free or expired leases."""
    max_leases: int | None = None
    """Most shards one group member owns at once (None: as many as it can get)."""
    shutdown_timeout_s: float = 15.0
    failure_cooldown_s: float = 5.0
    """After a worker fails (not a lost lease), the shard is left alone this long (doubling)."""

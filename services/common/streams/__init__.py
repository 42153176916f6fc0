"""The stream runtime: ordered producers, shard leases, checkpoints, snapshots, and the workers
that run deterministic state machines over Kinesis shards. See docs/runtime.md."""

from services.common.streams.config import LeaseConfig, ProducerConfig, RuntimeConfig
from services.common.streams.consumer_group import ConsumerGroup, default_owner_id
from services.common.streams.lease import (
    LeaseItem,
    LeaseLost,
    LeaseObserver,
    LeaseState,
    LeaseTable,
    ShardLease,
)
from services.common.streams.producer import (
    MessageTooLarge,
    ProducerFailed,
    ProducerStats,
    StreamProducer,
)
from services.common.streams.shard_reader import ReadBatch, ShardReader
from services.common.streams.shard_worker import ShardWorker, WorkerExit
from services.common.streams.shards import ShardInfo, list_shards, ready_shards
from services.common.streams.snapshot import SnapshotStore
from services.common.streams.state_machine import (
    Output,
    RecordPosition,
    StateMachine,
    StateMachineFactory,
)
from services.common.streams.stream_reader import MessageHandler, StreamReader

__all__ = [
    "ConsumerGroup",
    "LeaseConfig",
    "LeaseItem",
    "LeaseLost",
    "LeaseObserver",
    "LeaseState",
    "LeaseTable",
    "MessageHandler",
    "MessageTooLarge",
    "Output",
    "ProducerConfig",
    "ProducerFailed",
    "ProducerStats",
    "ReadBatch",
    "RecordPosition",
    "RuntimeConfig",
    "ShardInfo",
    "ShardLease",
    "ShardReader",
    "ShardWorker",
    "SnapshotStore",
    "StateMachine",
    "StateMachineFactory",
    "StreamProducer",
    "StreamReader",
    "WorkerExit",
    "default_owner_id",
    "list_shards",
    "ready_shards",
]

"""`ShardWorker`: runs a state machine over one shard it holds the lease of.

Start: restore the latest snapshot (or start empty), read from its position, and re-apply the
records up to the lease's checkpoint *without publishing* (their outputs were published by the
previous owner; DESIGN.md rule 3). From there: apply, publish, and now and then commit.

A commit writes checkpoint C only after every output of the records up to C is acknowledged by
Kinesis: the worker notes each producer's `last_put` mark when C is the last record applied, waits
for those marks to become durable in a background task (processing goes on meanwhile), then
writes C to the lease item, conditional on owner and fence. A snapshot is taken at such a
position C (serialized synchronously, uploaded in the commit task) and its key is written by the
same conditional write as checkpoint C, so the snapshot pointer never runs ahead of the
checkpoint.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import time
from collections.abc import Callable
from typing import Any

from services.common.metrics import ERRORS, RECORDS_PROCESSED, STREAM_LAG_MS
from services.common.serialization import RecordFormatError, decode_record
from services.common.streams.config import RuntimeConfig
from services.common.streams.lease import LeaseLost, LeaseState, ShardLease
from services.common.streams.producer import ProducerFailed, StreamProducer
from services.common.streams.retry import backoff_delay, is_transient
from services.common.streams.shard_reader import ShardReader
from services.common.streams.shards import ShardInfo
from services.common.streams.snapshot import SnapshotStore
from services.common.streams.state_machine import RecordPosition, StateMachine, StateMachineFactory

log = logging.getLogger(__name__)

SHARD_END = "SHARD_END"


class WorkerExit(enum.StrEnum):
    """How `ShardWorker.run` ended."""

    FINISHED = "finished"  # the shard is closed and fully processed
    STOPPED = "stopped"  # graceful stop: flushed, checkpointed, lease released
    LOST = "lost"  # the lease went to someone else: nothing more was written


def _seq_int(sequence_number: str | None) -> int | None:
    return int(sequence_number) if sequence_number and sequence_number.isdigit() else None


class ShardWorker:
    """Applies one shard's messages to a state machine and publishes its outputs.

    The caller acquires `lease` first; `run()` keeps it alive and gives it up at the end.
    `output_stream_name` maps a logical output stream (`Output.stream`) to its physical name.
    """

    def __init__(
        self,
        *,
        kinesis: Any,
        snapshots: SnapshotStore,
        lease: ShardLease,
        factory: StateMachineFactory,
        shard: ShardInfo,
        stream_name: str,
        group: str,
        output_stream_name: Callable[[str], str] = str,
        config: RuntimeConfig | None = None,
        metrics_stream: str | None = None,
    ) -> None:
        self.kinesis = kinesis
        self.snapshots = snapshots
        self.lease = lease
        self.factory = factory
        self.shard = shard
        self.stream_name = stream_name
        self.group = group
        self.config = config or RuntimeConfig()
        self._output_stream_name = output_stream_name
        metrics_stream = metrics_stream or stream_name
        self._records_metric = RECORDS_PROCESSED.labels(metrics_stream, group)
        self._lag_metric = STREAM_LAG_MS.labels(metrics_stream, shard.shard_id)

        self.phase = "starting"
        self.error: str | None = None
        self.records_processed = 0
        self.records_replayed = 0
        self.messages_applied = 0
        self.last_sequence: str | None = None
        self.restored_from: str | None = None
        self.machine: StateMachine | None = None

        self._stop = asyncio.Event()
        self._producers: dict[str, StreamProducer] = {}
        self._reader: ShardReader | None = None
        self._replay_until: int | None = None
        self._commit_task: asyncio.Task[None] | None = None
        self._committing_seq: str | None = None
        self._since_checkpoint = 0
        self._since_snapshot = 0
        self._last_checkpoint_at = time.monotonic()
        self._last_snapshot_at = time.monotonic()
        self._snapshot_keys: collections.deque[str] = collections.deque()

    # ------------------------------------------------------------------ public API

    @property
    def shard_id(self) -> str:
        """The shard this worker owns."""
        return self.shard.shard_id

    def request_stop(self) -> None:
        """Ask for a graceful stop: flush, checkpoint, (snapshot), release the lease."""
        self._stop.set()

    def mark_shard_closed(self) -> None:
        """Tell the worker its shard was closed by resharding (see shard_reader for why)."""
        self.shard = ShardInfo(self.shard.shard_id, self.shard.parents, True)
        if self._reader is not None:
            self._reader.closed = True

    def status(self) -> dict[str, Any]:
        """What an admin endpoint shows about this worker."""
        return {
            "shard": self.shard_id,
            "owner": self.lease.owner,
            "fence": self.lease.fence,
            "lease": self.lease.state.value,
            "phase": self.phase,
            "checkpoint": self.lease.checkpoint_seq,
            "snapshot_seq": self.lease.snapshot_seq,
            "restored_from": self.restored_from,
            "last_sequence": self.last_sequence,
            "records_processed": self.records_processed,
            "records_replayed": self.records_replayed,
            "lag_ms": self._reader.millis_behind_latest if self._reader else None,
            "buffered_outputs": sum(p.buffered for p in self._producers.values()),
            "error": self.error,
        }

    async def run(self) -> WorkerExit:
        """Process the shard until it ends, `request_stop()` is called, or the lease is lost.
        Raises on an unexpected error (after releasing the lease)."""
        renewer = asyncio.create_task(self.lease.keep_alive(), name=f"lease:{self.shard_id}")
        try:
            result = await self._run()
        except (LeaseLost, ProducerFailed) as exc:
            if self.lease.state is not LeaseState.LOST:
                await self._fail(exc)
                raise
            self.phase = "lost"
            log.warning(
                "shard worker stopped: lease lost",
                extra={
                    "shard": self.shard_id,
                    "fence": self.lease.fence,
                    "reason": self.lease.lost_reason,
                },
            )
            await self._abort("lease lost")
            return WorkerExit.LOST
        except asyncio.CancelledError:
            await self._abort("cancelled")
            await self.lease.release()
            raise
        except Exception as exc:
            await self._fail(exc)
            raise
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        self.phase = result.value
        return result

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> WorkerExit:
        self.machine = await self._restore()
        checkpoint = self.lease.checkpoint_seq
        self._replay_until = _seq_int(checkpoint)
        start_after = self.lease.snapshot_seq if self.restored_from else None
        self.last_sequence = start_after
        self._reader = ShardReader(
            self.kinesis,
            self.stream_name,
            self.shard_id,
            after=start_after,
            start="TRIM_HORIZON",
            closed=self.shard.closed,
            config=self.config,
        )
        self.phase = "replaying" if self._replay_until is not None else "running"
        log.info(
            "shard worker started",
            extra={
                "shard": self.shard_id,
                "fence": self.lease.fence,
                "snapshot_seq": start_after,
                "checkpoint": checkpoint,
            },
        )
        while True:
            self.lease.ensure_held()
            self._raise_commit_failure()
            if self._stop.is_set():
                await self._shutdown()
                return WorkerExit.STOPPED
            batch = await self._reader.read(self._stop)
            if batch.millis_behind_latest is not None:
                self._lag_metric.set(batch.millis_behind_latest)
            if batch.records:
                await self._process(batch.records)
            if batch.end_of_shard:
                await self._finish_shard()
                return WorkerExit.FINISHED
            self._maybe_commit()

    async def _process(self, records: list[dict[str, Any]]) -> None:
        machine = self.machine
        assert machine is not None
        shard_id = self.shard_id
        replay_until = self._replay_until
        for record in records:
            sequence_number: str = record["SequenceNumber"]
            publish = replay_until is None or int(sequence_number) > replay_until
            try:
                messages = decode_record(record["Data"])
            except RecordFormatError as exc:
                # Skipped identically on every replay, so all replicas agree; loud in logs/metrics.
                ERRORS.labels("stream_record_format").inc()
                log.error(
                    "skipping an unreadable stream record",
                    extra={
                        "stream": self.stream_name,
                        "shard": shard_id,
                        "sequence_number": sequence_number,
                        "error": str(exc),
                    },
                )
                messages = []
            arrival = record.get("ApproximateArrivalTimestamp")
            arrival_ms = int(arrival.timestamp() * 1000) if arrival is not None else None
            for index, message in enumerate(messages):
                outputs = machine.apply(
                    message, RecordPosition(shard_id, sequence_number, index, arrival_ms)
                )
                if publish:
                    for stream, partition_key, body in outputs:
                        await self._producer(stream).put(partition_key, body)
                else:
                    collections.deque(outputs, maxlen=0)  # consume a lazy iterable all the same
            self.messages_applied += len(messages)
            self.last_sequence = sequence_number
            self.records_processed += 1
            if publish:
                self._since_checkpoint += 1
            else:
                self.records_replayed += 1
            self._since_snapshot += 1
        self._records_metric.inc(len(records))
        if replay_until is not None and int(self.last_sequence or 0) >= replay_until:
            log.info(
                "replay done, publishing from here",
                extra={
                    "shard": shard_id,
                    "checkpoint": self.lease.checkpoint_seq,
                    "replayed": self.records_replayed,
                },
            )
            self._replay_until = None
            self.phase = "running"
        await asyncio.sleep(0)  # let lease renewal and producers run between batches

    def _producer(self, stream: str) -> StreamProducer:
        producer = self._producers.get(stream)
        if producer is None:
            producer = StreamProducer(
                self.kinesis,
                self._output_stream_name(stream),
                config=self.config.producer,
                guard=self.lease.wait_valid,
                metrics_stream=stream,
            )
            self._producers[stream] = producer
        return producer

    # ------------------------------------------------------------------ commits

    def _uncommitted(self) -> bool:
        last = _seq_int(self.last_sequence)
        if last is None or self._replay_until is not None:
            return False
        done = _seq_int(self._committing_seq or self.lease.checkpoint_seq)
        return done is None or last > done

    def _maybe_commit(self) -> None:
        if self._commit_task is not None and not self._commit_task.done():
            return
        if not self._uncommitted():
            return
        config = self.config
        now = time.monotonic()
        snapshot_due = self._since_snapshot > 0 and (
            self._since_snapshot >= config.snapshot_every_records
            or now - self._last_snapshot_at >= config.snapshot_interval_s
        )
        checkpoint_due = (
            self._since_checkpoint >= config.checkpoint_every_records
            or now - self._last_checkpoint_at >= config.checkpoint_interval_s
        )
        if snapshot_due or checkpoint_due:
            self._start_commit(with_snapshot=snapshot_due)

    def _start_commit(self, *, with_snapshot: bool) -> None:
        assert self.machine is not None and self.last_sequence is not None
        sequence_number = self.last_sequence
        data = self.machine.snapshot() if with_snapshot else None
        marks = {name: producer.last_put for name, producer in self._producers.items()}
        now = time.monotonic()
        self._since_checkpoint = 0
        self._last_checkpoint_at = now
        if with_snapshot:
            self._since_snapshot = 0
            self._last_snapshot_at = now
        self._committing_seq = sequence_number
        self._commit_task = asyncio.create_task(
            self._commit(sequence_number, marks, data), name=f"commit:{self.shard_id}"
        )

    async def _commit(
        self,
        sequence_number: str,
        marks: dict[str, int],
        snapshot: bytes | None,
        *,
        finished: bool = False,
    ) -> None:
        key = None
        if snapshot is not None:
            key = await self._with_retries(
                "snapshot upload",
                lambda: self.snapshots.save(
                    self.shard_id, sequence_number, self.lease.fence, snapshot
                ),
            )
        for stream, mark in marks.items():
            await self._producers[stream].wait_durable(mark)
        await self.lease.checkpoint(sequence_number, snapshot_key=key, finished=finished)
        if key is not None:
            self._snapshot_keys.append(key)
            while len(self._snapshot_keys) > self.config.snapshots_kept:
                await self.snapshots.delete(self._snapshot_keys.popleft())
            log.info(
                "snapshot committed",
                extra={"shard": self.shard_id, "sequence_number": sequence_number, "key": key},
            )

    def _raise_commit_failure(self) -> None:
        task = self._commit_task
        if task is not None and task.done():
            self._commit_task = None
            exc = task.exception()
            if exc is not None:
                raise exc

    async def _await_commit(self) -> None:
        if self._commit_task is not None:
            task, self._commit_task = self._commit_task, None
            await task

    async def _final_commit(self, *, finished: bool) -> None:
        await self._await_commit()
        for producer in self._producers.values():
            await producer.flush()
        sequence_number = self.last_sequence
        settled = sequence_number is not None and self._replay_until is None
        take_snapshot = settled and self.config.snapshot_on_shutdown and self._since_snapshot > 0
        if finished or take_snapshot or self._uncommitted():
            if not settled or sequence_number is None:
                # Still replaying (or nothing read): the checkpoint already covers more.
                sequence_number = self.lease.checkpoint_seq or SHARD_END
                take_snapshot = False
            assert self.machine is not None
            snapshot = self.machine.snapshot() if take_snapshot else None
            await self._commit(sequence_number, {}, snapshot, finished=finished)
        for producer in self._producers.values():
            await producer.close()

    async def _shutdown(self) -> None:
        self.phase = "stopping"
        await self._final_commit(finished=False)
        await self.lease.release()
        log.info(
            "shard worker stopped",
            extra={"shard": self.shard_id, "checkpoint": self.lease.checkpoint_seq},
        )

    async def _finish_shard(self) -> None:
        self.phase = "finishing"
        await self._final_commit(finished=True)
        await self.lease.release()
        log.info(
            "shard finished",
            extra={"shard": self.shard_id, "checkpoint": self.lease.checkpoint_seq},
        )

    # ------------------------------------------------------------------ start and failure

    async def _restore(self) -> StateMachine:
        key = self.lease.snapshot_key
        if not key:
            return self.factory.initial()
        data = await self._with_retries("snapshot load", lambda: self.snapshots.load(key))
        self.restored_from = self.lease.snapshot_seq
        self._snapshot_keys.append(key)
        log.info(
            "restored from snapshot",
            extra={
                "shard": self.shard_id,
                "key": key,
                "sequence_number": self.lease.snapshot_seq,
                "bytes": len(data),
            },
        )
        return self.factory.restore(data)

    async def _with_retries(self, what: str, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            self.lease.ensure_held()
            try:
                return await call()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ERRORS.labels("s3").inc()
                log.warning(
                    f"{what} failed, retrying", extra={"shard": self.shard_id, "error": repr(exc)}
                )
                await asyncio.sleep(backoff_delay(attempt, base_s=0.1, cap_s=2.0))
                attempt += 1

    async def _abort(self, reason: str) -> None:
        if self._commit_task is not None:
            self._commit_task.cancel()
            await asyncio.gather(self._commit_task, return_exceptions=True)
            self._commit_task = None
        for producer in self._producers.values():
            await producer.abort(reason)

    async def _fail(self, exc: BaseException) -> None:
        self.phase = "failed"
        self.error = f"{type(exc).__name__}: {exc}"
        ERRORS.labels("shard_worker").inc()
        log.error(
            "shard worker failed",
            exc_info=exc,
            extra={"shard": self.shard_id, "fence": self.lease.fence, "error": self.error},
        )
        await self._abort(self.error)
        await self.lease.release()

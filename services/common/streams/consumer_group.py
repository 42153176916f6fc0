"""`ConsumerGroup`: the members of a group share a stream's shards, one owner per shard.

Each member scans now and then: it lists the shards and the group's lease items, and tries to
acquire every shard that is ready (not finished; parents finished, see shards.py) and free or
provably expired (see lease.py), then runs one `ShardWorker` task per shard it holds. A member
that dies leaves its leases to expire; another member takes them over on a later scan and goes on
from the checkpoint. There is no lease stealing (rebalancing between live members): `max_leases`
caps how many shards one member takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

from services.common.aws import client_config
from services.common.metrics import ERRORS
from services.common.resources import physical_name
from services.common.streams.clients import runtime_session
from services.common.streams.config import RuntimeConfig
from services.common.streams.lease import LeaseItem, LeaseObserver, LeaseTable, ShardLease
from services.common.streams.retry import is_transient
from services.common.streams.shard_worker import ShardWorker, WorkerExit
from services.common.streams.shards import ShardInfo, list_shards, ready_shards
from services.common.streams.snapshot import SnapshotStore
from services.common.streams.state_machine import StateMachineFactory

log = logging.getLogger(__name__)


def default_owner_id() -> str:
    """host:pid:random — unique per process, readable in the lease table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ConsumerGroup:
    """Runs a state machine over every shard of `stream` this member can lease.

    `group` names the consumer group (one per engine, e.g. "matching"); `stream` is the logical
    input stream ("matching"); `prefix` the resource prefix (settings.resource_prefix). Output
    streams named by the machine's `Output.stream` are resolved with the same prefix.
    """

    def __init__(
        self,
        *,
        group: str,
        stream: str,
        factory: StateMachineFactory,
        prefix: str,
        owner: str | None = None,
        config: RuntimeConfig | None = None,
        session: Any = None,
    ) -> None:
        self.group = group
        self.stream = stream
        self.factory = factory
        self.prefix = prefix
        self.owner = owner or default_owner_id()
        self.config = config or RuntimeConfig()
        self.stream_name = physical_name(prefix, stream)
        self._session = session
        self._observer = LeaseObserver(self.config.lease)
        self._workers: dict[str, ShardWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cooldown: dict[str, tuple[float, float]] = {}  # shard -> (until, last pause)
        self._stopping = asyncio.Event()
        self._rescan = asyncio.Event()
        self._leases: LeaseTable | None = None
        self._last_leases: dict[str, LeaseItem] = {}
        self._last_shards: list[ShardInfo] = []
        self.finished_shards: set[str] = set()
        self.running = False

    # ------------------------------------------------------------------ public API

    @property
    def workers(self) -> dict[str, ShardWorker]:
        """The shard workers running now, by shard id."""
        return dict(self._workers)

    def stop(self) -> None:
        """Ask for a graceful stop (what SIGTERM does): every worker flushes, checkpoints and
        releases its lease, then `run()` returns."""
        self._stopping.set()

    def status(self) -> dict[str, Any]:
        """What an admin endpoint shows: this member's workers, and every lease of the group."""
        return {
            "group": self.group,
            "stream": self.stream,
            "owner": self.owner,
            "running": self.running,
            "workers": [w.status() for w in self._workers.values()],
            "leases": {
                shard_id: {
                    "owner": item.owner,
                    "fence": item.fence,
                    "checkpoint": item.checkpoint,
                    "snapshot_seq": item.snapshot_seq,
                    "finished": item.finished,
                }
                for shard_id, item in sorted(self._last_leases.items())
            },
            "shards": [s.shard_id for s in self._last_shards],
        }

    async def run(self, *, handle_signals: bool = False) -> None:
        """Scan, acquire and process until `stop()` (or SIGTERM/SIGINT with `handle_signals`, or
        cancellation); then stop every worker gracefully."""
        session = runtime_session(self._session)
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        try:
            async with AsyncExitStack() as stack:
                config = client_config()
                kinesis = await stack.enter_async_context(session.client("kinesis", config=config))
                dynamodb = await stack.enter_async_context(
                    session.client("dynamodb", config=config)
                )
                s3 = await stack.enter_async_context(session.client("s3", config=config))
                self._leases = LeaseTable(
                    dynamodb,
                    physical_name(self.prefix, "leases"),
                    group=self.group,
                    stream=self.stream,
                )
                snapshots = SnapshotStore(
                    s3,
                    physical_name(self.prefix, "snapshots"),
                    group=self.group,
                    stream=self.stream,
                )
                self.running = True
                log.info(
                    "consumer group member started",
                    extra={"group": self.group, "stream": self.stream_name, "owner": self.owner},
                )
                try:
                    while not self._stopping.is_set():
                        await self._scan(kinesis, snapshots)
                        await self._wait_for_next_scan()
                finally:
                    await self._stop_workers()
        finally:
            self.running = False
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            log.info(
                "consumer group member stopped", extra={"group": self.group, "owner": self.owner}
            )

    # ------------------------------------------------------------------ scanning

    async def _wait_for_next_scan(self) -> None:
        self._rescan.clear()
        waits = [
            asyncio.ensure_future(self._stopping.wait()),
            asyncio.ensure_future(self._rescan.wait()),
        ]
        try:
            await asyncio.wait(
                waits, timeout=self.config.scan_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _scan(self, kinesis: Any, snapshots: SnapshotStore) -> None:
        assert self._leases is not None
        try:
            shards = await list_shards(kinesis, self.stream_name)
            leases = await self._leases.list()
        except Exception as exc:
            if not is_transient(exc):
                ERRORS.labels("consumer_group_scan").inc()
                log.error("shard scan failed", extra={"group": self.group, "error": repr(exc)})
            else:
                log.warning(
                    "shard scan failed, retrying", extra={"group": self.group, "error": repr(exc)}
                )
            return
        self._last_shards, self._last_leases = shards, leases
        now, wall_ms = time.monotonic(), time.time_ns() // 1_000_000
        takeable = {
            shard_id: self._observer.is_takeable(item, now=now, wall_ms=wall_ms)
            for shard_id, item in leases.items()
        }
        self.finished_shards = {shard_id for shard_id, item in leases.items() if item.finished}
        for shard in shards:
            worker = self._workers.get(shard.shard_id)
            if worker is not None and shard.closed and not worker.shard.closed:
                worker.mark_shard_closed()

        for shard in ready_shards(shards, self.finished_shards):
            if self._stopping.is_set():
                return
            if shard.shard_id in self._workers:
                continue
            if self.config.max_leases is not None and len(self._workers) >= self.config.max_leases:
                return
            cooldown = self._cooldown.get(shard.shard_id)
            if cooldown is not None and cooldown[0] > now:
                continue
            item = leases.get(shard.shard_id)
            if item is not None and not takeable[shard.shard_id]:
                continue
            lease = ShardLease(self._leases, shard.shard_id, self.owner, self.config.lease)
            try:
                acquired = await lease.acquire(item)
            except Exception as exc:
                log.warning(
                    "lease acquisition failed", extra={"shard": shard.shard_id, "error": repr(exc)}
                )
                continue
            if acquired:
                self._start_worker(kinesis, snapshots, shard, lease)

    def _start_worker(
        self, kinesis: Any, snapshots: SnapshotStore, shard: ShardInfo, lease: ShardLease
    ) -> None:
        worker = ShardWorker(
            kinesis=kinesis,
            snapshots=snapshots,
            lease=lease,
            factory=self.factory,
            shard=shard,
            stream_name=self.stream_name,
            group=self.group,
            output_stream_name=lambda name: physical_name(self.prefix, name),
            config=self.config,
            metrics_stream=self.stream,
        )
        self._workers[shard.shard_id] = worker
        self._tasks[shard.shard_id] = asyncio.create_task(
            self._run_worker(worker), name=f"worker:{shard.shard_id}"
        )

    async def _run_worker(self, worker: ShardWorker) -> None:
        shard_id = worker.shard_id
        try:
            result = await worker.run()
            if result is WorkerExit.FINISHED:
                self.finished_shards.add(shard_id)
            self._cooldown.pop(shard_id, None)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The worker logged and released its lease; leave the shard alone for a while so a
            # deterministic failure does not become a tight crash loop.
            _, pause = self._cooldown.get(shard_id, (0.0, self.config.failure_cooldown_s / 2))
            pause = min(pause * 2, 300.0)
            self._cooldown[shard_id] = (time.monotonic() + pause, pause)
        finally:
            self._workers.pop(shard_id, None)
            self._tasks.pop(shard_id, None)
            self._rescan.set()

    async def _stop_workers(self) -> None:
        tasks = list(self._tasks.values())
        if not tasks:
            return
        for worker in self._workers.values():
            worker.request_stop()
        _, pending = await asyncio.wait(tasks, timeout=self.config.shutdown_timeout_s)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

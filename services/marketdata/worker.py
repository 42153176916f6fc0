"""Market data's consumers: `executions` into the state (with S3 snapshots), `accounts` into the
private channels.

Both use the runtime's read-only `StreamReader`: no leases, every replica reads every shard, so
replicas can be added freely to scale the WebSocket fan-out.

Snapshot + replay: every `snapshot_interval_s` (or `snapshot_every_records`) and at shutdown the
whole state and the reader's position per shard are written to one S3 object,
`<snapshots bucket>/marketdata/executions/latest.snap`. Messages are handled synchronously, so a
snapshot taken between two awaits is consistent with its positions. A starting replica loads it
and reads on after those positions; an older snapshot (another replica's, or one from before a
crash) only means replaying more, because the state ignores events it has already applied. Every
replica may write the object: any replica's snapshot is a valid starting point.

The accounts stream is read from LATEST and not snapshotted: private channels are live only. An
`executions` message older than `private_max_age_s` (Kinesis arrival time), i.e. replayed while
catching up, updates the state but is not pushed to private channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import Any

import orjson
from botocore.exceptions import ClientError

from services.common.aws import aio_session, client_config
from services.common.metrics import ERRORS
from services.common.resources import physical_name
from services.common.streams import RecordPosition, RuntimeConfig, StreamReader
from services.marketdata.service import MarketDataService
from services.marketdata.state import MarketDataState

log = logging.getLogger(__name__)

SNAPSHOT_KEY = "marketdata/executions/latest.snap"
SNAPSHOT_FORMAT = 1


class MarketDataConsumers:
    """The stream readers of one market data process, and its snapshots."""

    def __init__(self, service: MarketDataService, *, session: Any = None) -> None:
        self.service = service
        self.settings = settings = service.settings
        self.config = RuntimeConfig(
            idle_poll_min_s=0.02,
            idle_poll_max_s=settings.poll_idle_max_s,
            scan_interval_s=settings.shard_scan_interval_s,
            tip_poll_interval_s=settings.stream_tip_poll_s,
        )
        self._session = session or aio_session()
        self._stack = AsyncExitStack()
        self._s3: Any = None
        self._bucket = physical_name(settings.resource_prefix, "snapshots")
        self.executions: StreamReader | None = None
        self.accounts: StreamReader | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._snapshot_lock = asyncio.Lock()
        self._snapshotted_records = 0
        self._last_snapshot_at = time.monotonic()
        self.restored_positions: dict[str, str] | None = None
        self.snapshots_written = 0
        self._caught_up = False

    async def start(self) -> None:
        settings = self.settings
        if settings.consume_executions:
            self._s3 = await self._stack.enter_async_context(
                self._session.client("s3", config=client_config())
            )
            positions = await self._restore()
            self.executions = StreamReader(
                "executions",
                self._on_execution,
                prefix=settings.resource_prefix,
                start="TRIM_HORIZON",
                positions=positions,
                name="marketdata",
                config=self.config,
                session=self._session,
            )
            self._tasks["executions"] = asyncio.create_task(
                self.executions.run(), name="marketdata-executions"
            )
            self._tasks["snapshots"] = asyncio.create_task(
                self._snapshot_loop(), name="marketdata-snapshots"
            )
        if settings.consume_accounts:
            self.accounts = StreamReader(
                "accounts",
                self._on_account_message,
                prefix=settings.resource_prefix,
                start="LATEST",
                name="marketdata",
                config=self.config,
                session=self._session,
            )
            self._tasks["accounts"] = asyncio.create_task(
                self.accounts.run(), name="marketdata-accounts"
            )

    async def stop(self) -> None:
        for reader in (self.executions, self.accounts):
            if reader is not None:
                reader.stop()
        snapshot_task = self._tasks.pop("snapshots", None)
        if snapshot_task is not None:
            snapshot_task.cancel()
        for task in [*self._tasks.values(), *([snapshot_task] if snapshot_task else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        self._tasks.clear()
        if self.executions is not None and self.settings.snapshot_on_shutdown:
            try:
                await self.snapshot()
            except Exception:  # the next start replays a little more; never fail a shutdown
                log.exception("final market data snapshot failed")
        await self._stack.aclose()

    def raise_if_unhealthy(self) -> None:
        """For /readyz: every reader task is running, `executions` was read up to its tip once
        (a ready replica never hands out a book older than one a client saw before), and the
        `accounts` reader holds its LATEST position (nothing published from now on is missed)."""
        for name, task in self._tasks.items():
            if task.done():
                error = None if task.cancelled() else task.exception()
                raise RuntimeError(f"the {name} consumer stopped: {error!r}")
        if not self.caught_up():
            raise RuntimeError("catching up with the executions stream")
        if self.accounts is not None and not _read_once(self.accounts, lag=None):
            raise RuntimeError("the accounts reader has not started reading yet")

    def caught_up(self) -> bool:
        """True once every shard of `executions` has been read to its tip (then stays True)."""
        if self._caught_up or self.executions is None:
            return True
        if _read_once(self.executions, lag=0):
            self._caught_up = True
            log.info("caught up with executions", extra={"positions": self.executions.positions})
        return self._caught_up

    def status(self) -> dict[str, Any]:
        return {
            "executions": self.executions.status() if self.executions else None,
            "accounts": self.accounts.status() if self.accounts else None,
            "restored_positions": self.restored_positions,
            "snapshots_written": self.snapshots_written,
            "input": asdict(self.service.state.counters),
        }

    # -- input -----------------------------------------------------------------------------------

    def _on_execution(self, message: dict[str, Any], position: RecordPosition) -> None:
        live = (
            position.arrival_ms is None
            or time.time() * 1000 - position.arrival_ms <= self.settings.private_max_age_s * 1000
        )
        try:
            self.service.apply_execution(message, private=live)
        except (
            Exception
        ):  # a malformed message is skipped (and shows as a gap), never retried forever
            ERRORS.labels("marketdata_bad_execution").inc()
            log.exception(
                "skipping an executions message market data cannot apply", extra=_where(position)
            )

    def _on_account_message(self, message: dict[str, Any], position: RecordPosition) -> None:
        try:
            self.service.apply_account_message(message)
        except Exception:
            ERRORS.labels("marketdata_bad_account_message").inc()
            log.exception(
                "skipping an accounts message market data cannot route", extra=_where(position)
            )

    # -- snapshots -------------------------------------------------------------------------------

    async def _restore(self) -> dict[str, str] | None:
        try:
            response = await self._s3.get_object(Bucket=self._bucket, Key=SNAPSHOT_KEY)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                log.info("no market data snapshot yet; reading executions from the beginning")
                return None
            raise
        async with response["Body"] as body:
            data = await body.read()
        saved = orjson.loads(data)
        if saved.get("format") != SNAPSHOT_FORMAT:
            log.warning("ignoring a market data snapshot of an unknown format")
            return None
        state = MarketDataState.from_snapshot(
            saved["state"],
            trades_kept=self.settings.trades_kept,
            candles_kept=self.settings.candles_kept,
        )
        self.service.replace_state(state)
        positions: dict[str, str] = saved["positions"]
        self.restored_positions = positions
        log.info(
            "restored market data from a snapshot",
            extra={"positions": positions, "symbols": len(state.symbols), "bytes": len(data)},
        )
        return positions

    async def snapshot(self) -> bool:
        """Write the state and positions now; False if nothing was read since the last one."""
        reader = self.executions
        if reader is None or self._s3 is None:
            return False
        async with self._snapshot_lock:
            processed = reader.records_processed
            positions = reader.positions
            if processed == self._snapshotted_records or not positions:
                return False
            # Serialized synchronously: state and positions belong to the same instant.
            body = orjson.dumps(
                {
                    "format": SNAPSHOT_FORMAT,
                    "positions": positions,
                    "state": self.service.state.to_snapshot(),
                }
            )
            await self._s3.put_object(Bucket=self._bucket, Key=SNAPSHOT_KEY, Body=body)
            self._snapshotted_records = processed
            self._last_snapshot_at = time.monotonic()
            self.snapshots_written += 1
            return True

    async def _snapshot_loop(self) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(min(1.0, settings.snapshot_interval_s))
            reader = self.executions
            if reader is None:
                continue
            due_by_count = (
                reader.records_processed - self._snapshotted_records
                >= settings.snapshot_every_records
            )
            due_by_time = time.monotonic() - self._last_snapshot_at >= settings.snapshot_interval_s
            if due_by_count or due_by_time:
                try:
                    await self.snapshot()
                except Exception:
                    ERRORS.labels("marketdata_snapshot").inc()
                    log.exception("market data snapshot failed; will retry")


def _read_once(reader: StreamReader, *, lag: int | None) -> bool:
    """Every shard of `reader` answered a GetRecords (with `MillisBehindLatest == lag`, if a
    lag is given)."""
    status = reader.status()
    shards = status["shards"]
    if not shards and not status["finished"]:
        return False
    if lag is None:
        return all(s["lag_ms"] is not None for s in shards.values())
    return all(s["lag_ms"] == lag for s in shards.values())


def _where(position: RecordPosition) -> dict[str, Any]:
    return {
        "shard": position.shard_id,
        "sequence_number": position.sequence_number,
        "index": position.index,
    }

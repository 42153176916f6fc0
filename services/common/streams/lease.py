"""Shard leases in DynamoDB: one writer per shard (DESIGN.md rule 1), checkpoints and the pointer to
the latest snapshot, all in one item per (consumer group, stream, shard) of the `leases` table.

Item (pk `LEASE#<group>#<stream>`, sk `SHARD#<shard id>`):
    owner         who holds it (absent when free)
    fence         bumped on every acquisition; every owner write is conditional on owner AND fence
    heartbeat     bumped on every write, so others can see the owner is alive
    expires_at    epoch ms, for operators and for picking up long-dead leases after a restart
    checkpoint    sequence number: every output of the records up to it is durably published
    snapshot_key, snapshot_seq   latest snapshot in S3 and the position it reflects (<= checkpoint)
    finished      the shard is closed and fully processed (its children may start)

Validity by the owner's own clock: a write that started at monotonic time t makes the lease valid
until t + duration. The owner publishes only before t + duration - safety margin, and a renewal
that fails its condition means someone else took over: the owner stops before it writes again.
Another process takes a lease over only after seeing the same (owner, fence, heartbeat) for a
whole lease duration on *its* monotonic clock (so clock offsets between hosts do not matter), or
when the item's wall-clock expiry is over a whole duration in the past (a lease left by a process
that died long ago, found at startup; this one assumes clocks agree within a lease duration).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from services.common.metrics import ERRORS
from services.common.streams.config import LeaseConfig
from services.common.streams.retry import backoff_delay, error_code, is_transient

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker no longer owns the shard (or cannot prove it does): stop, write nothing more."""


@dataclass(frozen=True, slots=True)
class LeaseItem:
    """A lease item as read from the table."""

    shard_id: str
    owner: str | None
    fence: int
    heartbeat: int
    expires_at_ms: int
    checkpoint: str | None = None
    snapshot_key: str | None = None
    snapshot_seq: str | None = None
    finished: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LeaseItem:
        """From a raw DynamoDB item (low-level client format)."""

        def s(name: str) -> str | None:
            value = item.get(name)
            return value["S"] if value and "S" in value else None

        def n(name: str) -> int:
            value = item.get(name)
            return int(value["N"]) if value and "N" in value else 0

        return cls(
            shard_id=item["sk"]["S"].removeprefix("SHARD#"),
            owner=s("owner"),
            fence=n("fence"),
            heartbeat=n("heartbeat"),
            expires_at_ms=n("expires_at"),
            checkpoint=s("checkpoint"),
            snapshot_key=s("snapshot_key"),
            snapshot_seq=s("snapshot_seq"),
            finished=bool(item.get("finished", {}).get("BOOL", False)),
        )


def lease_key(group: str, stream: str, shard_id: str) -> dict[str, dict[str, str]]:
    """The DynamoDB key of a lease item."""
    return {"pk": {"S": f"LEASE#{group}#{stream}"}, "sk": {"S": f"SHARD#{shard_id}"}}


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class LeaseTable:
    """The lease items of one consumer group on one stream."""

    def __init__(self, dynamodb: Any, table_name: str, *, group: str, stream: str) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.group = group
        self.stream = stream

    def key(self, shard_id: str) -> dict[str, dict[str, str]]:
        """The DynamoDB key of a shard's lease item."""
        return lease_key(self.group, self.stream, shard_id)

    async def list(self) -> dict[str, LeaseItem]:
        """Every lease item of this group and stream, by shard id (strongly consistent read)."""
        items: dict[str, LeaseItem] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"LEASE#{self.group}#{self.stream}"}},
            "ConsistentRead": True,
        }
        while True:
            page = await self.dynamodb.query(**kwargs)
            for raw in page.get("Items", []):
                item = LeaseItem.from_item(raw)
                items[item.shard_id] = item
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    async def get(self, shard_id: str) -> LeaseItem | None:
        """One lease item, or None if the shard was never leased."""
        response = await self.dynamodb.get_item(
            TableName=self.table_name, Key=self.key(shard_id), ConsistentRead=True
        )
        return LeaseItem.from_item(response["Item"]) if "Item" in response else None


class LeaseObserver:
    """Decides, by this process's monotonic clock, when someone else's lease has expired."""

    def __init__(self, config: LeaseConfig) -> None:
        self._config = config
        self._seen: dict[str, tuple[tuple[str | None, int, int], float]] = {}

    def is_takeable(
        self, item: LeaseItem, *, now: float | None = None, wall_ms: int | None = None
    ) -> bool:
        """Record this sighting of `item`; True if it is free, or provably expired."""
        if item.finished:
            return False
        if item.owner is None:
            return True
        now = time.monotonic() if now is None else now
        wall_ms = _wall_ms() if wall_ms is None else wall_ms
        duration = self._config.duration_s
        version = (item.owner, item.fence, item.heartbeat)
        seen = self._seen.get(item.shard_id)
        if seen is None or seen[0] != version:
            self._seen[item.shard_id] = (version, now)
            unchanged_for = 0.0
        else:
            unchanged_for = now - seen[1]
        long_dead = item.expires_at_ms + duration * 1000 < wall_ms
        return unchanged_for >= duration or long_dead


class LeaseState(enum.StrEnum):
    """Where this process stands with a lease."""

    IDLE = "idle"
    VALID = "valid"
    UNCERTAIN = "uncertain"  # past its validity by our clock: no publishing until a renewal works
    LOST = "lost"
    RELEASED = "released"


class ShardLease:
    """This process's claim on one shard: acquire, keep alive, checkpoint, release.

    Every write after `acquire` is conditional on owner AND fence; a failed condition marks the
    lease lost and raises `LeaseLost`, and so does every later call.
    """

    def __init__(
        self, table: LeaseTable, shard_id: str, owner: str, config: LeaseConfig | None = None
    ) -> None:
        self.table = table
        self.shard_id = shard_id
        self.owner = owner
        self.config = config or LeaseConfig()
        self.state = LeaseState.IDLE
        self.fence = 0
        self.checkpoint_seq: str | None = None
        self.snapshot_key: str | None = None
        self.snapshot_seq: str | None = None
        self.lost_reason: str | None = None
        self._valid_until = 0.0
        self._last_write_started = 0.0
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ validity

    def is_valid(self, now: float | None = None) -> bool:
        """True while this owner may publish: held, and not within the safety margin of expiry."""
        now = time.monotonic() if now is None else now
        return self.state is LeaseState.VALID and now < self._valid_until - self.config.margin_s

    def ensure_held(self) -> None:
        """Raise `LeaseLost` if the lease was lost or released (uncertain still counts as held)."""
        if self.state in (LeaseState.LOST, LeaseState.RELEASED, LeaseState.IDLE):
            raise LeaseLost(
                f"{self.shard_id}: lease {self.state.value} ({self.lost_reason or 'not held'})"
            )

    async def wait_valid(self) -> None:
        """Return when the lease is safely valid; wait while a renewal decides; raise `LeaseLost`.
        The publish guard of every producer of a shard worker."""
        while True:
            self.ensure_held()
            if self.is_valid():
                return
            if self.state is LeaseState.VALID:
                self.state = LeaseState.UNCERTAIN
                log.warning(
                    "lease past its safe validity, publishing paused until renewed",
                    extra={"shard": self.shard_id, "owner": self.owner, "fence": self.fence},
                )
                self._changed.set()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.config.renew_every_s)

    @property
    def remaining_s(self) -> float:
        """Seconds of validity left by our clock (negative once past it)."""
        return self._valid_until - time.monotonic()

    # ------------------------------------------------------------------ writes

    async def acquire(self, observed: LeaseItem | None) -> bool:
        """Take the lease if it is still exactly as `observed` (None: never created). Bumps the
        fence. False if someone else moved first."""
        table = self.table
        started = time.monotonic()
        wall = _wall_ms()
        expires = wall + int(self.config.duration_s * 1000)
        try:
            if observed is None:
                fence, heartbeat = 1, 1
                await table.dynamodb.put_item(
                    TableName=table.table_name,
                    Item={
                        **table.key(self.shard_id),
                        "owner": {"S": self.owner},
                        "fence": {"N": "1"},
                        "heartbeat": {"N": "1"},
                        "expires_at": {"N": str(expires)},
                        "updated_at": {"N": str(wall)},
                        "acquired_at": {"N": str(wall)},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
                item = LeaseItem(self.shard_id, self.owner, fence, heartbeat, expires)
            else:
                fence, heartbeat = observed.fence + 1, observed.heartbeat + 1
                response = await table.dynamodb.update_item(
                    TableName=table.table_name,
                    Key=table.key(self.shard_id),
                    UpdateExpression=(
                        "SET #owner = :me, fence = :fence, heartbeat = :hb, expires_at = :exp, "
                        "updated_at = :now, acquired_at = :now"
                    ),
                    ConditionExpression="fence = :seen_fence AND heartbeat = :seen_hb",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={
                        ":me": {"S": self.owner},
                        ":fence": {"N": str(fence)},
                        ":hb": {"N": str(heartbeat)},
                        ":exp": {"N": str(expires)},
                        ":now": {"N": str(wall)},
                        ":seen_fence": {"N": str(observed.fence)},
                        ":seen_hb": {"N": str(observed.heartbeat)},
                    },
                    ReturnValues="ALL_NEW",
                )
                item = LeaseItem.from_item(response["Attributes"])
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        self.fence = fence
        self.checkpoint_seq = item.checkpoint
        self.snapshot_key = item.snapshot_key
        self.snapshot_seq = item.snapshot_seq
        self.lost_reason = None
        self._mark_written(started)
        log.info(
            "lease acquired",
            extra={
                "shard": self.shard_id,
                "owner": self.owner,
                "fence": fence,
                "previous_owner": observed.owner if observed else None,
                "checkpoint": item.checkpoint,
            },
        )
        return True

    async def renew(self) -> None:
        """One conditional renewal. Raises `LeaseLost`, or a transient AWS error to retry."""
        await self._owner_write("renew", "", {})

    async def checkpoint(
        self,
        sequence_number: str,
        *,
        snapshot_key: str | None = None,
        finished: bool = False,
    ) -> None:
        """Record that every output of the records up to `sequence_number` is published (and, with
        `snapshot_key`, that this snapshot reflects exactly that position). Retries transient
        errors while the lease lasts; raises `LeaseLost`."""
        await self.wait_valid()
        sets = ["checkpoint = :cp"]
        values: dict[str, Any] = {":cp": {"S": sequence_number}}
        if snapshot_key is not None:
            sets += ["snapshot_key = :sk", "snapshot_seq = :cp"]
            values[":sk"] = {"S": snapshot_key}
        if finished:
            sets.append("finished = :true")
            values[":true"] = {"BOOL": True}
        attempt = 0
        while True:
            try:
                await self._owner_write("checkpoint", ", ".join(sets), values)
                break
            except LeaseLost:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ERRORS.labels("lease_write_retry").inc()
                await asyncio.sleep(backoff_delay(attempt, base_s=0.05, cap_s=1.0))
                attempt += 1
                await self.wait_valid()
        self.checkpoint_seq = sequence_number
        if snapshot_key is not None:
            self.snapshot_key = snapshot_key
            self.snapshot_seq = sequence_number

    async def release(self) -> None:
        """Give the lease up (graceful shutdown); others may take it at once. Best effort."""
        if self.state not in (LeaseState.VALID, LeaseState.UNCERTAIN):
            return
        table = self.table
        try:
            await table.dynamodb.update_item(
                TableName=table.table_name,
                Key=table.key(self.shard_id),
                UpdateExpression=(
                    "SET expires_at = :zero, updated_at = :now, heartbeat = heartbeat + :one "
                    "REMOVE #owner"
                ),
                ConditionExpression="#owner = :me AND fence = :fence",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":me": {"S": self.owner},
                    ":fence": {"N": str(self.fence)},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":now": {"N": str(_wall_ms())},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                log.warning(
                    "lease release failed", extra={"shard": self.shard_id, "error": repr(exc)}
                )
                return
        except Exception as exc:  # best effort: the lease expires by itself
            log.warning("lease release failed", extra={"shard": self.shard_id, "error": repr(exc)})
            return
        self.state = LeaseState.RELEASED
        self._changed.set()
        log.info(
            "lease released",
            extra={"shard": self.shard_id, "owner": self.owner, "fence": self.fence},
        )

    async def keep_alive(self) -> None:
        """Renew every `renew_interval_s` until the lease is lost or released; retry transient
        errors with backoff (publishing pauses by itself once validity runs short). Returns when
        the lease is gone; never raises for AWS errors."""
        attempt = 0
        while self.state in (LeaseState.VALID, LeaseState.UNCERTAIN):
            due = self._last_write_started + self.config.renew_every_s
            delay = due - time.monotonic()
            if delay > 0:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), delay)
                continue
            try:
                await self.renew()
                attempt = 0
            except LeaseLost:
                return
            except Exception as exc:
                if not is_transient(exc):
                    log.error(
                        "lease renewal failed", extra={"shard": self.shard_id, "error": repr(exc)}
                    )
                ERRORS.labels("lease_renew").inc()
                await asyncio.sleep(backoff_delay(attempt, base_s=0.1, cap_s=1.0))
                attempt += 1

    # ------------------------------------------------------------------ internals

    async def _owner_write(self, what: str, sets: str, values: dict[str, Any]) -> None:
        self.ensure_held()
        table = self.table
        started = time.monotonic()
        wall = _wall_ms()
        set_clause = "expires_at = :exp, updated_at = :now, heartbeat = heartbeat + :one"
        if sets:
            set_clause = f"{sets}, {set_clause}"
        try:
            await table.dynamodb.update_item(
                TableName=table.table_name,
                Key=table.key(self.shard_id),
                UpdateExpression=f"SET {set_clause}",
                ConditionExpression="#owner = :me AND fence = :fence",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    **values,
                    ":me": {"S": self.owner},
                    ":fence": {"N": str(self.fence)},
                    ":exp": {"N": str(wall + int(self.config.duration_s * 1000))},
                    ":now": {"N": str(wall)},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                self._mark_lost(f"conditional {what} failed: the lease has another owner or fence")
                raise LeaseLost(f"{self.shard_id}: {self.lost_reason}") from exc
            raise
        self._mark_written(started)

    def _mark_written(self, started: float) -> None:
        self._last_write_started = max(self._last_write_started, started)
        self._valid_until = max(self._valid_until, started + self.config.duration_s)
        if self.state in (LeaseState.IDLE, LeaseState.UNCERTAIN, LeaseState.VALID):
            if self.state is LeaseState.UNCERTAIN:
                log.info(
                    "lease renewed after a pause",
                    extra={"shard": self.shard_id, "fence": self.fence},
                )
            self.state = LeaseState.VALID
        self._changed.set()

    def _mark_lost(self, reason: str) -> None:
        if self.state is LeaseState.LOST:
            return
        self.state = LeaseState.LOST
        self.lost_reason = reason
        self._changed.set()
        ERRORS.labels("lease_lost").inc()
        log.warning(
            "lease lost",
            extra={
                "shard": self.shard_id,
                "owner": self.owner,
                "fence": self.fence,
                "reason": reason,
            },
        )

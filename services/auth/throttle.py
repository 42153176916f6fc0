"""Login throttling: failures counted per e-mail and per client IP in DynamoDB (with TTL).

Counters live in the users table, so they survive restarts and are shared by every replica.
After `max_failures` failures within `window_s`, each further attempt must wait
`base_delay * 2^(failures - max_failures)` seconds (capped) after the last failure; an attempt
made earlier is answered 429 `too_many_attempts` with `Retry-After` and the password is not even
checked. Failures older than the window are forgotten.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from services.auth.store import is_condition_failure
from services.common.errors import TooManyRequests


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures_per_email: int = 5
    max_failures_per_ip: int = 50
    window_s: int = 900
    base_delay_s: float = 1.0
    max_delay_s: float = 900.0

    def delay(self, failures: int, limit: int) -> float:
        """Seconds an attempt must wait after the last failure."""
        if failures < limit:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** min(failures - limit, 30))


def _key(kind: str, value: str) -> dict[str, str]:
    return {"pk": f"THROTTLE#{kind}#{value}", "sk": "THROTTLE"}


class LoginThrottle:
    def __init__(
        self,
        table: Any,
        policy: ThrottlePolicy,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._policy = policy
        self._clock = clock

    async def check(self, email: str, ip: str) -> None:
        """Raise 429 when either the e-mail or the IP must still wait."""
        now = self._clock()
        wait = 0.0
        for kind, value, limit in self._counters(email, ip):
            response = await self._table.get_item(Key=_key(kind, value), ConsistentRead=True)
            item = response.get("Item")
            if not item:
                continue
            last = int(item["last_failure_ms"]) / 1000
            if now - last > self._policy.window_s:
                continue
            ready_at = last + self._policy.delay(int(item["failures"]), limit)
            wait = max(wait, ready_at - now)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"Too many failed sign-ins; try again in {retry_after} s.",
                code="too_many_attempts",
                retry_after=retry_after,
            )

    async def record_failure(self, email: str, ip: str) -> None:
        now = self._clock()
        for kind, value, _ in self._counters(email, ip):
            await self._count(_key(kind, value), now)

    async def record_success(self, email: str) -> None:
        # The IP counter is kept: a valid login of one's own must not reset a spray of guesses.
        await self._table.delete_item(Key=_key("EMAIL", email))

    def _counters(self, email: str, ip: str) -> list[tuple[str, str, int]]:
        return [
            ("EMAIL", email, self._policy.max_failures_per_email),
            ("IP", ip, self._policy.max_failures_per_ip),
        ]

    async def _count(self, key: dict[str, str], now: float) -> None:
        now_ms = int(now * 1000)
        expires_at = int(now + self._policy.window_s + 60)
        values = {":now": now_ms, ":one": 1, ":zero": 0, ":exp": expires_at}
        try:
            await self._table.update_item(
                Key=key,
                UpdateExpression=(
                    "SET failures = if_not_exists(failures, :zero) + :one, "
                    "last_failure_ms = :now, expires_at = :exp"
                ),
                # A counter whose last failure is outside the window starts again at one.
                ConditionExpression="attribute_not_exists(pk) OR last_failure_ms >= :stale",
                ExpressionAttributeValues={
                    **values,
                    ":stale": now_ms - self._policy.window_s * 1000,
                },
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            await self._table.put_item(
                Item={**key, "failures": 1, "last_failure_ms": now_ms, "expires_at": expires_at}
            )

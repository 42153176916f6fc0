"""Request throttling as API Gateway does it: token buckets per client IP and per account.

The account is the JWT `sub` read *without* verifying the token, or the API key id in
`X-TS-APIKEY`. That is enough to pick a bucket; the services verify every credential. A client
forging someone else's `sub` can only spend that account's bucket from its own IP, which the
per-IP bucket still limits.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from dataclasses import dataclass

import orjson
from starlette.types import Scope

from services.gateway.settings import GatewaySettings

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_MAX_TOKEN_BYTES = 8192
_SWEEP_EVERY_S = 60.0


@dataclass(slots=True)
class TokenBucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets with one rate and burst, keyed by any string; idle buckets are swept."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.buckets: dict[str, TokenBucket] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S

    def refilled(self, key: str, now: float) -> TokenBucket:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.burst, now)
        elif bucket.tokens < self.burst:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def wait_s(self, bucket: TokenBucket) -> float:
        """Seconds until `bucket` holds a whole token (0 if it does now)."""
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.rate

    def sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave like new ones."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        full_after = self.burst / self.rate
        self.buckets = {
            key: bucket for key, bucket in self.buckets.items() if now - bucket.updated < full_after
        }


class Throttle:
    """Decides whether a request may pass; returns the `Retry-After` seconds when it may not."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.enabled = settings.gateway_throttle_enabled
        self.exempt_loopback = settings.gateway_throttle_exempt_loopback
        self.per_ip = RateLimiter(
            settings.gateway_throttle_ip_rate, settings.gateway_throttle_ip_burst
        )
        self.per_account = RateLimiter(
            settings.gateway_throttle_account_rate, settings.gateway_throttle_account_burst
        )

    def retry_after(self, scope: Scope) -> int | None:
        """None if the request may pass (and spend a token from each of its buckets)."""
        if not self.enabled:
            return None
        now = time.monotonic()
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        ip_bucket = None
        if not (self.exempt_loopback and ip in _LOOPBACK):
            ip_bucket = self.per_ip.refilled(ip, now)
        account = account_key(scope)
        account_bucket = self.per_account.refilled(account, now) if account else None

        wait = 0.0
        if ip_bucket is not None:
            wait = self.per_ip.wait_s(ip_bucket)
        if account_bucket is not None:
            wait = max(wait, self.per_account.wait_s(account_bucket))
        if wait > 0:
            return max(1, math.ceil(wait))
        # Spend only when every bucket has a token, so a refused request costs nothing.
        if ip_bucket is not None:
            ip_bucket.tokens -= 1.0
        if account_bucket is not None:
            account_bucket.tokens -= 1.0
        self.per_ip.sweep(now)
        self.per_account.sweep(now)
        return None


def account_key(scope: Scope) -> str | None:
    """`key:<api key id>` or `sub:<JWT subject>` for bucketing, without verifying anything."""
    authorization = None
    for name, value in scope["headers"]:
        if name == b"x-ts-apikey":
            return "key:" + value.decode("latin-1")[:128]
        if name == b"authorization":
            authorization = value
    if authorization is None:
        return None
    subject = unverified_subject(authorization)
    return "sub:" + subject if subject else None


def unverified_subject(authorization: bytes) -> str | None:
    """The `sub` claim of a `Bearer <JWT>` header, or None if it does not look like one."""
    if len(authorization) > _MAX_TOKEN_BYTES or authorization[:7].lower() != b"bearer ":
        return None
    parts = authorization[7:].strip().split(b".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject[:128] if isinstance(subject, str) and subject else None

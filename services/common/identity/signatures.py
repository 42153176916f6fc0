"""Requests signed with an API key: HMAC-SHA256 over timestamp, method, path, query and body.

    X-TS-APIKEY:    the key id (`tsk_...`)
    X-TS-TIMESTAMP: milliseconds since the epoch when the client signed
    X-TS-SIGNATURE: hex HMAC-SHA256(secret, timestamp + METHOD + path + ["?" + query] + body)

`path` and `query` are exactly as sent on the wire (percent-encoding untouched); "?" + query is
present only when the query string is not empty; `body` is the raw body bytes. A request is
accepted within the receive window around the server's clock, and each signature only once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from services.common.errors import Unauthorized
from services.common.identity.api_keys import ApiKeyLookup
from services.common.identity.user import AuthenticatedUser, AuthMethod, Role

HEADER_API_KEY = "X-TS-APIKEY"
HEADER_TIMESTAMP = "X-TS-TIMESTAMP"
HEADER_SIGNATURE = "X-TS-SIGNATURE"


def signature_payload(
    timestamp_ms: int | str, method: str, path: str, query: str, body: bytes
) -> bytes:
    """The exact bytes a signature covers."""
    target = f"{path}?{query}" if query else path
    return f"{timestamp_ms}{method.upper()}{target}".encode() + body


def sign_request(
    secret: str, timestamp_ms: int | str, method: str, path: str, query: str = "", body: bytes = b""
) -> str:
    """Hex HMAC-SHA256 of a request; what a client puts in `X-TS-SIGNATURE`."""
    payload = signature_payload(timestamp_ms, method, path, query, body)
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """The three headers of a signed request (a client-side helper, used by tests and the CLI)."""
    stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    return {
        HEADER_API_KEY: key_id,
        HEADER_TIMESTAMP: str(stamp),
        HEADER_SIGNATURE: sign_request(secret, stamp, method, path, query, body),
    }


class RecentSignatures:
    """Signatures accepted in the last receive window, per process, so a replay is refused.

    Memory per process (not DynamoDB): no extra write on every signed request. The cost: with
    several replicas a captured request could be replayed once on *another* replica within the
    window (5 s by default); see docs/auth.md.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._max_entries = max_entries

    def first_time(self, signature: str, forget_after_ms: int, now_ms: int) -> bool:
        """Record `signature`; False when it was already seen and has not expired."""
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now_ms and len(self._seen) < self._max_entries:
                break
            del self._seen[oldest]
        if signature in self._seen:
            return False
        self._seen[signature] = forget_after_ms
        return True


class SignatureVerifier:
    """Turns a signed request into the same `AuthenticatedUser` a bearer token would give."""

    def __init__(
        self,
        lookup: ApiKeyLookup,
        *,
        window_ms: int = 5000,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.lookup = lookup
        self._window_ms = window_ms
        self._clock_ms = clock_ms
        self._recent = RecentSignatures()

    async def verify(
        self, headers: Mapping[str, str], method: str, path: str, query: str, body: bytes
    ) -> AuthenticatedUser:
        key_id = headers.get(HEADER_API_KEY.lower(), "")
        raw_stamp = headers.get(HEADER_TIMESTAMP.lower(), "")
        signature = headers.get(HEADER_SIGNATURE.lower(), "").lower()
        if not raw_stamp or not signature:
            raise Unauthorized(
                f"Signed requests need {HEADER_API_KEY}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE}.",
                code="signature_invalid",
            )
        if not raw_stamp.isdigit() or len(raw_stamp) > 16:
            raise Unauthorized(
                f"{HEADER_TIMESTAMP} must be milliseconds since the epoch.",
                code="signature_invalid",
            )
        stamp = int(raw_stamp)
        now = self._clock_ms()
        if abs(now - stamp) > self._window_ms:
            raise Unauthorized(
                f"{HEADER_TIMESTAMP} is {now - stamp} ms away from the server clock; the receive "
                f"window is {self._window_ms} ms.",
                code="timestamp_outside_window",
                server_time_ms=now,
            )
        found = await self.lookup.find(key_id)
        if found is None:
            raise Unauthorized("Unknown or deleted API key.", code="invalid_api_key")
        record, secret = found
        expected = hmac.new(
            secret, signature_payload(raw_stamp, method, path, query, body), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise Unauthorized("The request signature does not match.", code="signature_invalid")
        # Checked after the signature, so forged requests cannot fill the cache.
        if not self._recent.first_time(f"{key_id}:{signature}", stamp + self._window_ms + 1, now):
            raise Unauthorized(
                "This signed request was already received.", code="signature_replayed"
            )
        return AuthenticatedUser(
            user_id=record.user_id,
            roles=frozenset({Role.TRADER}),
            auth_method=AuthMethod.API_KEY,
            permissions=record.permissions,
            email=record.email or None,
            api_key_id=record.key_id,
        )

"""CORS for browsers calling the API from another origin (same-origin pages need none)."""

from __future__ import annotations

import re
from collections.abc import Collection

from starlette.types import Receive, Scope, Send

from services.common.errors import error_response

LOCALHOST_ORIGINS = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")
_CORS_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_EXPOSE = b"X-Request-Id, Retry-After"


class CorsPolicy:
    """Which other origins may call the API from a browser. Same-origin needs no CORS at all.

    Credentials (cookies) are never allowed: the API takes bearer tokens and API keys."""

    def __init__(self, origins: Collection[str], *, localhost: bool) -> None:
        self.origins = frozenset(origin.encode() for origin in origins)
        self.localhost = localhost

    def allows(self, origin: bytes) -> bool:
        if origin in self.origins:
            return True
        return self.localhost and LOCALHOST_ORIGINS.fullmatch(origin.decode("latin-1")) is not None

    def response_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        if not self.allows(origin):
            return [(b"vary", b"Origin")]
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-expose-headers", _CORS_EXPOSE),
            (b"vary", b"Origin"),
        ]

    async def preflight(self, scope: Scope, receive: Receive, send: Send, origin: bytes) -> None:
        if not self.allows(origin):
            response = error_response(403, "cors_origin_not_allowed", "Origin not allowed.")
            await response(scope, receive, send)
            return
        requested = b""
        for name, value in scope["headers"]:
            if name == b"access-control-request-headers":
                requested = value
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", _CORS_METHODS),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        if requested:
            headers.append((b"access-control-allow-headers", requested))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

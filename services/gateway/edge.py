"""What every request through the gateway gets, as CloudFront and API Gateway would add it:
a request id, CORS, security headers, one JSON access-log line, and metrics for proxied routes.

One pure-ASGI middleware with one pass over the request headers and one `send` wrapper, because
it is on the path of every order.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logging import request_id_var
from services.common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from services.gateway.access_log import AccessLog
from services.gateway.cors import CorsPolicy
from services.gateway.settings import GatewaySettings

# Scope keys the router fills in for the access log and metrics.
UPSTREAM_KEY = "tradestack.upstream"
ROUTE_KEY = "tradestack.route"

# An incoming request id is kept if it is short and plain; anything else is replaced.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")


class EdgeMiddleware:
    """Request id in and out, CORS, security headers on every response, access log, metrics."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log
        self.cors = CorsPolicy(
            settings.gateway_cors_origins, localhost=settings.cors_localhost_allowed
        )
        self.security_headers: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", settings.gateway_csp.encode()),
        ]
        self.hsts: list[tuple[bytes, bytes]] = []
        if settings.gateway_hsts_max_age_s:
            value = f"max-age={settings.gateway_hsts_max_age_s}; includeSubDomains"
            self.hsts = [(b"strict-transport-security", value.encode())]
        self._metric_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id, origin, preflight = _read_headers(scope)
        # HSTS only where the client really used TLS (directly, or per a trusted proxy's
        # X-Forwarded-Proto, which uvicorn applies to the scheme).
        tls = scope.get("scheme") in ("https", "wss")
        extra = [(b"x-request-id", request_id), *self.security_headers, *(self.hsts if tls else ())]
        if origin is not None and kind == "http" and not preflight:
            extra += self.cors.response_headers(origin)
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            message_type = message["type"]
            if (
                message_type == "http.response.start"
                or message_type == "websocket.http.response.start"
            ):
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            elif message_type == "websocket.accept":
                status = 101
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            elif message_type == "websocket.close" and status == 0:
                status = 403  # refused before the handshake completed
            await send(message)

        token = request_id_var.set(request_id.decode())
        try:
            if preflight and origin is not None:
                await self.cors.preflight(scope, receive, send_with_headers, origin)
            else:
                await self.app(scope, receive, send_with_headers)
        except BaseException:
            status = status or 500
            raise
        finally:
            request_id_var.reset(token)
            elapsed = time.perf_counter() - start
            route = scope.get(ROUTE_KEY)
            if route is not None and kind == "http":
                self._observe(scope["method"], route, status, elapsed)
            client = scope.get("client")
            self.access_log.request(
                method=scope["method"] if kind == "http" else "WS",
                path=scope["path"],
                status=status,
                duration_s=elapsed,
                request_id=request_id.decode(),
                client_ip=client[0] if client else None,
                upstream=scope.get(UPSTREAM_KEY),
            )

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Request count and latency of a proxied route (the gateway's own routes are counted by
        the MetricsMiddleware of its FastAPI app). Label children are cached: this runs per order."""
        key = (method, route, status)
        children = self._metric_children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(method, route, str(status)),
                HTTP_LATENCY.labels(method, route),
            )
            if len(self._metric_children) < 1000:  # bounded: methods and statuses are few
                self._metric_children[key] = children
        children[0].inc()
        children[1].observe(elapsed)


def _read_headers(scope: Scope) -> tuple[bytes, bytes | None, bool]:
    """One pass over the request headers: the request id (the client's `X-Request-Id` if sane,
    else a new one, written into the scope so the services and the gateway's own routes see the
    same id), the Origin, and whether this is a CORS preflight."""
    headers = scope["headers"]
    request_id = origin = None
    preflight = False
    for name, value in headers:
        if name == b"x-request-id":
            request_id = value
        elif name == b"origin":
            origin = value
        elif name == b"access-control-request-method":
            preflight = scope.get("method") == "OPTIONS"
    if request_id is not None and _SANE_REQUEST_ID.fullmatch(request_id):
        return request_id, origin, preflight
    if request_id is not None:
        headers = [pair for pair in headers if pair[0] != b"x-request-id"]
    request_id = b"%032x" % random.getrandbits(128)  # like uuid4().hex, without a syscall
    scope["headers"] = [*headers, (b"x-request-id", request_id)]
    return request_id, origin, preflight

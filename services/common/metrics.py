"""Prometheus metrics every service exposes at `/metrics`.

Names are shared so one dashboard reads every service: HTTP requests and latency, stream records
processed, stream lag, errors.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "tradestack_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tradestack_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RECORDS_PROCESSED = Counter(
    "tradestack_stream_records_total", "Stream records processed", ["stream", "worker"]
)
MESSAGES_PUBLISHED = Counter(
    "tradestack_stream_messages_published_total", "Messages published", ["stream"]
)
STREAM_LAG_MS = Gauge(
    "tradestack_stream_lag_milliseconds",
    "MillisBehindLatest of the last GetRecords",
    ["stream", "shard"],
)
ERRORS = Counter("tradestack_errors_total", "Errors by kind", ["kind"])


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts requests and latency per route template (not per raw path, to bound cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, template, str(status_holder["status"])).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - start)


ReadinessCheck = Callable[[], Awaitable[None]]

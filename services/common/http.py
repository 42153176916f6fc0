"""The FastAPI app every service starts from: errors, request ids, metrics, health, readiness.

A service's `app.py` calls `create_service_app(...)` with its routers and readiness checks and
stays a few dozen lines long.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import ErrorJSONResponse, error_response, install_error_handlers
from services.common.logging import request_id_var
from services.common.metrics import MetricsMiddleware, ReadinessCheck, metrics_endpoint
from services.common.settings import BaseServiceSettings

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class RequestContextMiddleware:
    """Takes `X-Request-Id` from the request (the gateway sets it) or makes one, logs it on every
    line of the request, returns it on the response, and refuses bodies over the size limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw_id = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = raw_id if 0 < len(raw_id) <= 128 and raw_id.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            if scope["type"] == "http":
                declared = headers.get(b"content-length")
                if (
                    declared is not None
                    and declared.isdigit()
                    and int(declared) > self.max_body_bytes
                ):
                    response = error_response(
                        413, "payload_too_large", f"Request body over {self.max_body_bytes} bytes."
                    )
                    response.headers["x-request-id"] = request_id
                    await response(scope, receive, send)
                    return
                receive = self._limited(receive)

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"x-request-id", request_id.encode()),
                    ]
                await send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message

        return limited_receive


class _BodyTooLarge(Exception):
    pass


def create_service_app(
    settings: BaseServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    version: str = "0.1.0",
) -> FastAPI:
    """Build a service's FastAPI app with the platform's middleware and endpoints."""
    checks = dict(readiness or {})

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        if lifespan is None:
            yield
            return
        async with lifespan(app):
            yield

    app = FastAPI(
        title=title,
        version=version,
        lifespan=_lifespan,
    )
    install_error_handlers(app)

    @app.exception_handler(_BodyTooLarge)
    async def _too_large(_: object, __: _BodyTooLarge) -> ErrorJSONResponse:
        return error_response(
            413, "payload_too_large", f"Request body over {max_body_bytes} bytes."
        )

    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body_bytes)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> ErrorJSONResponse:
        results: dict[str, str] = {}
        ready = True
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=3.0)
                results[name] = "ok"
            except Exception as exc:  # a readiness probe reports any failure, it never raises
                ready = False
                results[name] = f"{type(exc).__name__}: {exc}"[:200]
        body = {"status": "ready" if ready else "unready", "checks": results}
        return ErrorJSONResponse(body, status_code=200 if ready else 503)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    return app

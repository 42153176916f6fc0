"""A worker process as an ASGI app: its lifespan runs a stream consumer; it serves /healthz,
/readyz, /metrics and /status on its own port (so `tradestack up` runs it like any service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI

from services.common.http import create_service_app
from services.orders.settings import OrdersSettings


class Consumer(Protocol):
    running: bool

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


def consumer_app(settings: OrdersSettings, consumer: Consumer, *, title: str) -> FastAPI:
    """The app of a worker process running `consumer` for as long as the app lives."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run(), name=title)
        try:
            yield
        finally:
            consumer.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def running() -> None:
        if not consumer.running:
            raise RuntimeError("the consumer is not running yet")

    router = APIRouter()

    @router.get("/status", include_in_schema=False)
    async def status() -> dict[str, Any]:
        return consumer.status()

    return create_service_app(
        settings, title=title, routers=[router], readiness={"consumer": running}, lifespan=lifespan
    )

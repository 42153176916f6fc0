"""A worker process as an ASGI app: its lifespan runs a stream consumer; it serves /healthz,
/readyz, /metrics and /status on its own port (so `tradestack up` runs it like any service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI

from services.common.aws import DynamoDBProbe
from services.common.http import create_service_app
from services.common.resources import physical_name
from services.orders.settings import OrdersSettings


class Consumer(Protocol):
    running: bool

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


def consumer_app(settings: OrdersSettings, consumer: Consumer, *, title: str) -> FastAPI:
    """The app of a worker process running `consumer` for as long as the app lives. Ready while
    the consumer runs and the AWS endpoint answers (its leases table)."""
    aws = DynamoDBProbe(physical_name(settings.resource_prefix, "leases"))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run(), name=title)
        try:
            yield
        finally:
            consumer.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await aws.aclose()

    async def running() -> None:
        if not consumer.running:
            raise RuntimeError("the consumer is not running yet")

    router = APIRouter()

    @router.get("/status", include_in_schema=False)
    async def status() -> dict[str, Any]:
        return consumer.status()

    return create_service_app(
        settings,
        title=title,
        routers=[router],
        readiness={"consumer": running, "aws": aws},
        lifespan=lifespan,
    )

"""The matching service: the engine's shard workers plus a small admin API (port 8004)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.aws import DynamoDBProbe
from services.common.http import create_service_app
from services.common.logging import configure_logging
from services.common.resources import physical_name
from services.matching.api import router
from services.matching.settings import MatchingSettings
from services.matching.worker import build_consumer_group

settings = MatchingSettings()
configure_logging(settings.service_name, settings.log_level, settings.log_format)
consumer_group = build_consumer_group(settings)
# Ready only while the AWS endpoint answers, not merely while the consumer task runs.
aws_probe = DynamoDBProbe(physical_name(settings.resource_prefix, "leases"))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.consumer_group = consumer_group
    task = asyncio.create_task(consumer_group.run(), name="matching-consumer-group")
    try:
        yield
    finally:
        consumer_group.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await aws_probe.aclose()


async def consumer_group_running() -> None:
    if not consumer_group.running:
        raise RuntimeError("the consumer group is not running yet")


app = create_service_app(
    settings,
    title="Tradestack matching",
    routers=[router],
    readiness={"consumer_group": consumer_group_running, "aws": aws_probe},
    lifespan=lifespan,
)

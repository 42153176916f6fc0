"""The auth service's app: `uvicorn services.auth.app:app` (port 8001, routed at `/api/auth`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.auth.api import router
from services.auth.service import AuthService
from services.auth.settings import AuthSettings
from services.common.http import create_service_app
from services.common.identity import install_verifier
from services.common.logging import configure_logging


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or AuthSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not logging.getLogger().handlers:  # leave a host's logging (pytest, ...) alone
            configure_logging(settings.service_name, settings.log_level, settings.log_format)
        async with AsyncExitStack() as stack:
            service = await AuthService.open(settings, stack)
            await service.ensure_bootstrap_admin()
            app.state.auth = service
            install_verifier(app, service.verifier)
            yield

    async def dynamodb_reachable() -> None:
        await app.state.auth.tables.users.get_item(Key={"pk": "READINESS", "sk": "READINESS"})

    app = create_service_app(
        settings,
        title="Tradestack auth",
        routers=[router],
        readiness={"dynamodb": dynamodb_reachable},
        lifespan=lifespan,
    )
    return app


app = create_app()

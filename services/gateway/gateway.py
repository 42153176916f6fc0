"""The gateway as one ASGI app, built from its settings (no side effects on import).

Layers, outermost first:
- `EdgeMiddleware`: request id, CORS, security headers, access log, metrics;
- `GatewayRouter`: `/api/...` and `/ws` to the owning service (throttled), the rest to
- the gateway's own FastAPI app: `/api/openapi.json`, `/api/docs`, `/healthz`, `/readyz`,
  `/metrics`, and `web/` at `/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from services.common.errors import install_error_handlers
from services.common.metrics import MetricsMiddleware, metrics_endpoint
from services.gateway.access_log import AccessLog
from services.gateway.docs import docs_router
from services.gateway.edge import EdgeMiddleware
from services.gateway.health import ServiceProbe, health_router
from services.gateway.openapi import MergedOpenApi
from services.gateway.proxy import UpstreamProxy
from services.gateway.routing import GatewayRouter
from services.gateway.settings import GatewaySettings
from services.gateway.static import WebAssets
from services.gateway.throttle import Throttle


def create_gateway(settings: GatewaySettings, access_log: AccessLog | None = None) -> ASGIApp:
    """The gateway as one ASGI app (its lifespan closes the upstream connections)."""
    proxy = UpstreamProxy(settings)
    spec = MergedOpenApi(settings.service_urls, ttl_s=settings.gateway_openapi_ttl_s)
    probe = ServiceProbe(settings.service_urls)
    if access_log is None:
        access_log = AccessLog(service=settings.service_name, enabled=settings.gateway_access_log)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await proxy.aclose()
            await spec.aclose()
            await probe.aclose()
            access_log.flush()

    site = FastAPI(
        title="Tradestack gateway",
        openapi_url=None,  # the gateway serves the merged document instead
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(site)
    site.add_middleware(MetricsMiddleware)
    site.include_router(docs_router(spec, settings.gateway_web_dir))
    site.include_router(health_router(probe))
    site.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    site.mount("/", WebAssets(settings.gateway_web_dir), name="web")

    router = GatewayRouter(site, proxy, Throttle(settings), settings.service_urls)
    return EdgeMiddleware(router, settings, access_log)

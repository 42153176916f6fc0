"""`/healthz` and `/readyz` of the gateway itself.

The gateway is ready as soon as it runs: it serves the web UI and docs on its own, and routes to
whichever services are up. Taking it out of a load balancer because one service is down would turn
a partial outage into a total one, so upstream reachability is reported as information only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
from fastapi import APIRouter


class ServiceProbe:
    """Asks every service's `/healthz` whether it answers."""

    def __init__(self, service_urls: Mapping[str, str], timeout_s: float = 1.0) -> None:
        self.service_urls = dict(service_urls)
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def check_all(self) -> dict[str, str]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, trust_env=False)
        names = list(self.service_urls)
        results = await asyncio.gather(*(self._check(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _check(self, name: str) -> str:
        assert self._client is not None
        try:
            response = await self._client.get(self.service_urls[name] + "/healthz")
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "unreachable"
        return "ok" if response.status_code == 200 else f"HTTP {response.status_code}"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def health_router(probe: ServiceProbe) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @router.get("/readyz")
    async def readyz() -> dict[str, object]:
        return {"status": "ready", "upstreams": await probe.check_all()}

    return router

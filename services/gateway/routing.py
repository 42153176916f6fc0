"""Which requests the gateway forwards (topology.ROUTES, longest prefix) and which it serves."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import error_response
from services.common.metrics import ERRORS
from services.common.topology import GATEWAY_OWNED_PREFIXES, ROUTES, route_for
from services.gateway.edge import ROUTE_KEY, UPSTREAM_KEY
from services.gateway.proxy import UpstreamProxy, error_body, reject_websocket
from services.gateway.throttle import Throttle
from services.gateway.upstream import Upstream

_OWNED_API_PREFIXES = tuple(p for p in GATEWAY_OWNED_PREFIXES if p.startswith("/api"))


class GatewayRouter:
    """Routed paths go to their service through the throttle; unknown `/api/...` paths get a 404
    in the API's error shape; everything else (web UI, docs, health) goes to the gateway's app."""

    def __init__(
        self,
        site: ASGIApp,
        proxy: UpstreamProxy,
        throttle: Throttle,
        service_urls: Mapping[str, str],
    ) -> None:
        self.site = site
        self.proxy = proxy
        self.throttle = throttle
        owners = {route.service for route in ROUTES}
        missing = owners - set(service_urls)
        if missing:
            raise ValueError(f"no URL for service(s) {', '.join(sorted(missing))}")
        self.upstreams = {name: Upstream.from_url(name, service_urls[name]) for name in owners}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.site(scope, receive, send)
            return
        path: str = scope["path"]
        route = route_for(path)
        if route is None:
            if path == "/api" or (path.startswith("/api/") and not _gateway_owned(path)):
                await _not_found(scope, receive, send)
            else:
                await self.site(scope, receive, send)
            return
        # A plain HTTP request on a WebSocket route still goes to its service (it answers).
        if kind == "websocket" and not route.websocket:
            await _not_found(scope, receive, send)
            return
        upstream = self.upstreams[route.service]
        scope[UPSTREAM_KEY] = route.service
        scope[ROUTE_KEY] = route.prefix
        retry_after = self.throttle.retry_after(scope)
        if retry_after is not None:
            ERRORS.labels("throttled").inc()
            message = "Too many requests; slow down."
            if kind == "websocket":
                body = error_body("too_many_requests", message)
                retry = [(b"retry-after", str(retry_after).encode())]
                await reject_websocket(scope, send, 429, body, retry)
                return
            response = error_response(429, "too_many_requests", message)
            response.headers["retry-after"] = str(retry_after)
            await response(scope, receive, send)
            return
        if kind == "http":
            await self.proxy.http(scope, receive, send, upstream)
        else:
            await self.proxy.websocket(scope, receive, send, upstream)


def _gateway_owned(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _OWNED_API_PREFIXES)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    message = f"No API route for {scope['path']}."
    if scope["type"] == "websocket":
        await reject_websocket(scope, send, 404, error_body("not_found", message))
        return
    await error_response(404, "not_found", message)(scope, receive, send)

"""Which processes make up the venue, their ports, and which service owns which URL prefix.

The one definition that `tradestack up`, the gateway, nginx (docker compose) and Terraform's API
routes are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceDef:
    """A process of the venue. `app` is an ASGI import path for uvicorn; `worker` a module with
    `main()` for a process that only consumes streams (it still serves health on `port`)."""

    name: str
    port: int
    app: str
    description: str


LOCAL_AWS_PORT = 4566

SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef("gateway", 8000, "services.gateway.app:app", "API gateway and web UI"),
    ServiceDef("auth", 8001, "services.auth.app:app", "users, JWT, JWKS, API keys"),
    ServiceDef("orders", 8002, "services.orders.app:app", "order entry, balances, queries"),
    ServiceDef(
        "marketdata", 8003, "services.marketdata.app:app", "books, trades, candles, WebSocket"
    ),
    ServiceDef("matching", 8004, "services.matching.app:app", "matching engine worker and admin"),
    ServiceDef(
        "accounts",
        8005,
        "services.orders.accounts_worker:app",
        "accounts engine worker (holds, settlement)",
    ),
    ServiceDef(
        "relay", 8006, "services.orders.relay:app", "settlement relay: executions to orders"
    ),
    ServiceDef(
        "projector",
        8007,
        "services.orders.projector:app",
        "orders, trades, balances, ledger tables",
    ),
)


@dataclass(frozen=True, slots=True)
class Route:
    """A URL prefix the gateway forwards to a service. `websocket` routes are upgraded."""

    prefix: str
    service: str
    websocket: bool = False


# Order matters only for readability; the gateway picks the longest matching prefix.
ROUTES: tuple[Route, ...] = (
    Route("/api/auth", "auth"),
    Route("/api/orders", "orders"),
    Route("/api/trades", "orders"),
    Route("/api/balances", "orders"),
    Route("/api/admin", "orders"),
    Route("/api/markets", "marketdata"),
    Route("/api/tickers", "marketdata"),
    Route("/ws", "marketdata", websocket=True),
)

# Served by the gateway itself: the merged OpenAPI document, Swagger UI and the web UI at `/`.
GATEWAY_OWNED_PREFIXES: tuple[str, ...] = ("/api/openapi.json", "/api/docs", "/")


def service(name: str) -> ServiceDef:
    for item in SERVICES:
        if item.name == name:
            return item
    raise KeyError(f"no service named {name!r}")


def route_for(path: str) -> Route | None:
    """The route owning `path` (longest prefix on a segment boundary), or None."""
    best: Route | None = None
    for route in ROUTES:
        owns = path == route.prefix or path.startswith(route.prefix + "/")
        if owns and (best is None or len(route.prefix) > len(best.prefix)):
            best = route
    return best

"""The gateway's settings, read from `TRADESTACK_GATEWAY_*` (and `TRADESTACK_<SERVICE>_URL`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from services.common.settings import BaseServiceSettings
from services.common.topology import SERVICES

REPO_ROOT = Path(__file__).resolve().parents[2]

# A static app with no external loads. Swagger UI needs inline styles (it sets style attributes).
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def service_urls_from_environment() -> dict[str, str]:
    """`TRADESTACK_<NAME>_URL` for every service but the gateway (what `tradestack up` exports),
    defaulting to the service's local port from the topology."""
    return {
        service.name: os.environ.get(
            f"TRADESTACK_{service.name.upper()}_URL", f"http://127.0.0.1:{service.port}"
        )
        for service in SERVICES
        if service.name != "gateway"
    }


class GatewaySettings(BaseServiceSettings):
    """What the gateway needs: where the services are, limits, throttles, CORS and headers."""

    service_name: str = "gateway"
    service_urls: dict[str, str] = Field(
        default_factory=service_urls_from_environment,
        description="Base URL of each service; set one with TRADESTACK_<NAME>_URL.",
    )

    gateway_max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    gateway_upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    gateway_upstream_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for a service's response head or next chunk."
    )
    gateway_upstream_max_connections: int = Field(default=512, ge=1, description="Per service.")
    gateway_upstream_idle_s: float = Field(
        default=4.0, gt=0, description="Keep-alive of idle connections; below uvicorn's 5 s."
    )

    gateway_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed to call the API."
    )
    gateway_cors_localhost: bool = Field(
        default=True,
        description="Also allow http://localhost:* and 127.0.0.1:* (development only).",
    )

    gateway_throttle_enabled: bool = True
    gateway_throttle_ip_rate: float = Field(default=50.0, gt=0, description="Requests/s per IP.")
    gateway_throttle_ip_burst: int = Field(default=100, ge=1)
    gateway_throttle_account_rate: float = Field(default=200.0, gt=0, description="Per account.")
    gateway_throttle_account_burst: int = Field(default=400, ge=1)
    gateway_throttle_exempt_loopback: bool = Field(
        default=False, description="No per-IP limit for 127.0.0.1/::1 (load tests from one host)."
    )

    gateway_access_log: bool = True
    gateway_openapi_ttl_s: float = Field(default=30.0, ge=0)
    gateway_web_dir: Path = REPO_ROOT / "web"
    gateway_csp: str = DEFAULT_CSP
    gateway_hsts_max_age_s: int = Field(default=31_536_000, ge=0, description="Sent only over TLS.")

    @field_validator("gateway_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @property
    def cors_localhost_allowed(self) -> bool:
        return self.gateway_cors_localhost and self.environment == "development"

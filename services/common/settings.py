"""Settings shared by every service, read from the environment (pydantic-settings).

Endpoints are deliberately *not* settings: boto3 reads the standard `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` variables itself, so the same code talks to moto, LocalStack or AWS.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class UnsafeSettingsError(ValueError):
    """A setting that is fine on a laptop was left at its default outside development."""


class BaseServiceSettings(BaseSettings):
    """What every Tradestack process needs to know. Subclass it once per service."""

    model_config = SettingsConfigDict(env_prefix="TRADESTACK_", extra="ignore")

    service_name: str = "tradestack"
    environment: Environment = Environment.DEVELOPMENT
    region: str = Field(
        default_factory=lambda: (
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )
    )
    resource_prefix: str = Field(
        default="tradestack",
        pattern=r"^[a-z][a-z0-9-]{1,30}$",
        description="Prefix of every stream, table and bucket, so stacks can share an account.",
    )
    log_level: str = "INFO"
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    demo_mode: bool = False
    stream_tip_poll_s: float = Field(
        default=0.025,
        ge=0,
        le=5,
        description="Pause before the next GetRecords once a read has reached the tip of its "
        "shard: fewer calls (CPU in every service and the endpoint) for a few ms per hop.",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            problems = self.unsafe_in_production()
            if problems:
                raise UnsafeSettingsError(
                    "refusing to start in production with unsafe settings: " + "; ".join(problems)
                )
        return self

    def unsafe_in_production(self) -> list[str]:
        """Settings that must not keep their development defaults; subclasses extend this."""
        problems = []
        if self.demo_mode:
            problems.append("TRADESTACK_DEMO_MODE is on (it opens a faucet to every user)")
        return problems

    @property
    def endpoint_url(self) -> str | None:
        """The generic AWS endpoint override, shown in logs and readiness checks."""
        return os.environ.get("AWS_ENDPOINT_URL")

"""What the shared verifier needs to know, read from `TRADESTACK_AUTH_*` environment variables.

Every service that protects a route reads these; the auth service's own settings extend them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Self

from pydantic import Field, SecretStr, model_validator

from services.common.settings import BaseServiceSettings

# A fixed key so a laptop stack works without configuration; `unsafe_in_production` refuses it.
DEV_ENCRYPTION_KEY = base64.b64encode(
    hashlib.sha256(b"tradestack development encryption key - not a secret").digest()
).decode()


class IdentitySettings(BaseServiceSettings):
    """Token and API-key verification settings shared by every service."""

    auth_jwks_url: str = Field(
        default="http://127.0.0.1:8001/api/auth/.well-known/jwks.json",
        description="JWKS of the auth service; empty to trust only Cognito.",
    )
    auth_issuer: str = Field(default="tradestack-auth", description="`iss` of our access tokens.")
    auth_audience: str = Field(default="tradestack", description="`aud` of our access tokens.")
    auth_leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on `exp`.")
    auth_jwks_cache_s: float = Field(default=300.0, gt=0)
    auth_jwks_min_refresh_s: float = Field(
        default=5.0, ge=0, description="Least time between two JWKS fetches caused by unknown kids."
    )
    auth_encryption_key: SecretStr = Field(
        default=SecretStr(DEV_ENCRYPTION_KEY),
        description="Base64 AES-256 key that encrypts API-key secrets and signing keys at rest.",
    )
    auth_signature_window_ms: int = Field(default=5000, ge=100, le=60_000)
    auth_api_key_cache_s: float = Field(
        default=10.0,
        ge=0,
        description="How long a looked-up API key is reused (= revocation delay).",
    )
    auth_cognito_issuer: str | None = Field(
        default=None, description="e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>"
    )
    auth_cognito_jwks_url: str | None = Field(
        default=None, description="Defaults to <cognito issuer>/.well-known/jwks.json."
    )
    auth_cognito_client_ids: str = Field(
        default="", description="Comma-separated app client ids whose tokens are accepted."
    )

    @model_validator(mode="after")
    def _check_encryption_key(self) -> Self:
        encryption_key_bytes(self.auth_encryption_key.get_secret_value())
        return self

    @property
    def cognito_client_ids(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.auth_cognito_client_ids.split(",") if c.strip())

    @property
    def cognito_jwks_url(self) -> str | None:
        if not self.auth_cognito_issuer:
            return None
        return self.auth_cognito_jwks_url or (
            self.auth_cognito_issuer.rstrip("/") + "/.well-known/jwks.json"
        )

    def unsafe_in_production(self) -> list[str]:
        problems = super().unsafe_in_production()
        if self.auth_encryption_key.get_secret_value() == DEV_ENCRYPTION_KEY:
            problems.append("TRADESTACK_AUTH_ENCRYPTION_KEY is the development default")
        if self.auth_cognito_issuer and not self.cognito_client_ids:
            problems.append(
                "TRADESTACK_AUTH_COGNITO_CLIENT_IDS is empty (tokens of any app client would pass)"
            )
        return problems


def encryption_key_bytes(value: str) -> bytes:
    """Decode a base64 AES-256 key, refusing anything that is not exactly 32 bytes."""
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("TRADESTACK_AUTH_ENCRYPTION_KEY is not valid base64") from exc
    if len(key) != 32:
        raise ValueError(
            f"TRADESTACK_AUTH_ENCRYPTION_KEY must decode to 32 bytes (AES-256), not {len(key)}"
        )
    return key

"""Settings of the auth service (`TRADESTACK_AUTH_*`), on top of what every verifier reads."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.common.identity.settings import IdentitySettings

# OWASP's floor for argon2id (19 MiB, 2 passes); tests go lower, production may not.
_MIN_ARGON2_MEMORY_KIB = 19 * 1024
_MIN_ARGON2_TIME_COST = 2


class AuthSettings(IdentitySettings):
    service_name: str = "auth"
    port: int = 8001

    auth_access_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    auth_refresh_token_ttl_s: int = Field(
        default=14 * 86_400,
        ge=60,
        description="Idle lifetime of a session; each refresh renews it.",
    )
    auth_signing_key_rotation_days: float = Field(
        default=30.0, gt=0, description="A new signing key is made when the current one is older."
    )
    auth_key_ring_cache_s: float = Field(
        default=60.0, ge=0, description="How long a replica reuses the signing keys it read."
    )
    auth_signing_key_activation_s: float = Field(
        default=90.0,
        ge=0,
        description="A rotated key is published this long before it signs (> the key-ring cache).",
    )

    auth_argon2_time_cost: int = Field(default=3, ge=1)
    auth_argon2_memory_kib: int = Field(default=65_536, ge=8)
    auth_argon2_parallelism: int = Field(default=4, ge=1)
    auth_password_min_length: int = Field(default=10, ge=8)

    auth_login_max_failures_per_email: int = Field(default=5, ge=1)
    auth_login_max_failures_per_ip: int = Field(default=50, ge=1)
    auth_login_failure_window_s: int = Field(
        default=900, ge=1, description="Failures older than this are forgotten."
    )
    auth_login_base_delay_s: float = Field(default=1.0, gt=0)
    auth_login_max_delay_s: float = Field(default=900.0, gt=0)
    auth_trusted_proxy_hops: int = Field(
        default=1,
        ge=0,
        description="Proxies in front of auth that append to X-Forwarded-For: one (the gateway, "
        "nginx or the ALB) in every deployment; 0 if auth is reachable directly.",
    )

    auth_max_api_keys_per_user: int = Field(default=20, ge=1)
    auth_bootstrap_admin_email: str | None = Field(
        default=None, description="Created at start-up with the admin role if it does not exist."
    )
    auth_bootstrap_admin_password: SecretStr | None = None

    def unsafe_in_production(self) -> list[str]:
        problems = super().unsafe_in_production()
        if (
            self.auth_argon2_memory_kib < _MIN_ARGON2_MEMORY_KIB
            or self.auth_argon2_time_cost < _MIN_ARGON2_TIME_COST
        ):
            problems.append("argon2 parameters are below the OWASP minimum (19 MiB, 2 passes)")
        if self.auth_bootstrap_admin_email and not self.auth_bootstrap_admin_password:
            problems.append("TRADESTACK_AUTH_BOOTSTRAP_ADMIN_PASSWORD is not set")
        return problems

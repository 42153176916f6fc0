"""Who is calling: the user every protected route receives, however they authenticated."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    TRADER = "trader"
    ADMIN = "admin"


class Permission(StrEnum):
    """What a caller may do. JWT users hold all; an API key holds what it was created with."""

    READ = "read"
    TRADE = "trade"


class AuthMethod(StrEnum):
    JWT = "jwt"
    API_KEY = "api_key"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """The caller of a request. `user_id` is also the account the user trades under."""

    user_id: str
    roles: frozenset[Role]
    auth_method: AuthMethod
    permissions: frozenset[Permission]
    email: str | None = None
    api_key_id: str | None = None
    token_id: str | None = None
    issuer: str | None = None
    expires_at: int | None = None
    """When the bearer token expires (epoch seconds); None for API-key signatures."""

    @property
    def account(self) -> str:
        """The trading account id: the user id (`sub`)."""
        return self.user_id

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def parse_roles(values: object) -> frozenset[Role]:
    """Known roles among `values` (unknown names are ignored, never an error)."""
    if not isinstance(values, list | tuple | set | frozenset):
        return frozenset()
    known = {r.value for r in Role}
    return frozenset(Role(v) for v in values if isinstance(v, str) and v in known)

"""`tradestack admin ...`: operator commands that act on the auth tables directly.

They read the same `TRADESTACK_*` settings as the service (resource prefix, encryption key) and
the standard AWS variables, so they work against moto, LocalStack or AWS alike.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from services.auth.service import AuthService
from services.auth.settings import AuthSettings
from services.auth.store import AuthTables
from services.auth.users import normalise_email
from services.common.errors import TradestackError
from services.common.identity import Role


def _run(action: Callable[[AuthService], Awaitable[str]], settings: AuthSettings | None) -> int:
    async def main() -> str:
        resolved = settings or AuthSettings()
        async with AsyncExitStack() as stack:
            tables = await AuthTables.open(stack, resolved.resource_prefix)
            return await action(AuthService(resolved, tables))

    try:
        print(asyncio.run(main()))
    except (TradestackError, ValueError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    return 0


def _roles(names: list[str]) -> frozenset[Role]:
    try:
        return frozenset(Role(n.strip().lower()) for n in names) | {Role.TRADER}
    except ValueError as exc:
        raise ValueError(f"unknown role; choose from {', '.join(r.value for r in Role)}") from exc


def create_user(
    email: str, roles: list[str], password: str, settings: AuthSettings | None = None
) -> int:
    """Create a user with `roles` (every user is also a trader). Exit status 1 on any refusal."""

    async def action(service: AuthService) -> str:
        user = await service.create_user(email, password, _roles(roles))
        return f"created {user.email} ({user.user_id}) with roles {', '.join(sorted(user.roles))}"

    return _run(action, settings)


def grant_role(email: str, role: str, settings: AuthSettings | None = None) -> int:
    """Add a role to an existing user (effective at the user's next sign-in or refresh)."""

    async def action(service: AuthService) -> str:
        user = await service.users.grant_role(normalise_email(email), Role(role.strip().lower()))
        return f"{user.email} now has roles {', '.join(sorted(user.roles))}"

    return _run(action, settings)


def rotate_signing_key(settings: AuthSettings | None = None) -> int:
    """Make a new token-signing key; the old one stays published until its tokens expire."""

    async def action(service: AuthService) -> str:
        key = await service.key_ring.rotate()
        delay = service.settings.auth_signing_key_activation_s
        return f"new signing key {key.kid}: published now, signs in {delay:.0f} s"

    return _run(action, settings)

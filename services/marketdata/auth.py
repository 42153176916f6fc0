"""Who a WebSocket connection is: the `auth` op's token, checked with the shared verifier."""

from __future__ import annotations

from typing import Protocol

from services.common.errors import Unauthorized
from services.common.identity import IdentityVerifier


class TokenChecker(Protocol):
    async def check(self, token: str) -> tuple[str, float]:
        """The account a valid access token belongs to and its expiry (epoch seconds); raises
        `Unauthorized` (code `invalid_token` or `token_expired`) otherwise."""
        ...


class VerifierTokenChecker:
    """Checks access tokens with the shared `IdentityVerifier` (RS256, the issuer's JWKS)."""

    def __init__(self, verifier: IdentityVerifier) -> None:
        self.verifier = verifier

    async def check(self, token: str) -> tuple[str, float]:
        user = await self.verifier.tokens.verify(token)
        if user.expires_at is None:  # the verifier requires `exp`; this is only a safeguard
            raise Unauthorized("The token has no expiry.", code="invalid_token")
        return user.account, float(user.expires_at)

"""Who a WebSocket connection is: the `auth` op's token, checked with the shared verifier."""

from __future__ import annotations

from typing import Protocol

from jose import jwt

from services.common.identity import IdentityVerifier


class TokenChecker(Protocol):
    async def check(self, token: str) -> tuple[str, float]:
        """The account a valid access token belongs to and its expiry (epoch seconds); raises
        `Unauthorized` (code `invalid_token` or `token_expired`) otherwise."""
        ...


class VerifierTokenChecker:
    """Checks tokens with the shared `IdentityVerifier` (RS256, issuer's JWKS)."""

    def __init__(self, verifier: IdentityVerifier) -> None:
        self.verifier = verifier

    async def check(self, token: str) -> tuple[str, float]:
        user = await self.verifier.tokens.verify(token)
        # The verifier checked `exp` (it is required); it just does not hand it back.
        expires_at = float(jwt.get_unverified_claims(token)["exp"])
        return user.account, expires_at

"""Access tokens: short-lived RS256 JWTs signed by the key ring's current key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from jose import jwt

from services.auth.signing_keys import SigningKeyRing
from services.auth.users import User


class AccessTokens:
    def __init__(
        self,
        key_ring: SigningKeyRing,
        *,
        issuer: str,
        audience: str,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key_ring = key_ring
        self._issuer = issuer
        self._audience = audience
        self.ttl_s = ttl_s
        self._clock = clock

    async def issue(self, user: User, *, now: float | None = None) -> str:
        """A token for `user`: `sub` is the user (and trading account) id, `roles` its roles."""
        kid, key = await self._key_ring.signer()
        issued_at = int(self._clock() if now is None else now)
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user.user_id,
            "iat": issued_at,
            "exp": issued_at + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "token_use": "access",
            "email": user.email,
            "roles": sorted(r.value for r in user.roles),
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

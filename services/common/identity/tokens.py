"""Verification of RS256 access tokens: ours (JWKS of the auth service) and, optionally, Cognito's.

Only RS256 is accepted. `alg: none`, HS256 signed with the public key and every other algorithm
are refused before any key is touched; the key comes from the trusted issuer's JWKS by `kid`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JWKError, JWTClaimsError, JWTError

from services.common.errors import ServiceUnavailable, Unauthorized
from services.common.identity.user import (
    ALL_PERMISSIONS,
    AuthenticatedUser,
    AuthMethod,
    Role,
    parse_roles,
)

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


def http_jwks_fetcher(
    url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> JwksFetcher:
    """Fetch a JWKS document over HTTP (a short-lived client; fetches are rare)."""

    async def fetch() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=transport, timeout=3.0) as client:
            response = await client.get(url)
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError(f"{url} did not return a JWKS object")
            return document

    return fetch


def rsa_keys_by_kid(document: dict[str, Any]) -> dict[str, Key]:
    """The RS256 signing keys of a JWKS document, by `kid`; anything else is skipped."""
    keys: dict[str, Key] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
            continue
        if entry.get("alg", ALGORITHM) != ALGORITHM or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[str(entry["kid"])] = jwk.construct(entry, ALGORITHM)
        except (JWKError, ValueError, TypeError):
            log.warning("skipping a malformed JWKS key", extra={"kid": entry.get("kid")})
    return keys


class CachedJwks:
    """Public keys by `kid`, refreshed every `cache_s` and at once on an unknown `kid` (at most
    every `min_refresh_s`, so a flood of made-up kids cannot hammer the issuer)."""

    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        cache_s: float = 300.0,
        min_refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._cache_s = cache_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self, kid: str) -> Key | None:
        age = None if self._fetched_at is None else self._clock() - self._fetched_at
        stale = age is None or age >= self._cache_s
        unknown_kid = kid not in self._keys and (age is None or age >= self._min_refresh_s)
        if stale or unknown_kid:
            await self._refresh(seen_fetch=self._fetched_at)
        return self._keys.get(kid)

    async def _refresh(self, seen_fetch: float | None) -> None:
        async with self._lock:
            if self._fetched_at != seen_fetch:  # another request refreshed while we waited
                return
            try:
                document = await self._fetch()
            except Exception as exc:  # whatever the issuer's failure, the handling is the same
                if not self._keys:
                    raise ServiceUnavailable(
                        "The token issuer's keys are unavailable; try again shortly.",
                        code="auth_unavailable",
                    ) from exc
                log.warning(
                    "JWKS refresh failed; keeping the cached keys", extra={"error": str(exc)}
                )
                self._fetched_at = self._clock()
                return
            self.fetches += 1
            self._keys = rsa_keys_by_kid(document)
            self._fetched_at = self._clock()


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer whose tokens are accepted: ours (`audience` checked) or a Cognito user pool
    (`client_ids` checked against `client_id` of access tokens and `aud` of ID tokens)."""

    issuer: str
    jwks: CachedJwks
    audience: str | None = None
    cognito: bool = False
    client_ids: tuple[str, ...] = field(default_factory=tuple)


class TokenVerifier:
    """Verifies bearer tokens against the trusted issuers.

    A token that verified is remembered (by its exact text) until it expires, for at most
    `remember_s`: a client sends the same token with every request, and parsing and checking an
    RS256 signature costs more than the rest of a small request. Access tokens are not revocable
    (sessions end by revoking refresh tokens), so a remembered token is accepted exactly when a
    fresh check would accept it, except that a key withdrawn from the issuer's JWKS stops
    counting up to `remember_s` later (the JWKS itself is cached for minutes).
    """

    def __init__(
        self,
        issuers: list[TrustedIssuer],
        *,
        leeway_s: int = 30,
        remember_s: float = 60.0,
        remember_max: int = 10_000,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._leeway_s = leeway_s
        self._remember_s = remember_s
        self._remember_max = remember_max
        self._verified: dict[str, tuple[float, AuthenticatedUser]] = {}

    async def verify(self, token: str) -> AuthenticatedUser:
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None:
            if now < remembered[0]:
                return remembered[1]
            del self._verified[token]
        user = await self._verify(token)
        if user.expires_at is not None and self._remember_s > 0:
            if len(self._verified) >= self._remember_max:
                self._verified.clear()
            self._verified[token] = (min(now + self._remember_s, user.expires_at), user)
        return user

    async def _verify(self, token: str) -> AuthenticatedUser:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.get_unverified_claims(token)
        except JWTError as exc:
            raise _invalid("The token is not a well-formed JWT.") from exc
        if header.get("alg") != ALGORITHM:
            raise _invalid(f"Only {ALGORITHM} tokens are accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("The token has no key id (kid).")
        issuer = self._issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise _invalid("The token's issuer is not trusted.")
        key = await issuer.jwks.get(kid)
        if key is None:
            raise _invalid("The token is signed with an unknown key.")
        options = {
            "leeway": self._leeway_s,
            "require_exp": True,
            "require_iat": True,
            "require_iss": True,
            "require_sub": True,
            "verify_aud": not issuer.cognito,
            "require_aud": not issuer.cognito,
        }
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=None if issuer.cognito else issuer.audience,
                issuer=issuer.issuer,
                options=options,
            )
        except ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except JWTClaimsError as exc:
            raise _invalid(f"The token's claims are not valid: {exc}") from exc
        except JWTError as exc:
            raise _invalid("The token's signature is not valid.") from exc
        return _cognito_user(claims, issuer) if issuer.cognito else _tradestack_user(claims)


def _tradestack_user(claims: dict[str, Any]) -> AuthenticatedUser:
    if claims.get("token_use") != "access":
        raise _invalid("Not an access token.")
    return AuthenticatedUser(
        user_id=str(claims["sub"]),
        roles=parse_roles(claims.get("roles")),
        auth_method=AuthMethod.JWT,
        permissions=ALL_PERMISSIONS,
        email=claims.get("email"),
        token_id=claims.get("jti"),
        issuer=str(claims["iss"]),
        expires_at=int(claims["exp"]),
    )


def _cognito_user(claims: dict[str, Any], issuer: TrustedIssuer) -> AuthenticatedUser:
    token_use = claims.get("token_use")
    if token_use == "access":
        client = claims.get("client_id")
    elif token_use == "id":
        client = claims.get("aud")
    else:
        raise _invalid("Not a Cognito access or ID token.")
    if issuer.client_ids and client not in issuer.client_ids:
        raise _invalid("The token was issued to another app client.")
    # Every Cognito user trades; the `admin` group grants admin.
    roles = parse_roles(claims.get("cognito:groups")) | {Role.TRADER}
    return AuthenticatedUser(
        user_id=str(claims["sub"]),
        roles=frozenset(roles),
        auth_method=AuthMethod.JWT,
        permissions=ALL_PERMISSIONS,
        email=claims.get("email"),
        token_id=claims.get("jti") or claims.get("origin_jti"),
        issuer=str(claims["iss"]),
        expires_at=int(claims["exp"]),
    )


def _invalid(message: str) -> Unauthorized:
    return Unauthorized(message, code="invalid_token")

"""Access tokens and the shared verifier: claims, attacks, expiry, key rotation, JWKS caching."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jwt

from services.auth.service import AuthService
from services.auth.settings import AuthSettings
from services.auth.signing_keys import SigningKeyRing
from services.common.errors import ServiceUnavailable
from services.common.identity import IdentitySettings, IdentityVerifier, SecretBox
from services.common.local_aws import free_port
from tests.auth.conftest import OtherService, SignedIn, other_service_for, sign_up_and_in


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims(settings: AuthSettings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": "u1",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "token_use": "access",
        "roles": ["trader"],
        **changes,
    }
    return {k: v for k, v in claims.items() if v is not None}


async def _signed_with_real_key(service: AuthService, claims: dict[str, Any]) -> str:
    kid, key = await service.key_ring.signer()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _attacker_pem() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def _code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_access_token_carries_the_required_claims(
    client: httpx.AsyncClient, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    header = jwt.get_unverified_header(trader.access_token)
    claims = jwt.get_unverified_claims(trader.access_token)
    jwks = (await client.get("/api/auth/.well-known/jwks.json")).json()
    assert header["alg"] == "RS256" and header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert (
        claims["iss"] == auth_settings.auth_issuer and claims["aud"] == auth_settings.auth_audience
    )
    assert claims["sub"] == trader.user_id and claims["roles"] == ["trader"]
    assert claims["exp"] - claims["iat"] == auth_settings.auth_access_token_ttl_s
    assert len(claims["jti"]) == 32


async def test_a_well_formed_token_signed_with_the_real_key_passes(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    token = await _signed_with_real_key(auth_service, _claims(auth_settings))
    assert (await _me(client, token)).status_code == 200  # the baseline the attacks below vary


async def test_forged_signature_is_refused(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    kid, _ = await auth_service.key_ring.signer()
    forged = jwt.encode(
        _claims(auth_settings, roles=["trader", "admin"]),
        _attacker_pem().decode(),
        algorithm="RS256",
        headers={"kid": kid},
    )
    response = await _me(client, forged)
    assert response.status_code == 401 and _code(response) == "invalid_token"


async def test_tampered_payload_is_refused(
    client: httpx.AsyncClient, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    header, _, signature = trader.access_token.split(".")
    escalated = _claims(auth_settings, sub=trader.user_id, roles=["trader", "admin"])
    tampered = f"{header}.{_b64(json.dumps(escalated).encode())}.{signature}"
    response = await _me(client, tampered)
    assert response.status_code == 401 and _code(response) == "invalid_token"


async def test_alg_none_is_refused(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    kid, _ = await auth_service.key_ring.signer()
    for alg in ("none", "None", "NONE"):
        token = _unsigned({"alg": alg, "typ": "JWT", "kid": kid}, _claims(auth_settings)) + "."
        response = await _me(client, token)
        assert response.status_code == 401 and _code(response) == "invalid_token", alg


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    """The classic confusion: HMAC keyed with the (public) RSA key a naive verifier would use."""
    kid, _ = await auth_service.key_ring.signer()
    jwks = (await client.get("/api/auth/.well-known/jwks.json")).json()
    public_jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(base64.urlsafe_b64decode(public_jwk["e"] + "=="), "big"),
        int.from_bytes(base64.urlsafe_b64decode(public_jwk["n"] + "=="), "big"),
    )
    pem = numbers.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, json.dumps(public_jwk).encode(), public_jwk["n"].encode()):
        signing_input = _unsigned(
            {"alg": "HS256", "typ": "JWT", "kid": kid}, _claims(auth_settings)
        )
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        response = await _me(client, f"{signing_input}.{_b64(signature)}")
        assert response.status_code == 401 and _code(response) == "invalid_token"


async def test_wrong_audience_and_wrong_issuer_are_refused(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    for changes in ({"aud": "another-venue"}, {"iss": "https://evil.example"}, {"aud": None}):
        token = await _signed_with_real_key(auth_service, _claims(auth_settings, **changes))
        response = await _me(client, token)
        assert response.status_code == 401 and _code(response) == "invalid_token", changes


async def test_expired_token_is_refused_but_small_skew_is_tolerated(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    now = int(time.time())
    leeway = auth_settings.auth_leeway_s
    expired = await _signed_with_real_key(
        auth_service, _claims(auth_settings, iat=now - 1000, exp=now - leeway - 5)
    )
    response = await _me(client, expired)
    assert response.status_code == 401 and _code(response) == "token_expired"
    skewed = await _signed_with_real_key(
        auth_service, _claims(auth_settings, iat=now - 1000, exp=now - leeway // 2)
    )
    assert (await _me(client, skewed)).status_code == 200


async def test_unknown_kid_and_missing_kid_are_refused(
    client: httpx.AsyncClient, auth_settings: AuthSettings
) -> None:
    pem = _attacker_pem().decode()
    unknown = jwt.encode(_claims(auth_settings), pem, algorithm="RS256", headers={"kid": "k-1"})
    no_kid = jwt.encode(_claims(auth_settings), pem, algorithm="RS256")
    for token in (unknown, no_kid, "not.a.jwt", "garbage"):
        response = await _me(client, token)
        assert response.status_code == 401 and _code(response) == "invalid_token"


async def test_tokens_without_token_use_or_subject_are_refused(
    client: httpx.AsyncClient, auth_service: AuthService, auth_settings: AuthSettings
) -> None:
    for changes in ({"token_use": None}, {"token_use": "id"}, {"sub": None}, {"exp": None}):
        token = await _signed_with_real_key(auth_service, _claims(auth_settings, **changes))
        assert (await _me(client, token)).status_code == 401, changes


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(
    client: httpx.AsyncClient, auth_service: AuthService, trader: SignedIn
) -> None:
    old_kid = jwt.get_unverified_header(trader.access_token)["kid"]
    new_key = await auth_service.key_ring.rotate()
    fresh = await sign_up_and_in(client)
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == new_key.kid != old_kid
    jwks = (await client.get("/api/auth/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [new_key.kid, old_kid]
    assert (await _me(client, trader.access_token)).status_code == 200
    assert (await _me(client, fresh.access_token)).status_code == 200


async def test_a_rotated_key_is_published_before_it_signs_and_retired_after(
    auth_service: AuthService,
) -> None:
    clock = [time.time() + 60]  # after the key the app made at start
    ring = SigningKeyRing(
        auth_service.tables.users,
        SecretBox.from_base64(auth_service.settings.auth_encryption_key.get_secret_value()),
        rotation_s=86_400,
        retention_s=1_000,
        activation_s=90,
        cache_s=0,
        clock=lambda: clock[0],
    )

    def published() -> set[str]:
        return {k["kid"] for k in jwks["keys"]}

    app_kid, _ = await ring.signer()
    pending = await ring.rotate()
    jwks = await ring.jwks()
    assert published() == {app_kid, pending.kid}  # every replica can verify it already...
    assert (await ring.signer())[0] == app_kid  # ...before anyone signs with it

    clock[0] += 91
    assert (await ring.signer())[0] == pending.kid
    jwks = await ring.jwks()
    assert published() == {app_kid, pending.kid}  # tokens of the old key are still valid

    clock[0] += 1_001
    jwks = await ring.jwks()
    assert published() == {pending.kid}

    clock[0] += 86_400  # the signing key is too old: the next signature starts a rotation
    assert (await ring.signer())[0] == pending.kid
    jwks = await ring.jwks()
    assert len(published()) == 2
    assert len((await ring.jwks(reload=True))["keys"]) == 2  # and only one rotation


async def test_the_verified_user_carries_the_token_expiry(
    auth_service: AuthService, trader: SignedIn
) -> None:
    user = await auth_service.verifier.tokens.verify(trader.access_token)
    assert user.user_id == user.account == trader.user_id
    assert user.expires_at == jwt.get_unverified_claims(trader.access_token)["exp"]
    assert user.token_id == jwt.get_unverified_claims(trader.access_token)["jti"]


async def test_other_service_verifies_tokens_with_the_cached_jwks(
    other_service: OtherService, trader: SignedIn
) -> None:
    for _ in range(3):
        response = await other_service.client.get("/api/orders", headers=trader.headers)
        assert response.status_code == 200
        assert response.json()["account"] == trader.user_id
    assert other_service.jwks_transport.requests == ["/api/auth/.well-known/jwks.json"]


async def test_other_service_refetches_the_jwks_for_a_new_kid(
    auth_app: FastAPI, auth_settings: AuthSettings, client: httpx.AsyncClient, trader: SignedIn
) -> None:
    async with other_service_for(auth_app, auth_settings, auth_jwks_min_refresh_s=0) as other:
        assert (await other.client.get("/api/orders", headers=trader.headers)).status_code == 200
        await auth_app.state.auth.key_ring.rotate()
        fresh = await sign_up_and_in(client)
        assert (await other.client.get("/api/orders", headers=fresh.headers)).status_code == 200
        assert len(other.jwks_transport.requests) == 2


async def test_made_up_kids_do_not_hammer_the_jwks_endpoint(
    other_service: OtherService, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    assert (
        await other_service.client.get("/api/orders", headers=trader.headers)
    ).status_code == 200
    pem = _attacker_pem().decode()
    for i in range(5):
        token = jwt.encode(_claims(auth_settings), pem, algorithm="RS256", headers={"kid": f"k{i}"})
        response = await other_service.client.get(
            "/api/orders", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
    assert len(other_service.jwks_transport.requests) == 1  # min refresh interval: 5 s


async def test_unreachable_issuer_is_503_not_401(trader: SignedIn, auth_prefix: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/auth/.well-known/jwks.json"
    verifier = IdentityVerifier.from_settings(
        IdentitySettings(resource_prefix=auth_prefix, auth_jwks_url=closed)
    )
    with pytest.raises(ServiceUnavailable) as caught:
        await verifier.tokens.verify(trader.access_token)
    assert caught.value.code == "auth_unavailable"
    await verifier.aclose()

"""The shared verifier trusting an Amazon Cognito user pool (the AWS deployment's option)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from services.common.http import create_service_app
from services.common.identity import IdentitySettings, IdentityVerifier, install_verifier
from tests.auth.conftest import protected_router

POOL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
CLIENT = "3n4example5client6id"
KID = "cognito-key-1"


def _b64_uint(value: int) -> str:
    return (
        base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))
        .rstrip(b"=")
        .decode()
    )


@pytest.fixture(scope="module")
def pool_key() -> tuple[str, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # Cognito publishes exactly this shape at <issuer>/.well-known/jwks.json.
    jwks = {
        "keys": [
            {"alg": "RS256", "e": _b64_uint(numbers.e), "kid": KID, "kty": "RSA",
             "n": _b64_uint(numbers.n), "use": "sig"}
        ]
    }  # fmt: skip
    return pem, jwks


def _cognito_token(pem: str, token_use: str, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "iss": POOL,
        "token_use": token_use,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "cognito:groups": ["admin"],
    }
    if token_use == "access":
        claims |= {"client_id": CLIENT, "scope": "aws.cognito.signin.user.admin", "username": "u"}
    else:
        claims |= {"aud": CLIENT, "email": "pool.user@example.com"}
    claims |= changes
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
async def cognito_service(pool_key: tuple[str, dict[str, Any]]) -> AsyncIterator[httpx.AsyncClient]:
    _, jwks = pool_key
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=jwks)

    settings = IdentitySettings(
        auth_jwks_url="",  # Cognito only, as in the AWS deployment without the auth service
        auth_cognito_issuer=POOL,
        auth_cognito_client_ids=f"{CLIENT}, another-client",
    )
    verifier = IdentityVerifier.from_settings(settings, http_transport=httpx.MockTransport(serve))
    app = create_service_app(settings, title="orders-like", routers=[protected_router()])
    install_verifier(app, verifier)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://o"
    ) as client:
        yield client
    # The JWKS URL derives from the issuer, and is fetched once at most (then cached).
    assert seen in ([], [POOL + "/.well-known/jwks.json"])
    await verifier.aclose()


async def _get(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/orders", headers={"Authorization": f"Bearer {token}"})


async def test_cognito_access_token_is_accepted_with_its_groups_as_roles(
    cognito_service: httpx.AsyncClient, pool_key: tuple[str, dict[str, Any]]
) -> None:
    pem, _ = pool_key
    token = _cognito_token(pem, "access", sub="pool-user-1")
    response = await _get(cognito_service, token)
    assert response.status_code == 200 and response.json()["account"] == "pool-user-1"
    admin = await cognito_service.post(
        "/api/admin/markets", headers={"Authorization": f"Bearer {token}"}
    )
    assert admin.status_code == 200


async def test_cognito_id_token_is_accepted(
    cognito_service: httpx.AsyncClient, pool_key: tuple[str, dict[str, Any]]
) -> None:
    pem, _ = pool_key
    response = await _get(cognito_service, _cognito_token(pem, "id", **{"cognito:groups": []}))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("token_use", "changes"),
    [
        ("access", {"client_id": "someone-elses-client"}),
        ("id", {"aud": "someone-elses-client"}),
        ("access", {"iss": POOL + "-other"}),
        ("refresh", {}),
        ("access", {"exp": int(time.time()) - 3600}),
    ],
)
async def test_cognito_tokens_for_other_clients_pools_or_uses_are_refused(
    cognito_service: httpx.AsyncClient,
    pool_key: tuple[str, dict[str, Any]],
    token_use: str,
    changes: dict[str, Any],
) -> None:
    pem, _ = pool_key
    response = await _get(cognito_service, _cognito_token(pem, token_use, **changes))
    assert response.status_code == 401


async def test_tradestack_tokens_are_refused_when_only_cognito_is_trusted(
    cognito_service: httpx.AsyncClient, pool_key: tuple[str, dict[str, Any]]
) -> None:
    pem, _ = pool_key
    ours = _cognito_token(pem, "access", iss="tradestack-auth", aud="tradestack")
    response = await _get(cognito_service, ours)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"

"""The WebSocket `auth` op uses the shared verifier: real RS256 tokens, expiry handed back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from services.common.errors import Unauthorized
from services.common.identity import IdentitySettings, IdentityVerifier
from services.marketdata.auth import VerifierTokenChecker

KID = "test-key"


@pytest.fixture(scope="module")
def signing_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def checker(signing_key: str) -> VerifierTokenChecker:
    public = jwk.construct(signing_key, "RS256").public_key().to_dict()

    async def fetch() -> dict[str, Any]:
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    settings = IdentitySettings(auth_leeway_s=0)
    return VerifierTokenChecker(IdentityVerifier.from_settings(settings, jwks_fetch=fetch))


def token(signing_key: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": "tradestack-auth",
        "aud": "tradestack",
        "sub": "user-42",
        "iat": now,
        "exp": now + 900,
        "token_use": "access",
        **claims,
    }
    return jwt.encode(body, signing_key, algorithm="RS256", headers={"kid": KID})


async def test_a_valid_token_gives_its_account_and_expiry(signing_key: str) -> None:
    exp = int(time.time()) + 600
    account, expires_at = await checker(signing_key).check(token(signing_key, exp=exp))
    assert (account, expires_at) == ("user-42", exp)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(time.time()) - 60}, "token_expired"),
        ({"aud": "someone-else"}, "invalid_token"),
        ({"token_use": "refresh"}, "invalid_token"),
    ],
)
async def test_bad_tokens_are_refused(signing_key: str, claims: dict[str, Any], code: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        await checker(signing_key).check(token(signing_key, **claims))
    assert refused.value.code == code


async def test_a_token_signed_by_another_key_is_refused(signing_key: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(Unauthorized):
        await checker(signing_key).check(token(pem))

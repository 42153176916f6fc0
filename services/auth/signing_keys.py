"""RS256 signing keys: made on first start, kept encrypted in DynamoDB, rotated, published.

Items: pk `SIGNING_KEY`, sk `<created ms, 15 digits>#<kid>`; one query reads the whole ring in
age order. The newest key signs. A key stops signing when a newer one is created and stays in the
JWKS for `retention_s` after that (the access-token lifetime plus cache periods and leeway), so
every token it signed can still be verified until it expires. Two replicas creating a key at the
same moment is harmless: both keys are published and the newer one signs everywhere.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk
from jose.backends.base import Key

from services.common.identity import SecretBox

log = logging.getLogger(__name__)

_PARTITION = "SIGNING_KEY"
_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    created_ms: int
    public_jwk: dict[str, str]
    private_key_ciphertext: str


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _new_rsa_key() -> tuple[dict[str, str], bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    numbers = private.public_key().public_numbers()
    e, n = _b64url_uint(numbers.e), _b64url_uint(numbers.n)
    # RFC 7638 thumbprint as the key id: stable, and derived from the key alone.
    thumbprint = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = (
        base64.urlsafe_b64encode(hashlib.sha256(thumbprint.encode()).digest()).rstrip(b"=").decode()
    )
    public = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return public, pem


class SigningKeyRing:
    def __init__(
        self,
        table: Any,
        box: SecretBox,
        *,
        rotation_s: float,
        retention_s: float,
        cache_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._box = box
        self._rotation_s = rotation_s
        self._retention_s = retention_s
        self._cache_s = cache_s
        self._clock = clock
        self._keys: list[SigningKey] = []
        self._loaded_at: float | None = None
        self._signers: dict[str, Key] = {}
        self._lock = asyncio.Lock()

    async def signer(self) -> tuple[str, Key]:
        """(kid, private key) of the key that signs now; makes or rotates a key when due."""
        keys = await self._load()
        if not keys or self._age_s(keys[-1]) >= self._rotation_s:
            async with self._lock:
                keys = await self._load(force=True)
                if not keys or self._age_s(keys[-1]) >= self._rotation_s:
                    await self.rotate()
                    keys = await self._load(force=True)
        newest = keys[-1]
        if newest.kid not in self._signers:
            context = f"signing-key:{newest.kid}"
            pem = self._box.decrypt(newest.private_key_ciphertext, context=context)
            self._signers[newest.kid] = jwk.construct(pem.decode(), "RS256")
        return newest.kid, self._signers[newest.kid]

    async def jwks(self, *, reload: bool = False) -> dict[str, list[dict[str, str]]]:
        """The public keys a verifier may meet: the signing key and recently retired ones."""
        keys = await self._load(force=reload)
        now_ms = self._clock() * 1000
        published = []
        for index, key in enumerate(keys):
            replaced_ms = keys[index + 1].created_ms if index + 1 < len(keys) else None
            if replaced_ms is None or replaced_ms + self._retention_s * 1000 > now_ms:
                published.append(key.public_jwk)
        return {"keys": list(reversed(published))}

    async def rotate(self) -> SigningKey:
        """Create a new signing key; the previous ones retire (published until they expire)."""
        previous = await self._load(force=True)
        public, pem = await asyncio.to_thread(_new_rsa_key)
        created_ms = int(self._clock() * 1000)
        key = SigningKey(
            kid=public["kid"],
            created_ms=created_ms,
            public_jwk=public,
            private_key_ciphertext=self._box.encrypt(pem, context=f"signing-key:{public['kid']}"),
        )
        await self._table.put_item(
            Item={
                "pk": _PARTITION,
                "sk": f"{created_ms:015d}#{key.kid}",
                "kid": key.kid,
                "created_ms": created_ms,
                "public_jwk": json.dumps(public),
                "private_key": key.private_key_ciphertext,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        # Let DynamoDB's TTL delete retired keys a day after they stop being published.
        expires_at = int(created_ms / 1000 + self._retention_s + 86_400)
        for old in previous:
            await self._table.update_item(
                Key={"pk": _PARTITION, "sk": f"{old.created_ms:015d}#{old.kid}"},
                UpdateExpression="SET expires_at = if_not_exists(expires_at, :exp)",
                ExpressionAttributeValues={":exp": expires_at},
            )
        log.info("new token-signing key", extra={"kid": key.kid})
        self._loaded_at = None
        return key

    def _age_s(self, key: SigningKey) -> float:
        return self._clock() - key.created_ms / 1000

    async def _load(self, *, force: bool = False) -> list[SigningKey]:
        now = self._clock()
        if not force and self._loaded_at is not None and now - self._loaded_at < self._cache_s:
            return self._keys
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": KeyCondition("pk").eq(_PARTITION),
            "ConsistentRead": True,
        }
        while True:
            response = await self._table.query(**query)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        self._keys = [
            SigningKey(
                kid=str(item["kid"]),
                created_ms=int(item["created_ms"]),
                public_jwk=json.loads(item["public_jwk"]),
                private_key_ciphertext=str(item["private_key"]),
            )
            for item in sorted(items, key=lambda i: str(i["sk"]))
        ]
        self._loaded_at = now
        return self._keys

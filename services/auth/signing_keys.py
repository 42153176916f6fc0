"""RS256 signing keys: made on first start, kept encrypted in DynamoDB, rotated, published.

Items: pk `SIGNING_KEY`, sk `<created ms, 15 digits>#<kid>`; one query reads the whole ring.

A rotated key is published in the JWKS at once but signs only from `active_from` on, after
`activation_s` (longer than the replicas' key-ring cache), so no replica ever signs with a key
another replica's JWKS does not show yet. The very first key signs immediately. The newest active
key signs; a key it replaced stays in the JWKS for `retention_s` (access-token lifetime plus
leeway and margin), so every token it signed verifies until it expires. Two replicas rotating at
the same moment is harmless: both keys are published and the newer one signs everywhere.
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
    active_from_ms: int
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
        activation_s: float = 90.0,
        cache_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._box = box
        self._rotation_s = rotation_s
        self._retention_s = retention_s
        self._activation_s = activation_s
        self._cache_s = cache_s
        self._clock = clock
        self._keys: list[SigningKey] = []
        self._loaded_at: float | None = None
        self._signers: dict[str, Key] = {}
        self._lock = asyncio.Lock()

    async def signer(self) -> tuple[str, Key]:
        """(kid, private key) of the key that signs now; makes or rotates a key when due."""
        keys = await self._load()
        if self._rotation_due(keys):
            async with self._lock:
                keys = await self._load(force=True)
                if self._rotation_due(keys):
                    await self.rotate()
                    keys = await self._load(force=True)
        signing = self._signing_key(keys)
        if signing.kid not in self._signers:
            context = f"signing-key:{signing.kid}"
            pem = self._box.decrypt(signing.private_key_ciphertext, context=context)
            self._signers[signing.kid] = jwk.construct(pem.decode(), "RS256")
        return signing.kid, self._signers[signing.kid]

    async def jwks(self, *, reload: bool = False) -> dict[str, list[dict[str, str]]]:
        """The public keys a verifier may meet: the signing key and recently retired ones."""
        keys = await self._load(force=reload)
        now_ms = self._clock() * 1000
        published = []
        for index, key in enumerate(keys):
            # A key is replaced when the next one becomes active (pending keys are published).
            replaced_ms = keys[index + 1].active_from_ms if index + 1 < len(keys) else None
            if replaced_ms is None or replaced_ms + self._retention_s * 1000 > now_ms:
                published.append(key.public_jwk)
        return {"keys": list(reversed(published))}

    async def rotate(self) -> SigningKey:
        """Create a new signing key; the previous ones retire (published until they expire)."""
        previous = await self._load(force=True)
        public, pem = await asyncio.to_thread(_new_rsa_key)
        created_ms = int(self._clock() * 1000)
        delay_ms = int(self._activation_s * 1000) if previous else 0
        key = SigningKey(
            kid=public["kid"],
            created_ms=created_ms,
            active_from_ms=created_ms + delay_ms,
            public_jwk=public,
            private_key_ciphertext=self._box.encrypt(pem, context=f"signing-key:{public['kid']}"),
        )
        await self._table.put_item(
            Item={
                "pk": _PARTITION,
                "sk": f"{created_ms:015d}#{key.kid}",
                "kid": key.kid,
                "created_ms": created_ms,
                "active_from_ms": key.active_from_ms,
                "public_jwk": json.dumps(public),
                "private_key": key.private_key_ciphertext,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        # Let DynamoDB's TTL delete retired keys a day after they stop being published.
        expires_at = int(key.active_from_ms / 1000 + self._retention_s + 86_400)
        for old in previous:
            await self._table.update_item(
                Key={"pk": _PARTITION, "sk": f"{old.created_ms:015d}#{old.kid}"},
                UpdateExpression="SET expires_at = if_not_exists(expires_at, :exp)",
                ExpressionAttributeValues={":exp": expires_at},
            )
        log.info("new token-signing key", extra={"kid": key.kid})
        self._loaded_at = None
        return key

    def _signing_key(self, keys: list[SigningKey]) -> SigningKey:
        now_ms = self._clock() * 1000
        active = [k for k in keys if k.active_from_ms <= now_ms]
        return active[-1] if active else keys[0]

    def _rotation_due(self, keys: list[SigningKey]) -> bool:
        if not keys:
            return True
        newest = keys[-1]
        now_ms = self._clock() * 1000
        if newest.active_from_ms > now_ms:  # a rotation is already under way
            return False
        return now_ms - newest.active_from_ms >= self._rotation_s * 1000

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
                active_from_ms=int(item.get("active_from_ms", item["created_ms"])),
                public_jwk=json.loads(item["public_jwk"]),
                private_key_ciphertext=str(item["private_key"]),
            )
            for item in items
        ]
        self._keys.sort(key=lambda k: (k.active_from_ms, k.created_ms, k.kid))
        self._loaded_at = now
        return self._keys

"""The API-key item of the `api_keys` table and the cached lookup every service verifies with.

The `api_keys` table is the shared identity store: the auth service writes it, and the verifier in
every service reads it directly (one GetItem per key per cache period) rather than calling the auth
service on each signed request. That is the one documented exception to "no service reads another
service's tables" (see docs/auth.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.common.identity.encryption import SecretBox
from services.common.identity.user import Permission

API_KEY_ID_PREFIX = "tsk_"
API_KEY_SORT_KEY = "APIKEY"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored; `secret_ciphertext` is the AES-GCM-encrypted HMAC secret."""

    key_id: str
    user_id: str
    email: str
    label: str
    permissions: frozenset[Permission]
    created_at: str
    secret_ciphertext: str

    def to_item(self) -> dict[str, Any]:
        return {
            **api_key_item_key(self.key_id),
            "key_id": self.key_id,
            "user_id": self.user_id,
            "email": self.email,
            "label": self.label,
            "permissions": sorted(p.value for p in self.permissions),
            "created_at": self.created_at,
            "secret": self.secret_ciphertext,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ApiKeyRecord:
        return cls(
            key_id=str(item["key_id"]),
            user_id=str(item["user_id"]),
            email=str(item.get("email", "")),
            label=str(item.get("label", "")),
            permissions=frozenset(Permission(p) for p in item.get("permissions", [])),
            created_at=str(item.get("created_at", "")),
            secret_ciphertext=str(item["secret"]),
        )


def api_key_item_key(key_id: str) -> dict[str, str]:
    """Primary key of an API key's item (GSI `by_user` is `user_id`, `sk`)."""
    return {"pk": f"APIKEY#{key_id}", "sk": API_KEY_SORT_KEY}


def secret_context(key_id: str) -> str:
    """Associated data binding an encrypted secret to its key id."""
    return f"api-key:{key_id}"


TableProvider = Callable[[], Awaitable[Any]]


class ApiKeyLookup:
    """Finds an API key and its decrypted secret, caching hits and misses for `cache_s`.

    The cache period is how long a deleted key keeps working in a process other than the one that
    deleted it; the auth service forgets a key the moment it deletes it.
    """

    def __init__(
        self,
        table: TableProvider,
        box: SecretBox,
        *,
        cache_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._box = box
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[ApiKeyRecord, bytes] | None]] = {}

    async def find(self, key_id: str) -> tuple[ApiKeyRecord, bytes] | None:
        if not key_id.startswith(API_KEY_ID_PREFIX) or len(key_id) > 64:
            return None
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        table = await self._table()
        response = await table.get_item(Key=api_key_item_key(key_id))
        item = response.get("Item")
        found: tuple[ApiKeyRecord, bytes] | None = None
        if item is not None:
            record = ApiKeyRecord.from_item(item)
            secret = self._box.decrypt(record.secret_ciphertext, context=secret_context(key_id))
            found = (record, secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (now, found)
        return found

    def forget(self, key_id: str) -> None:
        self._cache.pop(key_id, None)

"""Sessions: refresh-token families with rotation and reuse detection.

A refresh token is `<user id>.<family id>.<generation>.<secret>`. Its family is the item
`USER#<user id>`/`REFRESH#<family id>` holding the current generation and the SHA-256 of the
current secret. Each refresh moves the family to the next generation (a conditional update, so of
two concurrent refreshes with one token only one wins). Presenting an older generation means a
token was copied: the whole family is revoked and `refresh_token_reused` returned, so whoever holds
the newest token must sign in again. The item's `expires_at` (DynamoDB TTL) is renewed on each
refresh: an idle session ends after `ttl_s`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition
from botocore.exceptions import ClientError

from services.auth.store import is_condition_failure
from services.common.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class RefreshToken:
    user_id: str
    family_id: str
    generation: int
    secret: str

    def __str__(self) -> str:
        return f"{self.user_id}.{self.family_id}.{self.generation}.{self.secret}"

    @classmethod
    def parse(cls, raw: str) -> RefreshToken:
        parts = raw.split(".")
        if (
            len(parts) != 4
            or not all(parts)
            or not parts[2].isdigit()
            or len(parts[2]) > 9
            or len(raw) > 200
        ):
            raise _invalid()
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    @property
    def secret_hash(self) -> str:
        return hashlib.sha256(self.secret.encode()).hexdigest()


def _family_key(user_id: str, family_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": f"REFRESH#{family_id}"}


def _invalid() -> Unauthorized:
    return Unauthorized("The refresh token is not valid; sign in again.", code="invalid_token")


class Sessions:
    def __init__(self, table: Any, *, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ttl_s = ttl_s
        self._clock = clock

    async def start(self, user_id: str) -> RefreshToken:
        """A new family (a new sign-in) and its first refresh token."""
        token = RefreshToken(user_id, uuid.uuid4().hex, 0, secrets.token_urlsafe(32))
        now = int(self._clock())
        await self._table.put_item(
            Item={
                **_family_key(user_id, token.family_id),
                "generation": 0,
                "secret_hash": token.secret_hash,
                "created_at": now,
                "last_used_at": now,
                "expires_at": now + self._ttl_s,
                "revoked": False,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return token

    async def rotate(self, raw: str) -> RefreshToken:
        """Exchange a refresh token for the next one of its family."""
        presented = RefreshToken.parse(raw)
        family = await self._family(presented)
        current = int(family["generation"])
        if presented.generation < current:
            await self._revoke(presented, reason="reuse")
            raise _reused()
        if presented.generation > current or not hmac.compare_digest(
            presented.secret_hash, str(family["secret_hash"])
        ):
            raise _invalid()
        following = RefreshToken(
            presented.user_id,
            presented.family_id,
            current + 1,
            secrets.token_urlsafe(32),
        )
        now = int(self._clock())
        try:
            await self._table.update_item(
                Key=_family_key(presented.user_id, presented.family_id),
                UpdateExpression=(
                    "SET generation = :next, secret_hash = :hash, last_used_at = :now, "
                    "expires_at = :exp"
                ),
                ConditionExpression="generation = :gen AND revoked = :false",
                ExpressionAttributeValues={
                    ":next": following.generation,
                    ":hash": following.secret_hash,
                    ":now": now,
                    ":exp": now + self._ttl_s,
                    ":gen": current,
                    ":false": False,
                },
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            # Someone refreshed with this very token a moment ago: the token was used twice.
            await self._revoke(presented, reason="reuse")
            raise _reused() from exc
        return following

    async def end(self, raw: str, *, all_sessions: bool = False) -> None:
        """Sign out: revoke the token's family (or every family of its user)."""
        presented = RefreshToken.parse(raw)
        family = await self._family(presented, allow_revoked=True)
        if presented.generation == int(family["generation"]) and not hmac.compare_digest(
            presented.secret_hash, str(family["secret_hash"])
        ):
            raise _invalid()
        if presented.generation > int(family["generation"]):
            raise _invalid()
        if not all_sessions:
            await self._revoke(presented, reason="logout")
            return
        query: dict[str, Any] = {
            "KeyConditionExpression": KeyCondition("pk").eq(f"USER#{presented.user_id}")
            & KeyCondition("sk").begins_with("REFRESH#"),
        }
        while True:
            response = await self._table.query(**query)
            for item in response.get("Items", []):
                family_id = str(item["sk"]).removeprefix("REFRESH#")
                await self._revoke(
                    RefreshToken(presented.user_id, family_id, 0, ""), reason="logout_all"
                )
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def _family(self, token: RefreshToken, *, allow_revoked: bool = False) -> dict[str, Any]:
        response = await self._table.get_item(
            Key=_family_key(token.user_id, token.family_id), ConsistentRead=True
        )
        family = response.get("Item")
        if family is None or int(family.get("expires_at", 0)) <= self._clock():
            raise _invalid()
        if family.get("revoked") and not allow_revoked:
            if family.get("revoked_reason") == "reuse":
                raise _reused()
            raise Unauthorized("This session has ended; sign in again.", code="session_revoked")
        return family

    async def _revoke(self, token: RefreshToken, *, reason: str) -> None:
        try:
            await self._table.update_item(
                Key=_family_key(token.user_id, token.family_id),
                UpdateExpression="SET revoked = :true, revoked_reason = if_not_exists(revoked_reason, :reason)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":true": True, ":reason": reason},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise


def _reused() -> Unauthorized:
    return Unauthorized(
        "This refresh token was already used; the session is revoked. Sign in again.",
        code="refresh_token_reused",
    )

"""API keys of programs: created with a secret shown once, listed without it, deleted.

The item layout is shared with every service's verifier (`services.common.identity.api_keys`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition
from botocore.exceptions import ClientError

from services.auth.store import is_condition_failure
from services.common.errors import Conflict, NotFound
from services.common.identity import AuthenticatedUser, Permission, SecretBox
from services.common.identity.api_keys import (
    API_KEY_ID_PREFIX,
    ApiKeyLookup,
    ApiKeyRecord,
    api_key_item_key,
    secret_context,
)


class ApiKeys:
    def __init__(
        self, table: Any, box: SecretBox, lookup: ApiKeyLookup, *, max_per_user: int
    ) -> None:
        self._table = table
        self._box = box
        self._lookup = lookup
        self._max_per_user = max_per_user

    async def create(
        self, user: AuthenticatedUser, label: str, permissions: frozenset[Permission]
    ) -> tuple[ApiKeyRecord, str]:
        """A new key and its secret (returned this once; only its ciphertext is stored)."""
        if len(await self.list(user.user_id)) >= self._max_per_user:
            raise Conflict(
                f"You already have {self._max_per_user} API keys; delete one first.",
                code="too_many_api_keys",
            )
        key_id = API_KEY_ID_PREFIX + secrets.token_urlsafe(18)
        secret = secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            key_id=key_id,
            user_id=user.user_id,
            email=user.email or "",
            label=label,
            # Reading is part of every key: a program that trades must see its orders.
            permissions=permissions | {Permission.READ},
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            secret_ciphertext=self._box.encrypt(secret.encode(), context=secret_context(key_id)),
        )
        await self._table.put_item(
            Item=record.to_item(), ConditionExpression="attribute_not_exists(pk)"
        )
        self._lookup.forget(key_id)
        return record, secret

    async def list(self, user_id: str) -> list[ApiKeyRecord]:
        query: dict[str, Any] = {
            "IndexName": "by_user",
            "KeyConditionExpression": KeyCondition("user_id").eq(user_id),
        }
        records: list[ApiKeyRecord] = []
        while True:
            response = await self._table.query(**query)
            records.extend(ApiKeyRecord.from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(records, key=lambda r: (r.created_at, r.key_id))

    async def delete(self, user_id: str, key_id: str) -> None:
        """Delete one of the user's keys; 404 for a key that is not theirs (or does not exist)."""
        try:
            await self._table.delete_item(
                Key=api_key_item_key(key_id),
                ConditionExpression="user_id = :user",
                ExpressionAttributeValues={":user": user_id},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise NotFound("No such API key.", code="api_key_not_found") from exc
            raise
        finally:
            self._lookup.forget(key_id)

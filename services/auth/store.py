"""The auth service's two DynamoDB tables, opened once per process (aioboto3 resource API)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from services.common.aws import aio_session, client_config
from services.common.resources import physical_name


@dataclass(frozen=True, slots=True)
class AuthTables:
    """`users` holds users, e-mail claims, sessions, signing keys and login throttles;
    `api_keys` holds API keys (read by every service's verifier). Layout: docs/auth.md."""

    users: Any
    api_keys: Any

    @classmethod
    async def open(cls, stack: AsyncExitStack, prefix: str) -> AuthTables:
        resource = await stack.enter_async_context(
            aio_session().resource("dynamodb", config=client_config())
        )
        return cls(
            users=await resource.Table(physical_name(prefix, "users")),
            api_keys=await resource.Table(physical_name(prefix, "api_keys")),
        )

    async def api_keys_table(self) -> Any:
        """The `api_keys` table as a provider for the shared `ApiKeyLookup`."""
        return self.api_keys


def is_condition_failure(exc: ClientError) -> bool:
    """True when a conditional write lost (the item exists, or another writer got there first)."""
    return exc.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )

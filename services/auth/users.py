"""Users: e-mail normalisation, the password policy, argon2id hashing and the users table.

A user is two items: the profile `USER#<id>`/`PROFILE` and the e-mail claim `EMAIL#<email>`/`EMAIL`.
The profile is written first (its id is fresh, so it cannot collide), then the claim with
`attribute_not_exists`: of concurrent sign-ups with one e-mail exactly one claim succeeds; the
losers delete their profile. A crash between the two leaves an unreachable profile, never an
e-mail that belongs to nobody.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from botocore.exceptions import ClientError

from services.auth.store import is_condition_failure
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.identity import Role

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
_MAX_PASSWORD_CHARS = 256
# The most common passwords of public breach lists that pass the length rule.
_COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "12345678910", "0123456789", "1q2w3e4r5t", "qwertyuiop", "1qaz2wsx3edc",
        "password12", "password123", "password1234", "passw0rd123", "iloveyou12", "abcdefghij",
        "qwerty1234", "qwerty12345", "123456789a", "a123456789", "1234567890a", "aaaaaaaaaa",
        "1111111111", "0000000000", "letmein123", "welcome123", "football12", "baseball12",
        "trustno1234", "administrator", "changeme123", "tradestack", "tradestack1",
    }
)  # fmt: skip


def normalise_email(raw: str) -> str:
    """Trimmed, NFKC, lower case; `invalid_email` when it is not an address."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValidationFailed("That is not a valid e-mail address.", code="invalid_email")
    return email


def check_password_policy(password: str, email: str, min_length: int) -> None:
    """NIST SP 800-63B style: length and a block list, no composition rules."""
    problem = None
    if len(password) < min_length:
        problem = f"at least {min_length} characters long"
    elif len(password) > _MAX_PASSWORD_CHARS:
        problem = f"at most {_MAX_PASSWORD_CHARS} characters long"
    elif password.lower() in _COMMON_PASSWORDS or len(set(password)) < 4:
        problem = "not a common or repetitive password"
    elif _contains_email(password, email):
        problem = "different from your e-mail address"
    if problem:
        raise ValidationFailed(f"The password must be {problem}.", code="weak_password")


def _contains_email(password: str, email: str) -> bool:
    local = email.split("@")[0]
    lowered = password.lower()
    return (len(local) >= 4 and local in lowered) or lowered in email


class Passwords:
    """argon2id hashing, off the event loop (a hash takes tens of milliseconds by design)."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # Verified against when the e-mail is unknown, so both answers take the same time.
        self._dummy_hash = self._hasher.hash("no such user: constant-time decoy")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check) and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    email: str
    password_hash: str
    roles: frozenset[Role]
    created_at: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> User:
        return cls(
            user_id=str(item["user_id"]),
            email=str(item["email"]),
            password_hash=str(item["password_hash"]),
            roles=frozenset(Role(r) for r in item.get("roles", [])),
            created_at=str(item["created_at"]),
        )


def _profile_key(user_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": "PROFILE"}


def _email_key(email: str) -> dict[str, str]:
    return {"pk": f"EMAIL#{email}", "sk": "EMAIL"}


class Users:
    """The users in the `users` table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    async def create(self, email: str, password_hash: str, roles: frozenset[Role]) -> User:
        """Create a user; `email_taken` (409) when the e-mail already has one."""
        user = User(
            user_id=uuid.uuid4().hex,
            email=email,
            password_hash=password_hash,
            roles=roles,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        await self._table.put_item(
            Item={
                **_profile_key(user.user_id),
                "user_id": user.user_id,
                "email": user.email,
                "password_hash": user.password_hash,
                "roles": sorted(r.value for r in user.roles),
                "created_at": user.created_at,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        try:
            await self._table.put_item(
                Item={**_email_key(email), "user_id": user.user_id, "created_at": user.created_at},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            await self._table.delete_item(Key=_profile_key(user.user_id))
            if is_condition_failure(exc):
                raise Conflict(
                    "An account with this e-mail already exists.", code="email_taken"
                ) from exc
            raise
        return user

    async def by_id(self, user_id: str) -> User | None:
        response = await self._table.get_item(Key=_profile_key(user_id), ConsistentRead=True)
        item = response.get("Item")
        return User.from_item(item) if item else None

    async def by_email(self, email: str) -> User | None:
        response = await self._table.get_item(Key=_email_key(email), ConsistentRead=True)
        claim = response.get("Item")
        return await self.by_id(str(claim["user_id"])) if claim else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._table.update_item(
            Key=_profile_key(user_id),
            UpdateExpression="SET password_hash = :h",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":h": password_hash},
        )

    async def grant_role(self, email: str, role: Role) -> User:
        user = await self.by_email(email)
        if user is None:
            raise NotFound(f"No user with e-mail {email}.", code="user_not_found")
        roles = sorted({*(r.value for r in user.roles), role.value})
        await self._table.update_item(
            Key=_profile_key(user.user_id),
            UpdateExpression="SET #roles = :roles",
            ExpressionAttributeNames={"#roles": "roles"},
            ExpressionAttributeValues={":roles": roles},
        )
        return User(
            user.user_id,
            user.email,
            user.password_hash,
            frozenset(map(Role, roles)),
            user.created_at,
        )

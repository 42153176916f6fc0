"""The auth service's use cases, composed from users, sessions, tokens, throttle and API keys."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from services.auth.api_keys import ApiKeys
from services.auth.sessions import Sessions
from services.auth.settings import AuthSettings
from services.auth.signing_keys import SigningKeyRing
from services.auth.store import AuthTables
from services.auth.throttle import LoginThrottle, ThrottlePolicy
from services.auth.tokens import AccessTokens
from services.auth.users import Passwords, User, Users, check_password_policy, normalise_email
from services.common.errors import Conflict, TradestackError, Unauthorized
from services.common.identity import IdentityVerifier, Role, SecretBox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class AuthService:
    """Everything the routes and the admin CLI do, over one set of open tables."""

    def __init__(self, settings: AuthSettings, tables: AuthTables) -> None:
        self.settings = settings
        self.tables = tables
        box = SecretBox.from_base64(settings.auth_encryption_key.get_secret_value())
        self.passwords = Passwords(
            time_cost=settings.auth_argon2_time_cost,
            memory_kib=settings.auth_argon2_memory_kib,
            parallelism=settings.auth_argon2_parallelism,
        )
        self.users = Users(tables.users)
        self.sessions = Sessions(tables.users, ttl_s=settings.auth_refresh_token_ttl_s)
        self.key_ring = SigningKeyRing(
            tables.users,
            box,
            rotation_s=settings.auth_signing_key_rotation_days * 86_400,
            retention_s=settings.auth_access_token_ttl_s
            + settings.auth_key_ring_cache_s
            + settings.auth_leeway_s
            + 60,
            activation_s=settings.auth_signing_key_activation_s,
            cache_s=settings.auth_key_ring_cache_s,
        )
        self.access_tokens = AccessTokens(
            self.key_ring,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl_s=settings.auth_access_token_ttl_s,
        )
        self.throttle = LoginThrottle(
            tables.users,
            ThrottlePolicy(
                max_failures_per_email=settings.auth_login_max_failures_per_email,
                max_failures_per_ip=settings.auth_login_max_failures_per_ip,
                window_s=settings.auth_login_failure_window_s,
                base_delay_s=settings.auth_login_base_delay_s,
                max_delay_s=settings.auth_login_max_delay_s,
            ),
        )
        # This service verifies its own tokens from its key ring, not over HTTP from itself.
        self.verifier = IdentityVerifier.from_settings(
            settings,
            jwks_fetch=lambda: self.key_ring.jwks(reload=True),
            api_keys_table=tables.api_keys_table,
        )
        assert self.verifier.signatures is not None
        self.api_keys = ApiKeys(
            tables.api_keys,
            box,
            self.verifier.signatures.lookup,
            max_per_user=settings.auth_max_api_keys_per_user,
        )

    @classmethod
    async def open(cls, settings: AuthSettings, stack: AsyncExitStack) -> AuthService:
        """Open the tables and make sure a signing key exists (the first start makes one)."""
        service = cls(settings, await AuthTables.open(stack, settings.resource_prefix))
        await service.key_ring.signer()
        return service

    async def create_user(
        self, raw_email: str, password: str, roles: frozenset[Role] = frozenset({Role.TRADER})
    ) -> User:
        email = normalise_email(raw_email)
        check_password_policy(password, email, self.settings.auth_password_min_length)
        return await self.users.create(email, await self.passwords.hash(password), roles)

    async def login(self, raw_email: str, password: str, client_ip: str) -> TokenPair:
        """Tokens for a right e-mail and password. An unknown e-mail and a wrong password get the
        same answer after the same work; repeated failures are slowed (see throttle.py)."""
        try:
            email = normalise_email(raw_email)
        except TradestackError:
            email = raw_email.strip().lower()[:254]
        await self.throttle.check(email, client_ip)
        user = await self.users.by_email(email)
        if not await self.passwords.verify(user.password_hash if user else None, password):
            await self.throttle.record_failure(email, client_ip)
            raise Unauthorized("Wrong e-mail or password.", code="invalid_credentials")
        assert user is not None
        await self.throttle.record_success(email)
        if self.passwords.needs_rehash(user.password_hash):
            await self.users.set_password_hash(user.user_id, await self.passwords.hash(password))
        return await self._tokens(user, str(await self.sessions.start(user.user_id)))

    async def refresh(self, raw_refresh_token: str) -> TokenPair:
        following = await self.sessions.rotate(raw_refresh_token)
        user = await self.users.by_id(following.user_id)
        if user is None:
            raise Unauthorized("The account no longer exists.", code="invalid_token")
        return await self._tokens(user, str(following))

    async def _tokens(self, user: User, refresh_token: str) -> TokenPair:
        return TokenPair(
            access_token=await self.access_tokens.issue(user),
            refresh_token=refresh_token,
            expires_in=self.access_tokens.ttl_s,
        )

    async def ensure_bootstrap_admin(self) -> None:
        """Create the first admin from the environment (containers), once; never touch an
        existing account (someone may have signed up with that e-mail first)."""
        email = self.settings.auth_bootstrap_admin_email
        password = self.settings.auth_bootstrap_admin_password
        if not email or password is None:
            return
        try:
            await self.create_user(email, password.get_secret_value(), frozenset(Role))
            log.info("created the bootstrap admin", extra={"email": email})
        except Conflict:
            existing = await self.users.by_email(normalise_email(email))
            if existing is not None and Role.ADMIN not in existing.roles:
                log.warning(
                    "bootstrap admin e-mail belongs to a user without the admin role; left as is "
                    "(grant it with `tradestack admin grant-role`)",
                    extra={"email": email},
                )

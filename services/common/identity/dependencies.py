"""The FastAPI side of identity: one verifier per app and the `CurrentUser` dependencies.

from services.common.identity import CurrentUser, RequireTrade, identity_lifespan

app = create_service_app(settings, title=..., routers=[router], lifespan=identity_lifespan)

@router.post("/api/orders")
async def place_order(user: RequireTrade, ...) -> ...:
    account = user.account
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from services.common.errors import BadRequest, Forbidden, Unauthorized
from services.common.identity.api_keys import ApiKeyLookup, TableProvider
from services.common.identity.encryption import SecretBox
from services.common.identity.settings import IdentitySettings
from services.common.identity.signatures import HEADER_API_KEY, SignatureVerifier
from services.common.identity.tokens import (
    CachedJwks,
    JwksFetcher,
    TokenVerifier,
    TrustedIssuer,
    http_jwks_fetcher,
)
from services.common.identity.user import AuthenticatedUser, Permission, Role
from services.common.resources import physical_name

log = logging.getLogger(__name__)

# Declared for OpenAPI, so `/docs` offers "Authorize" (password flow) and the API-key header.
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)
api_key_scheme = APIKeyHeader(name=HEADER_API_KEY, auto_error=False)


class _LazyTable:
    """An aioboto3 DynamoDB table opened on first use (only signed requests need it)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._stack = AsyncExitStack()
        self._table: Any = None

    async def __call__(self) -> Any:
        if self._table is None:
            from services.common.aws import aio_session, client_config

            resource = await self._stack.enter_async_context(
                aio_session().resource("dynamodb", config=client_config())
            )
            self._table = await resource.Table(self._name)
        return self._table

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._table = None


class IdentityVerifier:
    """Authenticates a request by bearer JWT or by API-key signature."""

    def __init__(self, tokens: TokenVerifier, signatures: SignatureVerifier | None) -> None:
        self.tokens = tokens
        self.signatures = signatures
        self._closers: list[_LazyTable] = []

    @classmethod
    def from_settings(
        cls,
        settings: IdentitySettings,
        *,
        jwks_fetch: JwksFetcher | None = None,
        api_keys_table: TableProvider | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> IdentityVerifier:
        """Build the verifier a service uses. The auth service passes its own `jwks_fetch` and
        table; every other service fetches the JWKS over HTTP and opens the table lazily."""
        issuers: list[TrustedIssuer] = []
        if jwks_fetch is not None or settings.auth_jwks_url:
            fetch = jwks_fetch or http_jwks_fetcher(
                settings.auth_jwks_url, transport=http_transport
            )
            issuers.append(
                TrustedIssuer(
                    settings.auth_issuer,
                    CachedJwks(
                        fetch,
                        cache_s=settings.auth_jwks_cache_s,
                        min_refresh_s=settings.auth_jwks_min_refresh_s,
                    ),
                    audience=settings.auth_audience,
                )
            )
        cognito_jwks_url = settings.cognito_jwks_url
        if settings.auth_cognito_issuer and cognito_jwks_url:
            issuers.append(
                TrustedIssuer(
                    settings.auth_cognito_issuer,
                    CachedJwks(
                        http_jwks_fetcher(cognito_jwks_url, transport=http_transport),
                        cache_s=settings.auth_jwks_cache_s,
                        min_refresh_s=settings.auth_jwks_min_refresh_s,
                    ),
                    cognito=True,
                    client_ids=settings.cognito_client_ids,
                )
            )
        lazy_table = None
        if api_keys_table is None:
            lazy_table = _LazyTable(physical_name(settings.resource_prefix, "api_keys"))
            api_keys_table = lazy_table
        lookup = ApiKeyLookup(
            api_keys_table,
            SecretBox.from_base64(settings.auth_encryption_key.get_secret_value()),
            cache_s=settings.auth_api_key_cache_s,
        )
        verifier = cls(
            TokenVerifier(issuers, leeway_s=settings.auth_leeway_s),
            SignatureVerifier(lookup, window_ms=settings.auth_signature_window_ms),
        )
        if lazy_table is not None:
            verifier._closers.append(lazy_table)
        return verifier

    async def authenticate(self, request: Request, bearer: str | None) -> AuthenticatedUser:
        has_key = HEADER_API_KEY.lower() in request.headers
        if has_key and bearer:
            raise BadRequest(
                "Send either a bearer token or an API-key signature, not both.",
                code="ambiguous_credentials",
            )
        if has_key:
            if self.signatures is None:
                raise Unauthorized("API keys are not accepted here.", code="invalid_api_key")
            raw_path = request.scope.get("raw_path") or request.url.path.encode()
            return await self.signatures.verify(
                request.headers,
                request.method,
                raw_path.decode("latin-1"),
                request.scope.get("query_string", b"").decode("latin-1"),
                await request.body(),
            )
        if bearer:
            return await self.tokens.verify(bearer)
        raise Unauthorized(
            "Sign in: send `Authorization: Bearer <token>` or an API-key signature.",
            code="not_authenticated",
        )

    async def aclose(self) -> None:
        for closer in self._closers:
            await closer.aclose()


def install_verifier(app: FastAPI, verifier: IdentityVerifier) -> None:
    """Make `verifier` the one `CurrentUser` uses in `app`."""
    app.state.identity_verifier = verifier


@asynccontextmanager
async def identity_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan for a service's app: a verifier from the environment, closed at shutdown."""
    verifier = IdentityVerifier.from_settings(IdentitySettings())
    install_verifier(app, verifier)
    try:
        yield
    finally:
        await verifier.aclose()


def _verifier(request: Request) -> IdentityVerifier:
    verifier = getattr(request.app.state, "identity_verifier", None)
    if verifier is None:
        # A service that forgot `identity_lifespan` still works; its table client is only
        # closed when the process exits.
        log.warning("no identity verifier installed; building one from the environment")
        verifier = IdentityVerifier.from_settings(IdentitySettings())
        install_verifier(request.app, verifier)
    return verifier


async def current_user(
    request: Request,
    bearer: Annotated[str | None, Depends(bearer_scheme)],
    _api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> AuthenticatedUser:
    """The authenticated caller (bearer JWT or API-key signature), or 401."""
    return await _verifier(request).authenticate(request, bearer)


CurrentUser = Annotated[AuthenticatedUser, Depends(current_user)]


async def require_read(user: CurrentUser) -> AuthenticatedUser:
    if not user.can(Permission.READ):
        raise Forbidden("This API key may not read.", code="insufficient_permissions")
    return user


async def require_trade(user: CurrentUser) -> AuthenticatedUser:
    if not user.can(Permission.TRADE):
        raise Forbidden("This API key has no `trade` permission.", code="insufficient_permissions")
    return user


async def require_admin(user: CurrentUser) -> AuthenticatedUser:
    if Role.ADMIN not in user.roles:
        raise Forbidden("This needs the admin role.", code="admin_required")
    return user


async def require_session(user: CurrentUser) -> AuthenticatedUser:
    """A signed-in person (bearer JWT), not a program: e.g. for managing API keys."""
    if user.api_key_id is not None:
        raise Forbidden("API keys cannot do this; sign in instead.", code="session_required")
    return user


RequireRead = Annotated[AuthenticatedUser, Depends(require_read)]
RequireTrade = Annotated[AuthenticatedUser, Depends(require_trade)]
RequireAdmin = Annotated[AuthenticatedUser, Depends(require_admin)]
RequireSession = Annotated[AuthenticatedUser, Depends(require_session)]

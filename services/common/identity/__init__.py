"""Identity for every service: who is calling, verified one way everywhere.

A route protects itself with an annotated dependency:

    from services.common.identity import CurrentUser, RequireAdmin, RequireTrade

    @router.get("/api/balances")
    async def balances(user: CurrentUser) -> ...: ...      # any signed-in caller
    @router.post("/api/orders")
    async def place(user: RequireTrade) -> ...: ...        # JWT, or an API key with `trade`

and the service's app installs the verifier with `lifespan=identity_lifespan`. Callers send
either `Authorization: Bearer <RS256 JWT>` (from the auth service, or Cognito when configured) or
an API-key signature (`X-TS-APIKEY`, `X-TS-TIMESTAMP`, `X-TS-SIGNATURE`); both give the same
`AuthenticatedUser`. See docs/auth.md.
"""

from services.common.identity.dependencies import (
    CurrentUser,
    IdentityVerifier,
    RequireAdmin,
    RequireRead,
    RequireSession,
    RequireTrade,
    current_user,
    identity_lifespan,
    install_verifier,
)
from services.common.identity.encryption import SecretBox, SecretDecryptionError
from services.common.identity.settings import IdentitySettings
from services.common.identity.signatures import (
    HEADER_API_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign_request,
    signed_headers,
)
from services.common.identity.user import AuthenticatedUser, AuthMethod, Permission, Role

__all__ = [
    "HEADER_API_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "AuthMethod",
    "AuthenticatedUser",
    "CurrentUser",
    "IdentitySettings",
    "IdentityVerifier",
    "Permission",
    "RequireAdmin",
    "RequireRead",
    "RequireSession",
    "RequireTrade",
    "Role",
    "SecretBox",
    "SecretDecryptionError",
    "current_user",
    "identity_lifespan",
    "install_verifier",
    "sign_request",
    "signed_headers",
]

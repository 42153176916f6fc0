"""Routes of the auth service, all under `/api/auth`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from services.auth.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    Credentials,
    JwksOut,
    LogoutIn,
    MeOut,
    RefreshIn,
    TokenOut,
    UserOut,
)
from services.auth.service import AuthService, TokenPair
from services.common.errors import BadRequest, ValidationFailed, error_responses
from services.common.identity import CurrentUser, RequireSession
from services.common.identity.api_keys import ApiKeyRecord

# Routes add what else they answer; the gateway adds 413 and 429.
router = APIRouter(prefix="/api/auth", tags=["auth"], responses=error_responses(400, 422))
_SIGNED_IN = error_responses(401, 403, 503)


def _service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth
    return service


Service = Annotated[AuthService, Depends(_service)]


def client_ip(request: Request, trusted_proxy_hops: int) -> str:
    """The caller's address: the socket peer, or the entry that many trusted proxies back in
    X-Forwarded-For (a client can put anything in front of it, so only those entries count)."""
    peer = request.client.host if request.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [
        p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()
    ]
    return forwarded[-trusted_proxy_hops] if len(forwarded) >= trusted_proxy_hops else peer


def _token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/signup", status_code=201, response_model=UserOut, responses=error_responses(409))
async def signup(body: Credentials, service: Service) -> UserOut:
    """Create an account (role `trader`). Errors: `invalid_email`, `weak_password`, `email_taken`."""
    user = await service.create_user(body.email, body.password)
    return UserOut(
        user_id=user.user_id, email=user.email, roles=sorted(user.roles), created_at=user.created_at
    )


_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Credentials.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string", "description": "E-mail address."},
                        "password": {"type": "string"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/login",
    response_model=TokenOut,
    openapi_extra=_LOGIN_BODY,
    responses=error_responses(401, 429),
)
async def login(request: Request, service: Service) -> TokenOut:
    """Sign in with `{"email","password"}` (JSON) or the OAuth2 password form (`username` is the
    e-mail), as `/docs` "Authorize" sends. Errors: `invalid_credentials`, `too_many_attempts`."""
    credentials = await _login_credentials(request)
    ip = client_ip(request, service.settings.auth_trusted_proxy_hops)
    return _token_out(await service.login(credentials.email, credentials.password, ip))


async def _login_credentials(request: Request) -> Credentials:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode(), keep_blank_values=True)
            if form.get("grant_type", ["password"])[0] != "password":
                raise BadRequest(
                    "Only grant_type=password is supported.", code="unsupported_grant_type"
                )
            return Credentials(
                email=form.get("username", [""])[0], password=form.get("password", [""])[0]
            )
        return Credentials.model_validate_json(body)
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc
        raise ValidationFailed("Send an e-mail and a password.") from exc
    except UnicodeDecodeError as exc:
        raise BadRequest("The form is not valid UTF-8.") from exc


@router.post("/refresh", response_model=TokenOut, responses=error_responses(401))
async def refresh(body: RefreshIn, service: Service) -> TokenOut:
    """Exchange a refresh token for new tokens; the old refresh token stops working. Reusing it
    revokes the session (`refresh_token_reused`)."""
    return _token_out(await service.refresh(body.refresh_token))


@router.post("/logout", status_code=204, responses=error_responses(401))
async def logout(body: LogoutIn, service: Service) -> Response:
    """End the session of this refresh token (or all of the user's sessions). Access tokens
    already issued stay valid until they expire (15 minutes by default)."""
    await service.sessions.end(body.refresh_token, all_sessions=body.all_sessions)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, responses=_SIGNED_IN)
async def me(user: CurrentUser) -> MeOut:
    """Who the caller is, by bearer token or API-key signature."""
    return MeOut(
        user_id=user.user_id,
        email=user.email,
        roles=sorted(user.roles),
        auth_method=user.auth_method,
        permissions=sorted(user.permissions),
        api_key_id=user.api_key_id,
    )


@router.get("/.well-known/jwks.json", response_model=JwksOut)
async def jwks(service: Service, response: Response) -> dict[str, Any]:
    """Public keys that verify access tokens (current and recently rotated)."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return await service.key_ring.jwks()


def _key_out(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.key_id,
        "label": record.label,
        "permissions": sorted(record.permissions),
        "created_at": record.created_at,
    }


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreatedOut, responses=_SIGNED_IN)
async def create_api_key(body: ApiKeyIn, user: RequireSession, service: Service) -> dict[str, Any]:
    """Create an API key. The `secret` is in this response only; sign requests with it."""
    record, secret = await service.api_keys.create(user, body.label, frozenset(body.permissions))
    return {**_key_out(record), "secret": secret}


@router.get("/api-keys", response_model=list[ApiKeyOut], responses=_SIGNED_IN)
async def list_api_keys(user: RequireSession, service: Service) -> list[dict[str, Any]]:
    """The caller's API keys (never their secrets)."""
    return [_key_out(r) for r in await service.api_keys.list(user.user_id)]


@router.delete(
    "/api-keys/{key_id}", status_code=204, responses={**_SIGNED_IN, **error_responses(404)}
)
async def delete_api_key(key_id: str, user: RequireSession, service: Service) -> Response:
    """Delete an API key; signed requests with it stop being accepted."""
    await service.api_keys.delete(user.user_id, key_id)
    return Response(status_code=204)

"""Request and response bodies of the auth API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.common.identity import AuthMethod, Permission, Role


class Credentials(BaseModel):
    email: str = Field(max_length=320, examples=["trader@example.com"])
    password: str = Field(max_length=1024, examples=["correct horse battery staple"])


class UserOut(BaseModel):
    user_id: str
    email: str
    roles: list[Role]
    created_at: str


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=512)


class LogoutIn(RefreshIn):
    all_sessions: bool = Field(default=False, description="Sign out every session of the user.")


class MeOut(BaseModel):
    user_id: str = Field(description="Also the account id the user trades under.")
    email: str | None
    roles: list[Role]
    auth_method: AuthMethod
    permissions: list[Permission]
    api_key_id: str | None = None


class ApiKeyIn(BaseModel):
    label: str = Field(min_length=1, max_length=64, examples=["market maker bot"])
    permissions: list[Permission] = Field(
        default=[Permission.READ], min_length=1, description="`read` is always included."
    )


class ApiKeyOut(BaseModel):
    id: str
    label: str
    permissions: list[Permission]
    created_at: str


class ApiKeyCreatedOut(ApiKeyOut):
    secret: str = Field(description="Shown only in this response; store it now.")


class JwksOut(BaseModel):
    keys: list[dict[str, str]]

"""The auth app in-process (httpx ASGITransport) against the session's moto server.

argon2 runs with tiny parameters here (1 pass, 64 KiB) so a hash takes well under a millisecond;
`AuthSettings.unsafe_in_production` refuses such parameters outside tests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from jose import jwt

from services.auth.app import create_app
from services.auth.service import AuthService
from services.auth.settings import AuthSettings
from services.common import resources
from services.common.http import create_service_app
from services.common.identity import (
    CurrentUser,
    IdentitySettings,
    IdentityVerifier,
    RequireAdmin,
    RequireTrade,
    install_verifier,
)

PASSWORD = "correct horse battery staple"


def make_settings(prefix: str, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "resource_prefix": prefix,
        "auth_argon2_time_cost": 1,
        "auth_argon2_memory_kib": 64,
        "auth_argon2_parallelism": 1,
        # Long enough that a throttled attempt never becomes allowed while a test runs.
        "auth_login_base_delay_s": 60.0,
        # A rotated key signs at once here; test_tokens checks the real activation delay.
        "auth_signing_key_activation_s": 0.0,
        **overrides,
    }
    return AuthSettings(**values)


@asynccontextmanager
async def running(settings: AuthSettings) -> AsyncIterator[FastAPI]:
    """The auth app with its lifespan (tables opened, signing key ensured) running."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://auth.test")


@pytest.fixture
def auth_prefix(local_aws: str) -> str:
    """A fresh prefix with only the auth tables (what `aws_prefix` gives, minus streams and
    buckets this service never touches; it keeps each test's setup short)."""
    prefix = "a" + uuid.uuid4().hex[:10]
    dynamodb = boto3.client("dynamodb")
    for name in ("users", "api_keys"):
        table_def = resources.table(name)
        dynamodb.create_table(**resources.table_create_arguments(prefix, table_def))
        if table_def.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=resources.physical_name(prefix, name),
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table_def.ttl_attribute},
            )
    return prefix


@pytest.fixture
def auth_settings(auth_prefix: str) -> AuthSettings:
    return make_settings(auth_prefix)


@pytest.fixture
async def auth_app(auth_settings: AuthSettings) -> AsyncIterator[FastAPI]:
    async with running(auth_settings) as app:
        yield app


@pytest.fixture
def auth_service(auth_app: FastAPI) -> AuthService:
    service: AuthService = auth_app.state.auth
    return service


@pytest.fixture
async def client(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(auth_app) as c:
        yield c


def unique_email() -> str:
    return f"trader-{uuid.uuid4().hex[:8]}@example.com"


@dataclass
class SignedIn:
    email: str
    user_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_in(client: httpx.AsyncClient, email: str) -> SignedIn:
    tokens = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    user_id = jwt.get_unverified_claims(body["access_token"])["sub"]
    return SignedIn(email, user_id, body["access_token"], body["refresh_token"])


async def sign_up_and_in(client: httpx.AsyncClient, email: str | None = None) -> SignedIn:
    email = email or unique_email()
    created = await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return await sign_in(client, email)


@pytest.fixture
async def trader(client: httpx.AsyncClient) -> SignedIn:
    return await sign_up_and_in(client)


class CountingTransport(httpx.AsyncBaseTransport):
    """Forwards to the auth app in-process and counts the requests (JWKS fetches)."""

    def __init__(self, app: FastAPI) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        return await self._inner.handle_async_request(request)


def protected_router() -> APIRouter:
    """Routes as another service (orders) would write them."""
    router = APIRouter()

    @router.get("/api/orders")
    async def list_orders(user: CurrentUser, symbol: str | None = None) -> dict[str, Any]:
        return {"account": user.account, "auth_method": user.auth_method, "symbol": symbol}

    @router.post("/api/orders")
    async def place_order(user: RequireTrade, order: dict[str, Any]) -> dict[str, Any]:
        return {"account": user.account, "order": order}

    @router.post("/api/admin/markets")
    async def add_market(user: RequireAdmin) -> dict[str, Any]:
        return {"by": user.user_id}

    return router


@dataclass
class OtherService:
    client: httpx.AsyncClient
    jwks_transport: CountingTransport
    verifier: IdentityVerifier


@asynccontextmanager
async def other_service_for(
    auth_app: FastAPI, settings: AuthSettings, **overrides: Any
) -> AsyncIterator[OtherService]:
    """A second service that verifies with the shared verifier: JWKS over HTTP from the auth app,
    API keys read from the `api_keys` table, exactly as in production."""
    values = {
        "resource_prefix": settings.resource_prefix,
        "auth_jwks_url": "http://auth.test/api/auth/.well-known/jwks.json",
        **overrides,
    }
    identity_settings = IdentitySettings(**values)
    transport = CountingTransport(auth_app)
    verifier = IdentityVerifier.from_settings(identity_settings, http_transport=transport)
    app = create_service_app(identity_settings, title="orders-like", routers=[protected_router()])
    install_verifier(app, verifier)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orders.test"
        ) as client:
            yield OtherService(client, transport, verifier)
    finally:
        await verifier.aclose()


@pytest.fixture
async def other_service(
    auth_app: FastAPI, auth_settings: AuthSettings
) -> AsyncIterator[OtherService]:
    async with other_service_for(auth_app, auth_settings) as service:
        yield service

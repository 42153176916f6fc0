"""Admin bootstrap: `tradestack admin ...` and the first admin from the environment."""

from __future__ import annotations

import asyncio

import pytest
from jose import jwt
from typer.testing import CliRunner

from services.auth.settings import AuthSettings
from services.cli import app as cli
from tests.auth.conftest import PASSWORD, client_for, make_settings, running, unique_email


@pytest.fixture
def admin_env(auth_prefix: str, monkeypatch: pytest.MonkeyPatch) -> AuthSettings:
    """The CLI reads its settings from the environment, like the service."""
    monkeypatch.setenv("TRADESTACK_RESOURCE_PREFIX", auth_prefix)
    monkeypatch.setenv("TRADESTACK_AUTH_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("TRADESTACK_AUTH_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("TRADESTACK_AUTH_ARGON2_PARALLELISM", "1")
    return make_settings(auth_prefix)


def _roles_after_login(settings: AuthSettings, email: str, password: str = PASSWORD) -> list[str]:
    async def login() -> list[str]:
        async with running(settings) as app, client_for(app) as client:
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": password}
            )
            assert response.status_code == 200, response.text
            roles: list[str] = jwt.get_unverified_claims(response.json()["access_token"])["roles"]
            return roles

    return asyncio.run(login())


def test_create_user_with_the_admin_role(admin_env: AuthSettings) -> None:
    email = unique_email()
    result = CliRunner().invoke(
        cli,
        ["admin", "create-user", "--email", email, "--role", "admin"],
        env={"TRADESTACK_ADMIN_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert "admin, trader" in result.output
    assert _roles_after_login(admin_env, email) == ["admin", "trader"]


def test_create_user_prompts_for_the_password(admin_env: AuthSettings) -> None:
    email = unique_email()
    result = CliRunner().invoke(
        cli, ["admin", "create-user", "--email", email], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert _roles_after_login(admin_env, email) == ["trader"]


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (["--role", "superuser"], PASSWORD, "unknown role"),
        ([], "short", "at least 10 characters"),
    ],
)
def test_create_user_refusals_exit_1(
    admin_env: AuthSettings, arguments: list[str], password: str, message: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["admin", "create-user", "--email", unique_email(), *arguments],
        env={"TRADESTACK_ADMIN_PASSWORD": password},
    )
    assert result.exit_code == 1 and message in result.output


def test_create_user_twice_is_refused_and_grant_role_promotes(admin_env: AuthSettings) -> None:
    email = unique_email()
    runner = CliRunner()
    create = ["admin", "create-user", "--email", email]
    assert runner.invoke(cli, create, env={"TRADESTACK_ADMIN_PASSWORD": PASSWORD}).exit_code == 0
    again = runner.invoke(cli, create, env={"TRADESTACK_ADMIN_PASSWORD": PASSWORD})
    assert again.exit_code == 1 and "already exists" in again.output
    grant = runner.invoke(cli, ["admin", "grant-role", "--email", email.upper(), "--role", "admin"])
    assert grant.exit_code == 0, grant.output
    assert _roles_after_login(admin_env, email) == ["admin", "trader"]


def test_rotate_signing_key(admin_env: AuthSettings) -> None:
    async def kids() -> list[str]:
        async with running(admin_env) as app, client_for(app) as client:
            return [
                k["kid"]
                for k in (await client.get("/api/auth/.well-known/jwks.json")).json()["keys"]
            ]

    before = asyncio.run(kids())
    result = CliRunner().invoke(cli, ["admin", "rotate-signing-key"])
    assert result.exit_code == 0, result.output
    after = asyncio.run(kids())
    assert len(after) == 2 and after[1:] == before and after[0] in result.output


async def test_bootstrap_admin_from_the_environment(auth_prefix: str) -> None:
    email = unique_email()
    settings = make_settings(
        auth_prefix, auth_bootstrap_admin_email=email, auth_bootstrap_admin_password=PASSWORD
    )
    for _ in range(2):  # a second start (or replica) finds the admin and changes nothing
        async with running(settings) as app, client_for(app) as client:
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": PASSWORD}
            )
            assert response.status_code == 200
            claims = jwt.get_unverified_claims(response.json()["access_token"])
            assert claims["roles"] == ["admin", "trader"]


async def test_bootstrap_never_promotes_someone_who_signed_up_first(auth_prefix: str) -> None:
    email = unique_email()
    async with running(make_settings(auth_prefix)) as app, client_for(app) as client:
        await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    settings = make_settings(
        auth_prefix,
        auth_bootstrap_admin_email=email,
        auth_bootstrap_admin_password="other password 1",
    )
    async with running(settings) as app, client_for(app) as client:
        response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert jwt.get_unverified_claims(response.json()["access_token"])["roles"] == ["trader"]

"""Sign-up, sign-in and the login throttle, through the HTTP API against moto."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from services.auth.settings import AuthSettings
from tests.auth.conftest import PASSWORD, SignedIn, client_for, make_settings, running, unique_email


async def test_signup_normalises_the_email_and_makes_a_trader(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/signup", json={"email": "  Mixed.Case@Example.COM ", "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "mixed.case@example.com" and body["roles"] == ["trader"]
    assert "password" not in response.text and "argon2" not in response.text


async def test_duplicate_email_in_another_case_is_taken(client: httpx.AsyncClient) -> None:
    email = unique_email()
    first = await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    again = await client.post(
        "/api/auth/signup", json={"email": email.upper(), "password": PASSWORD}
    )
    assert first.status_code == 201
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"


async def test_weak_password_gets_a_clear_message(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/signup", json={"email": unique_email(), "password": "hunter2"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "weak_password" and "at least 10 characters" in error["message"]


async def test_invalid_email_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/signup", json={"email": "nobody", "password": PASSWORD})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_email"


async def test_concurrent_signups_of_one_email_have_exactly_one_winner(
    client: httpx.AsyncClient, auth_app: FastAPI
) -> None:
    email = unique_email()
    responses = await asyncio.gather(
        *(
            client.post("/api/auth/signup", json={"email": email, "password": f"{PASSWORD} {i}"})
            for i in range(12)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 11
    winner = next(r for r in responses if r.status_code == 201).json()
    stored = await auth_app.state.auth.users.by_email(email)
    assert stored is not None and stored.user_id == winner["user_id"]


async def test_login_with_json_returns_bearer_tokens(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": trader.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["access_token"].count(".") == 2 and body["refresh_token"]


async def test_login_accepts_the_oauth2_password_form(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    response = await client.post(
        "/api/auth/login",
        data={"grant_type": "password", "username": trader.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["email"] == trader.email


async def test_openapi_documents_both_login_bodies(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    content = spec["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(content)
    assert (
        spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"][
            "tokenUrl"
        ]
        == "/api/auth/login"
    )


async def test_unknown_user_and_wrong_password_answer_identically(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    wrong = await client.post(
        "/api/auth/login", json={"email": trader.email, "password": "not it at all"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": unique_email(), "password": "not it at all"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert {k for k in wrong.headers if k != "x-request-id" and k != "content-length"} == {
        k for k in unknown.headers if k != "x-request-id" and k != "content-length"
    }


async def _fail(client: httpx.AsyncClient, email: str, times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        response = await client.post(
            "/api/auth/login", json={"email": email, "password": "wrong guess!"}
        )
        statuses.append(response.status_code)
    return statuses


async def test_repeated_failures_for_one_email_are_slowed_with_429(
    client: httpx.AsyncClient, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    limit = auth_settings.auth_login_max_failures_per_email
    assert await _fail(client, trader.email, limit) == [401] * limit
    blocked = await client.post(
        "/api/auth/login", json={"email": trader.email, "password": "wrong guess!"}
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    # Even the right password waits: the lock must not tell a guesser when they are right.
    right = await client.post("/api/auth/login", json={"email": trader.email, "password": PASSWORD})
    assert right.status_code == 429
    # An unknown e-mail is throttled exactly the same way.
    ghost = unique_email()
    assert await _fail(client, ghost, limit + 1) == [401] * limit + [429]


async def test_a_success_before_the_limit_resets_the_email_counter(
    client: httpx.AsyncClient, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    limit = auth_settings.auth_login_max_failures_per_email
    await _fail(client, trader.email, limit - 1)
    ok = await client.post("/api/auth/login", json={"email": trader.email, "password": PASSWORD})
    assert ok.status_code == 200
    assert await _fail(client, trader.email, limit - 1) == [401] * (limit - 1)


async def test_one_ip_spraying_many_emails_is_slowed(auth_prefix: str) -> None:
    settings = make_settings(auth_prefix, auth_login_max_failures_per_ip=4)
    async with (
        running(settings) as app,
        client_for(app, "203.0.113.9") as sprayer,
        client_for(app, "198.51.100.1") as other,
    ):
        statuses = [s for _ in range(5) for s in await _fail(sprayer, unique_email(), 1)]
        assert statuses == [401] * 4 + [429]
        # Another address is unaffected.
        assert await _fail(other, unique_email(), 1) == [401]


async def test_the_throttle_survives_a_restart(auth_prefix: str) -> None:
    settings = make_settings(auth_prefix)
    email = unique_email()
    async with running(settings) as app, client_for(app) as c:
        await c.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
        await _fail(c, email, settings.auth_login_max_failures_per_email)
    async with running(settings) as app, client_for(app) as c:
        response = await c.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 429


async def test_forwarded_for_is_used_only_behind_trusted_proxies(auth_prefix: str) -> None:
    settings = make_settings(
        auth_prefix, auth_login_max_failures_per_ip=2, auth_trusted_proxy_hops=1
    )
    async with running(settings) as app, client_for(app, "10.0.0.2") as gateway:

        async def attempt(forwarded_for: str) -> int:
            response = await gateway.post(
                "/api/auth/login",
                json={"email": unique_email(), "password": "wrong guess!"},
                headers={"X-Forwarded-For": forwarded_for},
            )
            return response.status_code

        # The client's own spoofed entry (left of the proxy's) does not change its address.
        assert [await attempt(f"1.1.1.{i}, 192.0.2.7") for i in range(3)] == [401, 401, 429]
        assert await attempt("192.0.2.8") == 401

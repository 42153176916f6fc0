"""Refresh-token rotation, reuse detection, logout and `/me`."""

from __future__ import annotations

import asyncio

import httpx

from tests.auth.conftest import PASSWORD, SignedIn


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def test_me_describes_the_caller(client: httpx.AsyncClient, trader: SignedIn) -> None:
    response = await client.get("/api/auth/me", headers=trader.headers)
    assert response.status_code == 200
    assert response.json() == {
        "user_id": trader.user_id,
        "email": trader.email,
        "roles": ["trader"],
        "auth_method": "jwt",
        "permissions": ["read", "trade"],
        "api_key_id": None,
    }


async def test_me_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_refresh_rotates_the_refresh_token(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    first = await _refresh(client, trader.refresh_token)
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != trader.refresh_token
    assert rotated["access_token"] != trader.access_token
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.json()["user_id"] == trader.user_id
    second = await _refresh(client, rotated["refresh_token"])
    assert second.status_code == 200


async def test_reusing_an_old_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    newer = (await _refresh(client, trader.refresh_token)).json()["refresh_token"]
    reused = await _refresh(client, trader.refresh_token)
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    # The legitimate-looking newest token dies with its family: whoever holds it signs in again.
    after = await _refresh(client, newer)
    assert after.status_code == 401 and after.json()["error"]["code"] == "refresh_token_reused"
    # Other sessions of the same user are unaffected.
    other = await client.post("/api/auth/login", json={"email": trader.email, "password": PASSWORD})
    assert (await _refresh(client, other.json()["refresh_token"])).status_code == 200


async def test_two_concurrent_refreshes_with_one_token_count_as_reuse(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    responses = await asyncio.gather(*(_refresh(client, trader.refresh_token) for _ in range(2)))
    assert 401 in {r.status_code for r in responses}
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 401}
    assert codes == {"refresh_token_reused"}


async def test_forged_refresh_secret_is_invalid_without_revoking(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    user, family, generation, _ = trader.refresh_token.split(".")
    forged = await _refresh(client, f"{user}.{family}.{generation}.guessed-secret")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_token"
    assert (await _refresh(client, trader.refresh_token)).status_code == 200


async def test_logout_ends_the_session(client: httpx.AsyncClient, trader: SignedIn) -> None:
    response = await client.post("/api/auth/logout", json={"refresh_token": trader.refresh_token})
    assert response.status_code == 204
    after = await _refresh(client, trader.refresh_token)
    assert after.status_code == 401 and after.json()["error"]["code"] == "session_revoked"
    again = await client.post("/api/auth/logout", json={"refresh_token": trader.refresh_token})
    assert again.status_code == 204  # signing out twice is fine


async def test_logout_of_all_sessions(client: httpx.AsyncClient, trader: SignedIn) -> None:
    other = await client.post("/api/auth/login", json={"email": trader.email, "password": PASSWORD})
    response = await client.post(
        "/api/auth/logout", json={"refresh_token": trader.refresh_token, "all_sessions": True}
    )
    assert response.status_code == 204
    assert (await _refresh(client, other.json()["refresh_token"])).status_code == 401


async def test_garbage_refresh_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await _refresh(client, "not-a-token")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"

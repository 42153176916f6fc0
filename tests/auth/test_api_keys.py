"""API keys: create/list/delete, signed requests, permissions, replay and the receive window."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import httpx

from services.auth.service import AuthService
from services.auth.settings import AuthSettings
from services.common.identity import Role, signed_headers
from services.common.resources import physical_name
from tests.auth.conftest import (
    PASSWORD,
    OtherService,
    SignedIn,
    sign_in,
    sign_up_and_in,
    unique_email,
)


async def _create(
    client: httpx.AsyncClient, trader: SignedIn, permissions: list[str], label: str = "bot"
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/api-keys",
        json={"label": label, "permissions": permissions},
        headers=trader.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _signed_get(
    client: httpx.AsyncClient, key: dict[str, Any], path: str, query: str = "", **stamp: int
) -> httpx.Response:
    headers = signed_headers(key["id"], key["secret"], "GET", path, query, **stamp)
    return await client.get(path + (f"?{query}" if query else ""), headers=headers)


async def _signed_post(
    client: httpx.AsyncClient, key: dict[str, Any], path: str, body: dict[str, Any]
) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = signed_headers(key["id"], key["secret"], "POST", path, "", raw)
    return await client.post(
        path, content=raw, headers={**headers, "content-type": "application/json"}
    )


async def test_the_secret_is_shown_once_and_listed_never(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    created = await _create(client, trader, ["trade"])
    assert created["id"].startswith("tsk_") and len(created["secret"]) >= 40
    assert created["permissions"] == ["read", "trade"]  # reading comes with every key
    listed = await client.get("/api/auth/api-keys", headers=trader.headers)
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in created.items() if k != "secret"}]
    assert created["secret"] not in listed.text


async def test_the_stored_secret_is_encrypted(
    client: httpx.AsyncClient, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    created = await _create(client, trader, ["read"])
    table = physical_name(auth_settings.resource_prefix, "api_keys")
    raw_items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    dump = json.dumps(raw_items)
    assert created["id"] in dump and created["secret"] not in dump
    stored = next(i for i in raw_items if i["key_id"]["S"] == created["id"])
    assert stored["secret"]["S"].startswith("v1.")


async def test_signed_request_authenticates_as_the_same_user(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read"])
    response = await _signed_get(client, key, "/api/auth/me")
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["user_id"] == trader.user_id and me["email"] == trader.email
    assert me["auth_method"] == "api_key" and me["permissions"] == ["read"]
    assert me["api_key_id"] == key["id"] and me["roles"] == ["trader"]


async def test_signature_covers_query_and_body_in_another_service(
    client: httpx.AsyncClient, trader: SignedIn, other_service: OtherService
) -> None:
    key = await _create(client, trader, ["read", "trade"])
    listed = await _signed_get(other_service.client, key, "/api/orders", "symbol=BTC-USD")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "account": trader.user_id,
        "auth_method": "api_key",
        "symbol": "BTC-USD",
    }

    order = {"symbol": "BTC-USD", "side": "buy", "qty": "1"}
    placed = await _signed_post(other_service.client, key, "/api/orders", order)
    assert placed.status_code == 200, placed.text
    assert placed.json() == {"account": trader.user_id, "order": order}

    # Change the query or the body after signing: the signature no longer matches.
    headers = signed_headers(key["id"], key["secret"], "GET", "/api/orders", "symbol=BTC-USD")
    moved = await other_service.client.get("/api/orders?symbol=ETH-USD", headers=headers)
    assert moved.status_code == 401 and moved.json()["error"]["code"] == "signature_invalid"
    raw = json.dumps(order).encode()
    headers = signed_headers(key["id"], key["secret"], "POST", "/api/orders", "", raw)
    tampered = await other_service.client.post(
        "/api/orders", content=raw.replace(b'"1"', b'"100"'), headers=headers
    )
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "signature_invalid"


async def test_read_only_key_cannot_trade(
    client: httpx.AsyncClient, trader: SignedIn, other_service: OtherService
) -> None:
    key = await _create(client, trader, ["read"])
    response = await _signed_post(other_service.client, key, "/api/orders", {"symbol": "BTC-USD"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permissions"


async def test_api_keys_never_carry_admin(
    client: httpx.AsyncClient, auth_service: AuthService, other_service: OtherService
) -> None:
    admin_user = await auth_service.create_user(unique_email(), PASSWORD, frozenset(Role))
    admin = await sign_in(client, admin_user.email)
    admin_route = "/api/admin/markets"
    assert (await other_service.client.post(admin_route, headers=admin.headers)).status_code == 200
    key = await _create(client, admin, ["read", "trade"])
    response = await _signed_post(other_service.client, key, admin_route, {})
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"


async def test_trader_is_not_admin(trader: SignedIn, other_service: OtherService) -> None:
    response = await other_service.client.post("/api/admin/markets", headers=trader.headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"


async def test_wrong_secret_and_unknown_key_are_refused(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read"])
    wrong = await _signed_get(client, {**key, "secret": "not-the-secret"}, "/api/auth/me")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "signature_invalid"
    unknown = await _signed_get(client, {**key, "id": "tsk_doesnotexist"}, "/api/auth/me")
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_api_key"
    missing = await client.get("/api/auth/me", headers={"X-TS-APIKEY": key["id"]})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "signature_invalid"


async def test_requests_outside_the_receive_window_are_refused(
    client: httpx.AsyncClient, trader: SignedIn, auth_settings: AuthSettings
) -> None:
    key = await _create(client, trader, ["read"])
    window = auth_settings.auth_signature_window_ms
    now = int(time.time() * 1000)
    for stamp in (now - window - 1000, now + window + 1000):
        response = await _signed_get(client, key, "/api/auth/me", timestamp_ms=stamp)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "timestamp_outside_window" and "server_time_ms" in error["details"]


async def test_a_replayed_request_is_refused_inside_the_window_too(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read"])
    headers = signed_headers(key["id"], key["secret"], "GET", "/api/auth/me")
    first = await client.get("/api/auth/me", headers=headers)
    replayed = await client.get("/api/auth/me", headers=headers)
    assert first.status_code == 200
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "signature_replayed"


async def test_a_captured_request_replayed_after_the_window_is_refused(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read"])
    old = int(time.time() * 1000) - 60_000  # captured a minute ago
    headers = signed_headers(key["id"], key["secret"], "GET", "/api/auth/me", timestamp_ms=old)
    response = await client.get("/api/auth/me", headers=headers)
    assert (
        response.status_code == 401
        and response.json()["error"]["code"] == "timestamp_outside_window"
    )


async def test_deleting_a_key_stops_it(
    client: httpx.AsyncClient, trader: SignedIn, other_service: OtherService
) -> None:
    key = await _create(client, trader, ["read"])
    assert (await _signed_get(client, key, "/api/auth/me")).status_code == 200
    deleted = await client.delete(f"/api/auth/api-keys/{key['id']}", headers=trader.headers)
    assert deleted.status_code == 204
    assert (await _signed_get(client, key, "/api/auth/me")).status_code == 401
    assert (await client.get("/api/auth/api-keys", headers=trader.headers)).json() == []
    # Another service had not cached it: it sees the deletion at once (else within the cache).
    response = await _signed_get(other_service.client, key, "/api/orders")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


async def test_users_cannot_touch_each_others_keys(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read"])
    intruder = await sign_up_and_in(client)
    response = await client.delete(f"/api/auth/api-keys/{key['id']}", headers=intruder.headers)
    assert response.status_code == 404
    assert (await client.get("/api/auth/api-keys", headers=intruder.headers)).json() == []
    assert (await _signed_get(client, key, "/api/auth/me")).status_code == 200


async def test_api_keys_are_managed_only_by_a_signed_in_person(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read", "trade"])
    body = json.dumps({"label": "child", "permissions": ["trade"]}).encode()
    headers = signed_headers(key["id"], key["secret"], "POST", "/api/auth/api-keys", "", body)
    response = await client.post(
        "/api/auth/api-keys", content=body, headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "session_required"
    assert (await client.get("/api/auth/api-keys")).status_code == 401


async def test_invalid_permissions_and_labels_are_refused(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    for body in (
        {"label": "x", "permissions": ["withdraw"]},
        {"label": "", "permissions": ["read"]},
    ):
        response = await client.post("/api/auth/api-keys", json=body, headers=trader.headers)
        assert response.status_code == 422


async def test_bearer_and_signature_together_are_ambiguous(
    client: httpx.AsyncClient, trader: SignedIn
) -> None:
    key = await _create(client, trader, ["read"])
    headers = {**signed_headers(key["id"], key["secret"], "GET", "/api/auth/me"), **trader.headers}
    response = await client.get("/api/auth/me", headers=headers)
    assert (
        response.status_code == 400 and response.json()["error"]["code"] == "ambiguous_credentials"
    )

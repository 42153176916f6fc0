"""Hand-written hostile input against a real venue, through the gateway: each case gets a precise
4xx with a machine-readable code, and none changes any state (balances, orders, fills of the two
traders involved, and `tradestack audit` on the whole venue).

Trader A and trader B each have a resting order; A also holds an API key. The cases run in file
order; the last test compares everything with the snapshot taken before the first.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.common.identity import signed_headers
from tests.campaigns.conftest import Trader, Venue

pytestmark = pytest.mark.e2e

JSON = {"content-type": "application/json"}
RESTING = {"symbol": "BTC-USD", "side": "buy", "type": "limit", "price": "1000.00", "qty": "0.001"}


@dataclass
class Parties:
    a: Trader
    b: Trader
    a_order: str
    b_order: str
    key_id: str
    secret: str
    before: dict[str, Any]


def snapshot(venue: Venue, *traders: Trader) -> dict[str, Any]:
    """What a hostile request must not change: each trader's balances, orders and fills."""
    state: dict[str, Any] = {}
    with venue.client() as client:
        for trader in traders:
            balances = client.get("/api/balances", headers=trader.headers).json()["balances"]
            orders = client.get(
                "/api/orders", params={"status": "all", "limit": 500}, headers=trader.headers
            )
            fills = client.get("/api/trades", params={"limit": 500}, headers=trader.headers)
            state[trader.account] = {
                "balances": balances,
                "orders": sorted(
                    (o["id"], o["status"], o["filled"], o["price"], o["qty"])
                    for o in orders.json()["orders"]
                ),
                "fills": sorted(f["id"] for f in fills.json()["trades"]),
            }
    return state


@pytest.fixture(scope="module")
def parties(venue: Venue) -> Parties:
    a, b = venue.trader(), venue.trader()
    with venue.client() as client:
        ids = []
        for trader in (a, b):
            response = client.post(
                "/api/orders", params={"wait": "accepted"}, json=RESTING, headers=trader.headers
            )
            assert response.status_code == 202, response.text
            assert response.json()["order"]["status"] == "open"
            ids.append(response.json()["order"]["id"])
        key = client.post(
            "/api/auth/api-keys",
            json={"label": "hostile", "permissions": ["read", "trade"]},
            headers=a.headers,
        )
        assert key.status_code == 201, key.text
    return Parties(
        a, b, ids[0], ids[1], key.json()["id"], key.json()["secret"], snapshot(venue, a, b)
    )


def nested(depth: int) -> bytes:
    return b'{"symbol":' + b"[" * depth + b"]" * depth + b"}"


def body(**changes: Any) -> bytes:
    return json.dumps({**RESTING, **changes}).encode()


def cursor(key: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def forged_token(token: str, account: str) -> str:
    """The header and signature of a real token around a payload naming another account."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = account
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


# (name, request builder (parties -> httpx request kwargs), status, code)
Case = tuple[str, Callable[[Parties], dict[str, Any]], int, str]


def order(
    content: bytes, headers: dict[str, str] | None = None
) -> Callable[[Parties], dict[str, Any]]:
    return lambda p: {
        "method": "POST",
        "url": "/api/orders",
        "content": content,
        "headers": {**p.a.headers, **JSON, **(headers or {})},
    }


CASES: list[Case] = [
    # size and shape
    (
        "body over the gateway's 1 MiB",
        order(b'{"symbol":"' + b"A" * (2 << 20) + b'"}'),
        413,
        "payload_too_large",
    ),
    (
        "body over the service's 64 KiB",
        order(b'{"symbol":"' + b"A" * (100 << 10) + b'"}'),
        413,
        "payload_too_large",
    ),
    ("JSON nested 1,000 deep", order(nested(1000)), 400, "malformed_json"),
    ("JSON nested 30,000 deep", order(nested(30_000)), 400, "malformed_json"),
    ("not UTF-8", order(b'{"symbol":"BTC-USD\xff\xfe","side":"buy"}'), 400, "malformed_json"),
    ("truncated JSON", order(b'{"symbol":"BTC-USD",'), 400, "malformed_json"),
    ("a JSON array", order(b"[" + body() + b"]"), 422, "validation_failed"),
    ("text/plain body", order(body(), {"content-type": "text/plain"}), 422, "validation_failed"),
    ("an unknown field (account)", order(body(account="someone-else")), 422, "validation_failed"),
    # numbers
    ("qty of 1,000 digits", order(body(qty="1" * 1000)), 422, "validation_failed"),
    (
        "client_order_id a 1,000-digit number",
        order(body()[:-1] + b',"client_order_id":' + b"9" * 1000 + b"}"),
        422,
        "validation_failed",
    ),
    ("price with an exponent", order(body(price="1e5")), 422, "validation_failed"),
    (
        "price 1e999 as a JSON number",
        order(body()[:-1] + b',"price":1e999}'),
        422,
        "validation_failed",
    ),
    ("price as a JSON float", order(body(price=1000.0)), 422, "validation_failed"),
    ("negative qty", order(body(qty="-1")), 422, "validation_failed"),
    ("zero qty", order(body(qty="0")), 422, "validation_failed"),
    ("zero qty with decimals", order(body(qty="0.0000")), 422, "validation_failed"),
    ("qty NaN (string)", order(body(qty="NaN")), 422, "validation_failed"),
    ("qty NaN (JSON literal)", order(body()[:-1] + b',"qty":NaN}'), 422, "validation_failed"),
    (
        "price Infinity (JSON literal)",
        order(body()[:-1] + b',"price":Infinity}'),
        422,
        "validation_failed",
    ),
    ("qty finer than 8 decimals", order(body(qty="0.000000001")), 422, "qty_off_lot"),
    ("price off the tick", order(body(price="1000.001")), 422, "price_off_tick"),
    (
        "deposit of 1e999",
        lambda p: {
            "method": "POST",
            "url": "/api/balances/deposit",
            "content": b'{"asset":"USD","amount":1e999}',
            "headers": {**p.a.headers, **JSON},
        },
        422,
        "validation_failed",
    ),
    (
        "deposit with 18 decimals",
        lambda p: {
            "method": "POST",
            "url": "/api/balances/deposit",
            "json": {"asset": "USD", "amount": "1." + "9" * 18},
            "headers": p.a.headers,
        },
        422,
        "invalid_amount",
    ),
    (
        "deposit over the faucet cap",
        lambda p: {
            "method": "POST",
            "url": "/api/balances/deposit",
            "json": {"asset": "USD", "amount": "99999999"},
            "headers": p.a.headers,
        },
        422,
        "faucet_cap_exceeded",
    ),
    # symbols and identifiers
    ("symbol with a unicode hyphen", order(body(symbol="BTC\u2010USD")), 422, "unknown_symbol"),
    (
        "symbol in full-width letters",
        order(body(symbol="\uff22\uff34\uff23-USD")),
        422,
        "unknown_symbol",
    ),
    ("symbol with a NUL", order(body(symbol="BTC-USD\u0000")), 422, "unknown_symbol"),
    ("symbol an emoji", order(body(symbol="\U0001f4a9")), 422, "unknown_symbol"),
    ("symbol SQL injection", order(body(symbol="BTC-USD' OR '1'='1")), 422, "unknown_symbol"),
    ("symbol NoSQL operator object", order(body(symbol={"$gt": ""})), 422, "validation_failed"),
    (
        "book of an emoji market",
        lambda p: {"method": "GET", "url": "/api/markets/%F0%9F%92%A9/book"},
        404,
        "unknown_symbol",
    ),
    (
        "book of a 5,000-char symbol",
        lambda p: {"method": "GET", "url": "/api/markets/" + "A" * 5000 + "/book"},
        422,
        "validation_failed",
    ),
    (
        "order id SQL injection",
        lambda p: {"method": "GET", "url": "/api/orders/ORDER%23x' OR 1=1", "headers": p.a.headers},
        404,
        "order_not_found",
    ),
    (
        "cancel of a made-up id",
        lambda p: {"method": "DELETE", "url": "/api/orders/" + "x" * 3000, "headers": p.a.headers},
        404,
        "order_not_found",
    ),
    (
        "cursor that is SQL",
        lambda p: {
            "method": "GET",
            "url": "/api/orders",
            "params": {"cursor": "' OR 1=1 --"},
            "headers": p.a.headers,
        },
        400,
        "invalid_cursor",
    ),
    (
        "cursor of a NoSQL object",
        lambda p: {
            "method": "GET",
            "url": "/api/trades",
            "params": {"cursor": base64.urlsafe_b64encode(b'{"pk":{"$ne":null}}').decode()},
            "headers": p.a.headers,
        },
        400,
        "invalid_cursor",
    ),
    (
        "orders cursor forged for another account",
        lambda p: {
            "method": "GET",
            "url": "/api/orders",
            "params": {
                "cursor": cursor(
                    {
                        "pk": f"ORDER#{p.b_order}",
                        "sk": "ORDER",
                        "account": p.b.account,
                        "created": "0",
                    }
                )
            },
            "headers": p.a.headers,
        },
        400,
        "invalid_cursor",
    ),
    (
        "trades cursor of another account's fills",
        lambda p: {
            "method": "GET",
            "url": "/api/trades",
            "params": {"cursor": cursor({"pk": f"ACCOUNT#{p.b.account}", "sk": "0"})},
            "headers": p.a.headers,
        },
        400,
        "invalid_cursor",
    ),
    (
        "candles start after end",
        lambda p: {
            "method": "GET",
            "url": "/api/markets/BTC-USD/candles",
            "params": {"start": "10", "end": "1"},
        },
        400,
        "bad_range",
    ),
    (
        "candles of a bad interval",
        lambda p: {
            "method": "GET",
            "url": "/api/markets/BTC-USD/candles",
            "params": {"interval": "1y"},
        },
        400,
        "bad_interval",
    ),
    # credentials and other people's things
    (
        "no credentials",
        lambda p: {"method": "POST", "url": "/api/orders", "content": body(), "headers": JSON},
        401,
        "not_authenticated",
    ),
    (
        "a token that is not a JWT",
        lambda p: {
            "method": "GET",
            "url": "/api/balances",
            "headers": {"authorization": "Bearer abc.def.ghi"},
        },
        401,
        "invalid_token",
    ),
    (
        "alg none",
        lambda p: {
            "method": "GET",
            "url": "/api/balances",
            "headers": {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
        },
        401,
        "invalid_token",
    ),
    (
        "A's token re-signed for B's account",
        lambda p: {
            "method": "DELETE",
            "url": f"/api/orders/{p.b_order}",
            "headers": {
                "authorization": "Bearer "
                + forged_token(p.a.headers["authorization"].split()[1], p.b.account)
            },
        },
        401,
        "invalid_token",
    ),
    (
        "bearer and API key together",
        lambda p: {
            "method": "GET",
            "url": "/api/balances",
            "headers": {**p.a.headers, "x-ts-apikey": p.key_id},
        },
        400,
        "ambiguous_credentials",
    ),
    (
        "read another user's order",
        lambda p: {"method": "GET", "url": f"/api/orders/{p.b_order}", "headers": p.a.headers},
        403,
        "not_order_owner",
    ),
    (
        "cancel another user's order",
        lambda p: {"method": "DELETE", "url": f"/api/orders/{p.b_order}", "headers": p.a.headers},
        403,
        "not_order_owner",
    ),
    (
        "amend another user's order",
        lambda p: {
            "method": "PATCH",
            "url": f"/api/orders/{p.b_order}",
            "json": {"qty": "0.002"},
            "headers": p.a.headers,
        },
        403,
        "not_order_owner",
    ),
    (
        "empty amend",
        lambda p: {
            "method": "PATCH",
            "url": f"/api/orders/{p.a_order}",
            "json": {},
            "headers": p.a.headers,
        },
        422,
        "empty_amend",
    ),
    (
        "deposit into another account",
        lambda p: {
            "method": "POST",
            "url": "/api/balances/deposit",
            "json": {"asset": "USD", "amount": "1", "account": p.b.account},
            "headers": p.a.headers,
        },
        403,
        "admin_required",
    ),
    (
        "withdraw without the admin role",
        lambda p: {
            "method": "POST",
            "url": "/api/balances/withdraw",
            "json": {"asset": "USD", "amount": "1"},
            "headers": p.a.headers,
        },
        403,
        "admin_required",
    ),
    (
        "create a market without the admin role",
        lambda p: {
            "method": "POST",
            "url": "/api/admin/markets",
            "json": {
                "symbol": "X-USD",
                "base": "X",
                "quote": "USD",
                "tick_size": "0.01",
                "lot_size": "0.01",
            },
            "headers": p.a.headers,
        },
        403,
        "admin_required",
    ),
    (
        "halt a market without the admin role",
        lambda p: {
            "method": "POST",
            "url": "/api/admin/markets/BTC-USD/halt",
            "headers": p.a.headers,
        },
        403,
        "admin_required",
    ),
    (
        "delete another user's API key",
        lambda p: {
            "method": "DELETE",
            "url": f"/api/auth/api-keys/{p.key_id}",
            "headers": p.b.headers,
        },
        404,
        "api_key_not_found",
    ),
    (
        "a refresh token made up",
        lambda p: {
            "method": "POST",
            "url": "/api/auth/refresh",
            "json": {"refresh_token": f"{p.a.account}.x.999999999999999999999.y"},
        },
        401,
        "invalid_token",
    ),
]


@pytest.mark.parametrize(("name", "build", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_hostile_request_is_refused_precisely(
    venue: Venue,
    parties: Parties,
    name: str,
    build: Callable[[Parties], dict[str, Any]],
    status: int,
    code: str,
) -> None:
    with venue.client() as client:
        response = client.request(**build(parties))
    assert response.status_code == status, f"{name}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code, response.text[:300]


def signed(
    parties: Parties, method: str, path: str, content: bytes = b"", timestamp_ms: int | None = None
) -> dict[str, str]:
    headers = signed_headers(
        parties.key_id, parties.secret, method, path, "", content, timestamp_ms=timestamp_ms
    )
    return {**headers, **JSON}


def test_a_replayed_signed_order_is_refused_and_places_nothing(
    venue: Venue, parties: Parties
) -> None:
    """A captured signed request sent again: the first is accepted, the copy is 401
    `signature_replayed`; A ends with exactly one more order, which is then cancelled."""
    content = json.dumps({**RESTING, "client_order_id": None}).encode()
    headers = signed(parties, "POST", "/api/orders", content)
    with venue.client() as client:
        first = client.post("/api/orders", content=content, headers=headers)
        again = client.post("/api/orders", content=content, headers=headers)
        assert first.status_code == 202, first.text
        assert (again.status_code, again.json()["error"]["code"]) == (401, "signature_replayed")
        order_id = first.json()["order"]["id"]
        listed = _wait_for(lambda: _orders(client, parties.a), lambda ids: order_id in ids)
        assert len(listed) == len(parties.before[parties.a.account]["orders"]) + 1
        cancel = client.delete(f"/api/orders/{order_id}", headers=parties.a.headers)
        assert cancel.status_code == 202
        _wait_for(
            lambda: client.get(f"/api/orders/{order_id}", headers=parties.a.headers).json()[
                "order"
            ]["status"],
            lambda s: s == "cancelled",
        )


def test_stale_and_tampered_signatures_are_refused(venue: Venue, parties: Parties) -> None:
    with venue.client() as client:
        stale = signed(
            parties, "GET", "/api/balances", timestamp_ms=int(time.time() * 1000) - 60_000
        )
        response = client.get("/api/balances", headers=stale)
        assert (response.status_code, response.json()["error"]["code"]) == (
            401,
            "timestamp_outside_window",
        )
        assert "server_time_ms" in response.json()["error"]["details"]
        content = body()
        tampered = signed(parties, "POST", "/api/orders", content)
        response = client.post("/api/orders", content=body(qty="0.002"), headers=tampered)
        assert (response.status_code, response.json()["error"]["code"]) == (
            401,
            "signature_invalid",
        )
        unknown = {
            k: v
            for k, v in signed(parties, "GET", "/api/balances").items()
            if k.lower() != "x-ts-apikey"
        }
        unknown["x-ts-apikey"] = "tsk_" + "0" * 32
        response = client.get("/api/balances", headers=unknown)
        assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_api_key")


def test_nothing_changed(venue: Venue, parties: Parties) -> None:
    """After every hostile case: the same balances, orders (but the replay test's own order, now
    cancelled) and fills for A and B, and the audit of the whole venue passes."""
    after = snapshot(venue, parties.a, parties.b)
    before = parties.before
    assert after[parties.b.account] == before[parties.b.account]
    a_before, a_after = before[parties.a.account], after[parties.a.account]
    assert a_after["balances"] == a_before["balances"]
    assert a_after["fills"] == a_before["fills"]
    extra = [o for o in a_after["orders"] if o not in a_before["orders"]]
    assert [o[1] for o in extra] == ["cancelled"], extra  # the one the replay test placed
    report = venue.audit()
    assert report.ok, [p for c in report.checks for p in c.problems][:5]


def _orders(client: httpx.Client, trader: Trader) -> list[str]:
    response = client.get(
        "/api/orders", params={"status": "all", "limit": 500}, headers=trader.headers
    )
    return [o["id"] for o in response.json()["orders"]]


def _wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            assert done(value), value
            return value
        time.sleep(0.2)

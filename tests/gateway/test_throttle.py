"""Throttling per client IP and per account: token buckets, 429 with Retry-After."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from services.gateway.throttle import RateLimiter, account_key, unverified_subject
from tests.gateway.conftest import StartGateway


def _jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'k1'})}.{part(claims)}.not-a-real-signature"


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "headers": list(headers), "client": ("10.0.0.1", 1234)}


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    passed = 0
    for _ in range(5):
        bucket = limiter.refilled("a", now=100.0)
        if limiter.wait_s(bucket) == 0:
            bucket.tokens -= 1
            passed += 1
    assert passed == 3
    assert limiter.wait_s(limiter.refilled("a", now=100.0)) == pytest.approx(0.5)
    assert limiter.wait_s(limiter.refilled("a", now=100.5)) == 0  # one token back after 1/rate
    assert limiter.refilled("a", now=1000.0).tokens == 3  # never more than the burst


def test_idle_full_buckets_are_swept() -> None:
    limiter = RateLimiter(rate=10.0, burst=10)
    limiter.refilled("old", now=0.0)
    limiter._next_sweep = 0.0
    limiter.sweep(now=5.0)
    assert "old" not in limiter.buckets


def test_account_is_the_unverified_jwt_subject_or_the_api_key_id() -> None:
    token = _jwt({"sub": "user-1", "exp": 1})
    assert unverified_subject(f"Bearer {token}".encode()) == "user-1"
    assert account_key(_scope((b"authorization", f"Bearer {token}".encode()))) == "sub:user-1"
    assert account_key(_scope((b"x-ts-apikey", b"tsk_abc"))) == "key:tsk_abc"
    assert account_key(_scope()) is None
    for junk in (
        b"Bearer",
        b"Bearer a.b",
        b"Bearer !!.@@.##",
        b"Basic dXNlcjpwdw==",
        b"Bearer a.e30.c",
    ):
        assert account_key(_scope((b"authorization", junk))) is None


def test_burst_then_429_with_retry_after_per_ip(start_gateway: StartGateway) -> None:
    url = start_gateway(
        gateway_throttle_enabled=True,
        gateway_throttle_ip_rate=0.5,
        gateway_throttle_ip_burst=5,
    )
    with httpx.Client(base_url=url, trust_env=False) as client:
        # uvicorn takes the client address from X-Forwarded-For of a trusted (local) proxy.
        one = {"x-forwarded-for": "192.0.2.1"}
        statuses = [client.get("/api/markets", headers=one).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        refused = client.get("/api/markets", headers=one)
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert refused.headers["retry-after"] == "2"  # one token takes 1/0.5 s
        assert refused.headers["x-request-id"]
        # Another client IP has its own bucket; the gateway's own pages are not throttled.
        assert (
            client.get("/api/markets", headers={"x-forwarded-for": "192.0.2.2"}).status_code == 200
        )
        assert client.get("/healthz", headers=one).status_code == 200


def test_accounts_have_separate_buckets(start_gateway: StartGateway) -> None:
    url = start_gateway(
        gateway_throttle_enabled=True,
        gateway_throttle_ip_burst=1000,
        gateway_throttle_account_rate=0.1,
        gateway_throttle_account_burst=3,
    )
    alice = {"authorization": f"Bearer {_jwt({'sub': 'alice'})}"}
    bob = {"authorization": f"Bearer {_jwt({'sub': 'bob'})}"}
    key = {"x-ts-apikey": "tsk_alice_bot"}
    with httpx.Client(base_url=url, trust_env=False) as client:
        assert [client.get("/api/orders", headers=alice).status_code for _ in range(4)] == [
            200,
            200,
            200,
            429,
        ]
        refused = client.get("/api/orders", headers=alice)
        assert int(refused.headers["retry-after"]) == 10
        assert client.get("/api/orders", headers=bob).status_code == 200
        assert client.get("/api/orders", headers=key).status_code == 200
        assert client.get("/api/orders").status_code == 200  # anonymous: per IP only


def test_loopback_exemption_is_off_by_default_and_can_be_switched_on(
    start_gateway: StartGateway,
) -> None:
    limits = {
        "gateway_throttle_enabled": True,
        "gateway_throttle_ip_rate": 0.1,
        "gateway_throttle_ip_burst": 2,
    }
    strict = start_gateway(**limits)
    exempt = start_gateway(**limits, gateway_throttle_exempt_loopback=True)
    assert [httpx.get(strict + "/api/markets", trust_env=False).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert {httpx.get(exempt + "/api/markets", trust_env=False).status_code for _ in range(5)} == {
        200
    }


def test_websocket_handshakes_are_throttled_too(start_gateway: StartGateway) -> None:
    url = start_gateway(
        gateway_throttle_enabled=True, gateway_throttle_ip_rate=0.1, gateway_throttle_ip_burst=1
    )
    with connect(url.replace("http", "ws") + "/ws", open_timeout=5) as socket:
        socket.recv(timeout=5)
    with pytest.raises(InvalidStatus) as refused:
        connect(url.replace("http", "ws") + "/ws", open_timeout=5)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["retry-after"] == "10"
    assert b"too_many_requests" in refused.value.response.body

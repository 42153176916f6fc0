"""What the gateway adds to every request: request ids, security headers, CORS, access log,
body limit."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from services.gateway.access_log import AccessLog
from tests.gateway.conftest import StartGateway

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _seen_by_service(response: httpx.Response) -> dict[str, str]:
    return dict(response.json()["headers"])


def test_request_id_is_generated_propagated_and_returned(client: httpx.Client) -> None:
    response = client.get("/api/orders/o1/echo")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert _seen_by_service(response)["x-request-id"] == request_id
    assert response.headers.get_list("x-request-id") == [request_id]  # the service's is dropped


def test_a_sane_incoming_request_id_is_kept(client: httpx.Client) -> None:
    response = client.get("/api/markets", headers={"x-request-id": "client-42.a:b"})
    assert response.headers["x-request-id"] == "client-42.a:b"
    assert _seen_by_service(response)["x-request-id"] == "client-42.a:b"


@pytest.mark.parametrize("bad", ["has spaces", "x" * 129, 'quote"s', ""])
def test_an_insane_incoming_request_id_is_replaced(client: httpx.Client, bad: str) -> None:
    response = client.get("/api/markets", headers={"x-request-id": bad})
    request_id = response.headers["x-request-id"]
    assert request_id != bad and re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert [v for k, v in response.json()["headers"] if k == "x-request-id"] == [request_id]


def test_request_id_on_the_gateways_own_responses(client: httpx.Client) -> None:
    for path in ("/", "/healthz", "/api/nothing", "/api/docs"):
        assert (
            client.get(path, headers={"x-request-id": "own-1"}).headers["x-request-id"] == "own-1"
        )


@pytest.mark.parametrize("path", ["/api/orders/o1/echo", "/", "/api/openapi.json", "/api/nothing"])
def test_security_headers_on_every_response(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no external origin may be loaded
    assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS


def test_hsts_only_behind_tls(client: httpx.Client) -> None:
    # uvicorn takes the scheme from X-Forwarded-Proto of a trusted proxy (127.0.0.1 here).
    response = client.get("/api/markets", headers={"x-forwarded-proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_cors_preflight_for_an_allowed_origin(start_gateway: StartGateway) -> None:
    url = start_gateway(gateway_cors_origins="https://app.example.com, https://other.example")
    response = httpx.options(
        url + "/api/orders",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
        trust_env=False,
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert response.headers.get_list("access-control-allow-origin") == ["https://app.example.com"]

    simple = httpx.get(
        url + "/api/markets", headers={"origin": "https://app.example.com"}, trust_env=False
    )
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "X-Request-Id" in simple.headers["access-control-expose-headers"]


def test_cors_refuses_other_origins(client: httpx.Client) -> None:
    preflight = client.options(
        "/api/orders",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 403
    assert preflight.json()["error"]["code"] == "cors_origin_not_allowed"
    simple = client.get("/api/markets", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_allows_localhost_dev_servers_in_development(client: httpx.Client) -> None:
    response = client.get("/api/markets", headers={"origin": "http://localhost:5173"})
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    response = client.post("/api/orders", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert (
        client.post("/api/orders", content=b"x" * (1024 * 1024)).json()["body_length"]
        == 1024 * 1024
    )


def test_streamed_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 64 * 1024  # 1.25 MiB in all, with no Content-Length

    response = client.post("/api/orders", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert client.get("/api/orders").status_code == 200


def test_one_json_access_log_line_per_request(start_gateway: StartGateway) -> None:
    written: list[bytes] = []
    url = start_gateway(AccessLog(flush_interval_s=0.01, sink=written.append))
    httpx.get(url + "/api/orders/o1/echo?x=1", headers={"x-request-id": "log-me"}, trust_env=False)
    httpx.get(url + "/", headers={"x-request-id": "log-me-too"}, trust_env=False)
    deadline = time.monotonic() + 5
    while len(b"".join(written).splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    proxied, own = [json.loads(line) for line in b"".join(written).splitlines()]
    assert (
        proxied.items()
        >= {
            "level": "info",
            "service": "gateway",
            "message": "request",
            "method": "GET",
            "path": "/api/orders/o1/echo",
            "status": 200,
            "request_id": "log-me",
            "client_ip": "127.0.0.1",
            "upstream": "orders",
        }.items()
    )
    assert proxied["duration_ms"] >= 0 and proxied["ts"].endswith("Z")
    assert own["request_id"] == "log-me-too" and own["upstream"] is None

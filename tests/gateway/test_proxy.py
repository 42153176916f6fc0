"""Forwarding: routes, pass-through of paths, queries, headers and bodies, errors, WebSocket."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from services.common.topology import ROUTES, Route
from tests.gateway.conftest import StartGateway
from tests.gateway.standins import ServerThread


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.websocket], ids=lambda r: r.prefix)
def test_every_route_prefix_reaches_its_service(client: httpx.Client, route: Route) -> None:
    response = client.get(route.prefix + "/some/thing")
    assert response.status_code == 200
    assert response.json()["service"] == route.service
    assert response.json()["path"] == route.prefix + "/some/thing"


def test_the_prefix_itself_is_routed(client: httpx.Client) -> None:
    assert client.get("/api/orders").json()["service"] == "orders"


def test_path_query_and_body_pass_through_unchanged(client: httpx.Client) -> None:
    body = b'{"symbol":"BTC-USD","price":"101.25","qty":"0.5"}'
    response = client.post(
        "/api/orders/a%2Fb/x%20y?status=open&symbol=BTC-USD&symbol=ETH-USD",
        content=body,
        headers={"content-type": "application/json"},
    )
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["raw_path"] == "/api/orders/a%2Fb/x%20y"
    assert echoed["query"] == "status=open&symbol=BTC-USD&symbol=ETH-USD"
    assert echoed["body"] == body.decode()
    assert response.headers["x-upstream"] == "orders"  # response headers come back


def test_methods_pass_through(client: httpx.Client) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        assert client.request(method, "/api/orders/o1/echo").json()["method"] == method


def test_hop_by_hop_headers_are_dropped_and_forwarding_headers_set(client: httpx.Client) -> None:
    response = client.get(
        "/api/auth/me",
        headers={
            "connection": "keep-alive, x-private-hop",
            "x-private-hop": "secret",
            "te": "trailers",
            "authorization": "Bearer abc",
        },
    )
    headers = dict(response.json()["headers"])
    assert "x-private-hop" not in headers
    assert "te" not in headers
    assert headers["authorization"] == "Bearer abc"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == client.base_url.netloc.decode()  # redirects point at the gateway
    assert len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("server")) <= 1


def test_forwarded_for_is_the_client_uvicorn_resolved(client: httpx.Client) -> None:
    # uvicorn trusts X-Forwarded-For from --forwarded-allow-ips (127.0.0.1 by default) and puts
    # the client it names in the scope; the gateway sends on that one address, not the chain.
    response = client.get("/api/auth/me", headers={"x-forwarded-for": "10.1.2.3, 6.6.6.6"})
    assert dict(response.json()["headers"])["x-forwarded-for"] == "6.6.6.6"


def test_streamed_request_body_arrives_whole(client: httpx.Client) -> None:
    pieces = [bytes([i]) * 50_000 for i in range(8)]

    def chunks() -> Iterator[bytes]:
        yield from pieces

    response = client.post("/api/orders/bulk", content=chunks())  # chunked, no length
    echoed = response.json()
    assert echoed["body_length"] == 400_000
    assert echoed["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_streamed_response_arrives_whole(client: httpx.Client) -> None:
    with client.stream("GET", "/api/trades/stream") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        body = b"".join(response.iter_raw())
    assert body == b"chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"


def test_a_streamed_chunk_is_passed_on_as_it_arrives(client: httpx.Client) -> None:
    with client.stream("GET", "/api/trades/events") as response:
        started = time.monotonic()
        chunks = response.iter_raw()
        assert next(chunks) == b"first;"
        assert time.monotonic() - started < 0.3  # not held back until the next one (0.4 s later)
        assert b"".join(chunks) == b"second;"


def test_keep_alive_connections_are_reused(client: httpx.Client) -> None:
    # Many sequential requests over the pool, including after the service's keep-alive expired
    # for some of them (uvicorn closes idle connections after 5 s; the pool drops them at 4 s).
    for index in range(50):
        assert client.get(f"/api/markets/m{index}").json()["path"] == f"/api/markets/m{index}"


def test_unknown_api_prefix_is_404_in_the_error_shape(client: httpx.Client) -> None:
    for path in ("/api/nothing", "/api/ordersx", "/api"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_service_down_is_502(start_gateway: StartGateway, dead_url: str) -> None:
    url = start_gateway(service_urls={"auth": dead_url, "orders": dead_url, "marketdata": dead_url})
    response = httpx.get(url + "/api/orders", trust_env=False)
    assert response.status_code == 502
    assert response.json() == {
        "error": {"code": "upstream_unavailable", "message": "The orders service is unavailable."}
    }
    assert response.headers["x-request-id"]


def test_slow_service_is_504(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.get("/api/balances/slow")  # sleeps 5 s; the gateway waits 2 s
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 4.5
    assert client.get("/api/balances").status_code == 200  # and the gateway carries on


def test_websocket_relays_both_ways(gateway: str) -> None:
    with connect(gateway.replace("http", "ws") + "/ws?x=1", subprotocols=["ts.v1"]) as socket:
        assert socket.subprotocol == "ts.v1"
        greeting = socket.recv(timeout=5)
        assert greeting.startswith("hello ") and len(greeting) > len("hello -")  # request id
        socket.send('{"op":"subscribe","channels":["book:BTC-USD"]}')
        assert socket.recv(timeout=5) == '{"op":"subscribe","channels":["book:BTC-USD"]}'
        socket.send(b"\x00\x01binary")
        assert socket.recv(timeout=5) == b"\x00\x01binary"


def test_websocket_close_code_from_service_reaches_client(gateway: str) -> None:
    with connect(gateway.replace("http", "ws") + "/ws") as socket:
        socket.recv(timeout=5)
        socket.send("close:4001")
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
        assert socket.close_code == 4001
        assert socket.close_reason == "asked to"


def test_websocket_close_code_from_client_reaches_service(
    gateway: str, upstreams: dict[str, ServerThread]
) -> None:
    closes = upstreams["marketdata"].server.config.app.state.websocket_closes  # type: ignore[attr-defined]
    with connect(gateway.replace("http", "ws") + "/ws") as socket:
        socket.recv(timeout=5)
        socket.close(code=4002, reason="bye")
    deadline = time.monotonic() + 5
    while 4002 not in closes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 4002 in closes


def test_websocket_to_a_down_service_is_refused_with_502(
    start_gateway: StartGateway, dead_url: str
) -> None:
    url = start_gateway(service_urls={"auth": dead_url, "orders": dead_url, "marketdata": dead_url})
    with pytest.raises(InvalidStatus) as refused:
        connect(url.replace("http", "ws") + "/ws", open_timeout=5)
    assert refused.value.response.status_code == 502
    assert b"upstream_unavailable" in refused.value.response.body


def test_websocket_on_a_path_without_a_websocket_route_is_404(gateway: str) -> None:
    for path in ("/api/nothing", "/api/orders"):
        with pytest.raises(InvalidStatus) as refused:
            connect(gateway.replace("http", "ws") + path, open_timeout=5)
        assert refused.value.response.status_code == 404

"""The merged OpenAPI document: owned paths only, shared schemas once, conflicts prefixed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from services.gateway.openapi import MergedOpenApi, merge_openapi
from tests.gateway.conftest import StartGateway


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _doc(paths: dict[str, Any], schemas: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas, **extra.pop("components", {})},
        **extra,
    }


def _get(response: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": "op",
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": response}}}
            },
        }
    }


ERROR = {"type": "object", "properties": {"code": {"type": "string"}}}


def test_paths_are_kept_only_under_the_prefixes_a_service_owns() -> None:
    orders = _doc({"/api/orders": _get({}), "/api/markets": _get({}), "/healthz": _get({})}, {})
    merged = merge_openapi({"orders": orders})
    assert list(merged["paths"]) == ["/api/orders"]
    assert merged["openapi"] == "3.1.0"


def test_identical_schemas_appear_once_and_conflicts_are_prefixed() -> None:
    orders = _doc(
        {"/api/orders/{id}": _get(_ref("Order")), "/api/trades": _get(_ref("Error"))},
        {
            "Order": {
                "type": "object",
                "properties": {"qty": {"type": "string"}, "err": _ref("Error")},
            },
            "Error": ERROR,
            "Unused": {"type": "string"},
        },
    )
    marketdata = _doc(
        {"/api/markets/{s}/order": _get(_ref("Order")), "/api/tickers": _get(_ref("Error"))},
        {"Order": {"type": "object", "properties": {"price": {"type": "string"}}}, "Error": ERROR},
    )
    merged = merge_openapi({"orders": orders, "marketdata": marketdata})
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Error", "orders_Order", "marketdata_Order"}  # Unused is dropped
    assert schemas["orders_Order"]["properties"]["err"] == _ref("Error")
    get = merged["paths"]["/api/orders/{id}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == _ref("orders_Order")
    md = merged["paths"]["/api/markets/{s}/order"]["get"]
    assert md["responses"]["200"]["content"]["application/json"]["schema"] == _ref(
        "marketdata_Order"
    )
    # operationIds stay unique across services
    assert md["operationId"] == "marketdata_op" and get["operationId"] == "op"


def test_a_schema_differing_only_through_a_renamed_reference_is_renamed_too() -> None:
    def doc(prefix: str, detail: dict[str, Any]) -> dict[str, Any]:
        return _doc({prefix: _get(_ref("Page"))}, {"Page": {"items": _ref("Item")}, "Item": detail})

    merged = merge_openapi(
        {
            "orders": doc("/api/orders", {"type": "string"}),
            "marketdata": doc("/api/markets", {"type": "integer"}),
        }
    )
    assert set(merged["components"]["schemas"]) == {
        "orders_Item",
        "orders_Page",
        "marketdata_Item",
        "marketdata_Page",
    }
    assert merged["components"]["schemas"]["orders_Page"]["items"] == _ref("orders_Item")


def test_security_schemes_are_merged_and_global_security_moves_onto_operations() -> None:
    bearer = {"type": "http", "scheme": "bearer"}
    auth = _doc(
        {"/api/auth/me": _get({})},
        {},
        components={"securitySchemes": {"Bearer": bearer}},
        security=[{"Bearer": []}],
    )
    orders = _doc(
        {"/api/orders": {"get": {"security": [{"Bearer": []}, {"Key": []}], "responses": {}}}},
        {},
        components={
            "securitySchemes": {
                "Bearer": bearer,
                "Key": {"type": "apiKey", "in": "header", "name": "X-TS-APIKEY"},
            }
        },
    )
    merged = merge_openapi({"auth": auth, "orders": orders})
    assert merged["components"]["securitySchemes"] == {
        "Bearer": bearer,
        "Key": orders["components"]["securitySchemes"]["Key"],
    }
    assert merged["paths"]["/api/auth/me"]["get"]["security"] == [{"Bearer": []}]
    assert "security" not in merged


def test_conflicting_security_schemes_are_renamed_in_requirements() -> None:
    def doc(prefix: str, scheme: dict[str, Any]) -> dict[str, Any]:
        return _doc(
            {prefix: {"get": {"security": [{"Auth": []}], "responses": {}}}},
            {},
            components={"securitySchemes": {"Auth": scheme}},
        )

    merged = merge_openapi(
        {
            "auth": doc("/api/auth/me", {"type": "http", "scheme": "bearer"}),
            "orders": doc("/api/orders", {"type": "apiKey", "in": "header", "name": "X-TS-APIKEY"}),
        }
    )
    assert set(merged["components"]["securitySchemes"]) == {"auth_Auth", "orders_Auth"}
    assert merged["paths"]["/api/orders"]["get"]["security"] == [{"orders_Auth": []}]


def test_missing_services_are_reported_in_info() -> None:
    merged = merge_openapi({}, {"orders": "unreachable"})
    assert merged["info"]["x-tradestack-missing"] == [
        {"service": "orders", "reason": "unreachable"}
    ]
    assert merged["paths"] == {}


def test_the_gateway_serves_the_merged_document_of_the_running_services(
    client: httpx.Client,
) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/auth/login",
        "/api/orders/{order_id}",
        "/api/balances/slow",
        "/api/trades/stream",
        "/api/trades/events",
        "/api/markets/{symbol}/order",
        "/api/markets/search",
    }  # not /api/orders-slow/ping: no route sends it to the orders service
    schemas = document["components"]["schemas"]
    assert {"Market", "HTTPValidationError", "orders_Order", "marketdata_Order"} <= set(schemas)
    assert "Order" not in schemas
    assert "x-tradestack-missing" not in document["info"]  # matching owns no route: not asked


def test_a_service_that_is_down_is_left_out_with_a_warning(
    start_gateway: StartGateway, dead_url: str, upstreams: dict[str, Any]
) -> None:
    url = start_gateway(
        service_urls={"auth": upstreams["auth"].url, "orders": dead_url, "marketdata": dead_url}
    )
    document = httpx.get(url + "/api/openapi.json", trust_env=False).json()
    assert set(document["paths"]) == {"/api/auth/login"}
    assert document["info"]["x-tradestack-missing"] == [
        {"service": "orders", "reason": "unreachable"},
        {"service": "marketdata", "reason": "unreachable"},
    ]


async def test_the_document_is_cached_for_its_ttl_and_sooner_refreshed_when_incomplete() -> None:
    urls = {name: "http://127.0.0.1:9" for name in ("auth", "orders", "marketdata")}
    spec = MergedOpenApi(urls, ttl_s=60)
    calls = 0
    missing: dict[str, str] = {}

    async def fetch_all() -> tuple[dict[str, Any], dict[str, str]]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {}, missing

    spec._fetch_all = fetch_all  # type: ignore[method-assign]
    await asyncio.gather(*(spec.document() for _ in range(5)))
    assert calls == 1  # concurrent requests share one refresh
    await spec.document()
    assert calls == 1
    spec._expires = 0.0
    missing["orders"] = "unreachable"
    await spec.document()
    assert calls == 2
    assert spec._expires - time.monotonic() <= 5.0  # retried soon, so a starting service shows up

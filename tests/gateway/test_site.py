"""What the gateway serves itself: web/ with caching headers, API docs, health, metrics."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import StartGateway


def test_index_is_served_and_revalidated_every_time(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "/api/docs" in response.text
    etag = response.headers["etag"]
    assert client.get("/", headers={"if-none-match": etag}).status_code == 304
    since = response.headers["last-modified"]
    not_modified = client.get("/index.html", headers={"if-modified-since": since})
    assert not_modified.status_code == 304
    assert not_modified.headers["cache-control"] == "no-cache"


def test_vendored_assets_are_cached_as_immutable(client: httpx.Client) -> None:
    response = client.get("/vendor/swagger-ui/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["etag"]


def test_hashed_assets_are_immutable_and_others_revalidated(client: httpx.Client) -> None:
    hashed = client.get("/assets/app.3f9a1c2b.js")
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/assets/app.js")
    assert plain.headers["cache-control"] == "no-cache"
    assert (
        client.get("/assets/app.js", headers={"if-none-match": plain.headers["etag"]}).status_code
        == 304
    )


def test_missing_files_are_404_in_the_error_shape(client: httpx.Client) -> None:
    response = client.get("/nothing-here.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/../pyproject.toml").status_code == 404


def test_swagger_ui_is_served_from_local_files(client: httpx.Client) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/vendor/swagger-ui/swagger-ui-bundle.js?v=" in page.text
    assert "<script>" not in page.text  # no inline script: the CSP forbids it
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    init = client.get("/api/docs/init.js")
    assert init.status_code == 200 and '"/api/openapi.json"' in init.text
    css = client.get("/vendor/swagger-ui/swagger-ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_health_and_readiness_report_upstreams_without_failing(
    start_gateway: StartGateway, dead_url: str, upstreams: dict[str, object]
) -> None:
    url = start_gateway(
        service_urls={
            "auth": upstreams["auth"].url,  # type: ignore[attr-defined]
            "orders": dead_url,
            "marketdata": dead_url,
            "matching": dead_url,
        }
    )
    assert httpx.get(url + "/healthz", trust_env=False).json() == {
        "status": "ok",
        "service": "gateway",
    }
    ready = httpx.get(url + "/readyz", trust_env=False)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "upstreams": {
            "auth": "ok",
            "orders": "unreachable",
            "marketdata": "unreachable",
            "matching": "unreachable",
        },
    }


def test_metrics_count_proxied_requests_by_route(client: httpx.Client) -> None:
    client.get("/api/tickers/BTC-USD")
    text = client.get("/metrics").text
    assert 'tradestack_http_requests_total{method="GET",route="/api/tickers",status="200"}' in text
    assert (
        'tradestack_http_request_seconds_bucket{le="0.005",method="GET",route="/api/tickers"}'
        in text
    )

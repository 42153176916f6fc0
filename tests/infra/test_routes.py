"""API Gateway, the internal ALB, CloudFront and nginx route like services/gateway: the prefixes
of topology.ROUTES to their services, the gateway-owned prefixes to the gateway (or the web UI)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.common.topology import GATEWAY_OWNED_PREFIXES, ROUTES, SERVICES, route_for
from tests.infra.conftest import (
    NGINX,
    NGINX_CONF,
    NGINX_MIME_TYPES,
    module_calls,
    module_locals,
    resources,
)

Modules = dict[str, dict[str, list[Any]]]
GATEWAY_PREFIXES = [p for p in GATEWAY_OWNED_PREFIXES if p != "/"]

# Paths that exercise every prefix: itself, below it, a longer name that must NOT match it, and
# paths no route owns.
SAMPLE_PATHS = sorted(
    {p for r in ROUTES for p in (r.prefix, r.prefix + "/x/y", r.prefix + "x")}
    | {"/api/openapi.json", "/api/docs", "/api/docs/init.js"}
    | {"/", "/index.html", "/vendor/app.js", "/api", "/api/unknown", "/healthz", "/wss"}
)


def expected_owner(path: str) -> str:
    """Who answers `path` in `tradestack up`: a service, the gateway's documents, or the web UI."""
    route = route_for(path)
    if route is not None:
        return route.service
    if any(path == p or path.startswith(p + "/") for p in GATEWAY_PREFIXES):
        return "gateway"
    return "web"


# --- API Gateway -------------------------------------------------------------------------------


def _for_expressions(expression: str) -> list[tuple[str, str, str]]:
    """(source, key template, value) of each `{for ... in SOURCE : "KEY" => VALUE}`."""
    pattern = r'\{for prefix(?:, route)? in ([\w.]+) : "([^"]+)" => ([\w."]+)\}'
    return re.findall(pattern, expression)


def test_api_gateway_routes_are_the_route_table(modules: Modules) -> None:
    api = module_locals(modules["api"])
    assert api["http_routes"] == (
        "${{for prefix, route in var.routes : prefix => route if !route.websocket}}"
    )
    routes = module_locals(modules["services"])["routes"]
    http_routes = {p: r["service"] for p, r in routes.items() if not r["websocket"]}
    generated: dict[str, str] = {}
    for source, template, value in _for_expressions(api["route_keys"]):
        prefixes = (
            http_routes
            if source == "local.http_routes"
            else dict.fromkeys(module_locals(modules["services"])["gateway_prefixes"], "gateway")
        )
        assert source in ("local.http_routes", "var.gateway_prefixes"), source
        for prefix, service in prefixes.items():
            owner = service if value == "route.service" else value.strip('"')
            generated[template.replace("${prefix}", prefix)] = owner

    expected = {}
    for route in ROUTES:
        if not route.websocket:
            expected[f"ANY {route.prefix}"] = route.service
            expected[f"ANY {route.prefix}/{{proxy+}}"] = route.service
    for prefix in GATEWAY_PREFIXES:
        expected[f"ANY {prefix}"] = "gateway"
        expected[f"ANY {prefix}/{{proxy+}}"] = "gateway"
    assert generated == expected
    route = resources(modules["api"], "aws_apigatewayv2_route")["this"]
    assert route["for_each"] == "${local.route_keys}"


def test_every_stack_hands_the_one_route_table_to_api_and_edge(envs: Modules) -> None:
    for name, env in envs.items():
        calls = module_calls(env)
        assert calls["api"]["routes"] == "${module.services.routes}", name
        assert calls["api"]["gateway_prefixes"] == "${module.services.gateway_prefixes}", name
        assert calls["edge"]["routes"] == "${module.services.routes}", name


def test_the_alb_forwards_every_prefix_to_its_service(modules: Modules) -> None:
    local = module_locals(modules["services"])
    assert local["alb_routes"] == (
        "${merge({for prefix, route in local.routes : prefix => route.service}, "
        '{for prefix in local.gateway_prefixes : prefix => "gateway"})}'
    )
    rule = resources(modules["services"], "aws_lb_listener_rule")["route"]
    assert rule["for_each"] == "${local.alb_routes}"
    assert rule["condition"][0]["path_pattern"][0]["values"] == ["${each.key}", "${each.key}/*"]
    # Longest prefix first, like route_for().
    assert "1000 - length(prefix)" in local["alb_rule_order"]


def test_cloudfront_sends_api_to_api_gateway_and_websockets_to_the_alb(modules: Modules) -> None:
    edge = modules["edge"]
    distribution = resources(edge, "aws_cloudfront_distribution")["this"]
    api = distribution["ordered_cache_behavior"][0]
    assert (api["path_pattern"], api["target_origin_id"]) == ("/api/*", "${local.api_origin}")
    websocket = distribution["dynamic"][0]["ordered_cache_behavior"]
    assert websocket["for_each"] == "${local.websocket_patterns}"
    assert websocket["content"][0]["target_origin_id"] == "${local.ws_origin}"
    assert "if route.websocket" in module_locals(edge)["websocket_patterns"]
    assert distribution["default_cache_behavior"][0]["target_origin_id"] == "${local.web_origin}"


# --- nginx (docker compose) ------------------------------------------------------------------


def parse_nginx(text: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The server's `set $name http://host:port` upstreams, and its top-level locations with
    their modifier, path, proxied upstream and whether they upgrade WebSockets."""
    upstreams = dict(re.findall(r"^\s*set \$(\w+) http://([\w-]+):\d+;", text, re.M))
    locations = []
    depth = 0
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        match = re.match(r'location\s+(=|\^~)?\s*"?([^"\s{]+)"?\s*\{', stripped)
        if match and depth == 2:  # directly inside http { server { ... } }
            current = {"modifier": match.group(1) or "", "path": match.group(2), "body": []}
            locations.append(current)
        elif current is not None and depth >= 3:
            current["body"].append(stripped)
        depth += stripped.count("{") - stripped.count("}")
        if depth <= 2:
            current = None
    for location in locations:
        body = " ".join(location.pop("body"))
        proxied = re.search(r"proxy_pass \$(\w+);", body)
        location["upstream"] = upstreams[proxied.group(1)] if proxied else None
        location["websocket"] = "proxy_set_header Upgrade $http_upgrade" in body
        location["static"] = "root /usr/share/nginx/html" in body
    return upstreams, locations


def nginx_location_for(path: str, locations: list[dict[str, Any]]) -> dict[str, Any]:
    """nginx's choice among exact and prefix locations (the config uses no top-level regex)."""
    for location in locations:
        if location["modifier"] == "=" and location["path"] == path:
            return location
    prefixes = [loc for loc in locations if loc["modifier"] != "=" and path.startswith(loc["path"])]
    return max(prefixes, key=lambda loc: len(loc["path"]))


@pytest.fixture(scope="module")
def nginx_locations() -> list[dict[str, Any]]:
    return parse_nginx(NGINX_CONF.read_text())[1]


def test_nginx_upstreams_are_compose_services_on_their_ports() -> None:
    text = NGINX_CONF.read_text()
    ports = {s.name: s.port for s in SERVICES}
    for name, host, port in re.findall(r"set \$(\w+) http://([\w-]+):(\d+);", text):
        assert name == host and ports[host] == int(port), (name, host, port)


@pytest.mark.parametrize("path", SAMPLE_PATHS)
def test_nginx_routes_each_path_like_the_gateway(
    path: str, nginx_locations: list[dict[str, Any]]
) -> None:
    location = nginx_location_for(path, nginx_locations)
    owner = expected_owner(path)
    if owner == "web":
        assert location["static"], (path, location)
    else:
        assert location["upstream"] == owner, (path, location)


def test_nginx_upgrades_exactly_the_websocket_routes(
    nginx_locations: list[dict[str, Any]],
) -> None:
    upgraded = {loc["path"].rstrip("/") for loc in nginx_locations if loc["websocket"]}
    assert upgraded == {r.prefix for r in ROUTES if r.websocket}


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    if not NGINX.exists():
        pytest.skip(f"no nginx binary at {NGINX}: run `make tools` (needs apt-get)")
    config = tmp_path / "nginx.conf"
    config.write_text(
        NGINX_CONF.read_text().replace("/etc/nginx/mime.types", str(NGINX_MIME_TYPES))
    )
    result = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(config), "-e", "/dev/stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr

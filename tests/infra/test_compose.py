"""docker-compose.yml: valid, LocalStack and nginx wired as documented, and every service the
same process as its ECS service (same command, same environment variable names)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from services.common.topology import SERVICES
from tests.infra.conftest import COMPOSE_FILE, REPO, which
from tests.infra.test_terraform_services import ecs_environment_names

Modules = dict[str, dict[str, list[Any]]]

# Only in compose: LocalStack's endpoint and dummy credentials. In ECS the task role supplies
# credentials and Fargate sets AWS_DEFAULT_REGION itself.
COMPOSE_ONLY = {
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
}


def tradestack_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Compose services that run a Tradestack service (they name it in TRADESTACK_SERVICE_NAME)."""
    return {
        name: body
        for name, body in compose["services"].items()
        if "TRADESTACK_SERVICE_NAME" in (body.get("environment") or {})
    }


def test_docker_compose_validates_the_file() -> None:
    binary = which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed: `make tools` installs Debian's (needs apt)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_topology_service_runs_from_the_one_image(compose: dict[str, Any]) -> None:
    running = tradestack_services(compose)
    assert set(running) == {s.name for s in SERVICES}
    images = {body["image"] for body in running.values()}
    assert len(images) == 1
    for service in SERVICES:
        body = running[service.name]
        assert body["command"] == ["serve", service.name]
        assert body["environment"]["TRADESTACK_SERVICE_NAME"] == service.name
        assert body["environment"]["TRADESTACK_PORT"] == str(service.port)


def test_services_find_localstack_and_each_other(compose: dict[str, Any]) -> None:
    for name, body in tradestack_services(compose).items():
        env = body["environment"]
        assert env["AWS_ENDPOINT_URL"] == "http://localstack:4566", name
        assert env["TRADESTACK_DEMO_MODE"] == "true", name
        for service in SERVICES:
            url = f"http://{service.name}:{service.port}"
            assert env[f"TRADESTACK_{service.name.upper()}_URL"] == url, name


def test_every_service_is_health_checked_and_waits_for_its_dependencies(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, body in tradestack_services(compose).items():
        assert "/readyz" in " ".join(body["healthcheck"]["test"]), name
        assert body["depends_on"] == {"aws-init": {"condition": "service_completed_successfully"}}
    assert services["aws-init"]["depends_on"] == {"localstack": {"condition": "service_healthy"}}
    nginx_waits_for = services["nginx"]["depends_on"]
    assert set(nginx_waits_for) == {"gateway", "auth", "orders", "marketdata"}
    assert all(c == {"condition": "service_healthy"} for c in nginx_waits_for.values())
    for name in ("localstack", "nginx"):
        assert services[name]["healthcheck"]["test"], name


def test_localstack_is_pinned_with_one_named_volume(compose: dict[str, Any]) -> None:
    localstack = compose["services"]["localstack"]
    # Later tags need an auth token.
    assert localstack["image"] == "localstack/localstack:4.14.0"
    assert list(compose["volumes"]) == ["localstack-data"]
    assert "localstack-data:/var/lib/localstack" in localstack["volumes"]
    init = compose["services"]["aws-init"]
    assert init["entrypoint"][-1] == "/opt/tradestack/localstack/init-aws.sh"
    assert "./infra/localstack:/opt/tradestack/localstack:ro" in init["volumes"]


def test_nginx_is_the_entry_point_on_port_8000(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    assert nginx["ports"] == ["8000:8000"]
    assert "./infra/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert "./web:/usr/share/nginx/html:ro" in nginx["volumes"]
    published = [name for name, body in compose["services"].items() if body.get("ports")]
    assert sorted(published) == ["localstack", "nginx"]


def test_every_compose_service_has_an_ecs_service_with_the_same_variables(
    compose: dict[str, Any], modules: Modules
) -> None:
    ecs = ecs_environment_names(modules)
    running = tradestack_services(compose)
    assert set(running) == set(ecs)
    for name, body in running.items():
        in_compose = set(body["environment"]) - COMPOSE_ONLY
        assert in_compose == ecs[name], (
            name,
            {"only in compose": sorted(in_compose - ecs[name])},
            {"only in ECS": sorted(ecs[name] - in_compose)},
        )

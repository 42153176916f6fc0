"""The ECS services are the processes of services/common/topology.py, each with the environment
the code reads and a task role that reaches only its own streams, tables and buckets."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from pydantic_settings import BaseSettings

import services
from services.common.resources import BUCKETS, STREAMS, TABLES
from services.common.topology import GATEWAY_OWNED_PREFIXES, ROUTES, SERVICES
from services.stack import service_urls
from tests.infra.conftest import data_sources, module_locals, resources

Modules = dict[str, dict[str, list[Any]]]

# Set by stack.py for every process (not settings fields of their own).
STACK_VARIABLES = {"TRADESTACK_SERVICE_NAME", "TRADESTACK_PORT", *service_urls(0)}


def catalog(modules: Modules) -> dict[str, Any]:
    return module_locals(modules["services"])


def ecs_environment_names(modules: Modules) -> dict[str, set[str]]:
    """Environment and secret names of each service's task definition."""
    local = catalog(modules)
    common = set(local["common_environment"]) | set(local["common_secrets"])
    return {
        name: common | {"TRADESTACK_SERVICE_NAME", "TRADESTACK_PORT"} | set(entry["environment"])
        for name, entry in local["services"].items()
    }


def known_setting_names() -> set[str]:
    """`TRADESTACK_<FIELD>` of every pydantic-settings class under services/, plus what
    `tradestack up` sets and the standard AWS variables."""
    names = set(STACK_VARIABLES) | {"AWS_REGION"}
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if not module.name.endswith("settings"):
            continue
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, BaseSettings):
                prefix = value.model_config.get("env_prefix", "")
                names |= {f"{prefix}{field}".upper() for field in value.model_fields}
    return names


def test_every_topology_service_is_an_ecs_service_with_its_port(modules: Modules) -> None:
    declared = {name: entry["port"] for name, entry in catalog(modules)["services"].items()}
    assert declared == {s.name: s.port for s in SERVICES}


def test_routes_are_the_gateway_route_table(modules: Modules) -> None:
    local = catalog(modules)
    assert local["routes"] == {
        r.prefix: {"service": r.service, "websocket": r.websocket} for r in ROUTES
    }
    # "/" (the web UI) is CloudFront + the web bucket in AWS; the rest is the Python gateway's.
    assert local["gateway_prefixes"] == [p for p in GATEWAY_OWNED_PREFIXES if p != "/"]


def test_routed_services_are_stateless_apis(modules: Modules) -> None:
    local = catalog(modules)
    for route in ROUTES:
        assert local["services"][route.service]["kind"] == "api", route.prefix
    assert local["services"]["gateway"]["kind"] == "api"
    assert {entry["kind"] for entry in local["services"].values()} == {"api", "worker"}


def test_access_lists_name_resources_of_resources_py(modules: Modules) -> None:
    streams, tables, buckets = (
        {s.name for s in STREAMS},
        {t.name for t in TABLES},
        {b.name for b in BUCKETS},
    )
    for name, entry in catalog(modules)["services"].items():
        assert set(entry["streams_read"] + entry["streams_write"]) <= streams, name
        assert set(entry["tables_read"] + entry["tables_write"]) <= tables, name
        assert set(entry["buckets"]) <= buckets, name


def test_task_roles_are_built_from_the_catalog_only(modules: Modules) -> None:
    services_module = modules["services"]
    task = data_sources(services_module, "aws_iam_policy_document")["task"]
    assert task["for_each"] == "${local.services}"
    # Data statements come only from the service's own lists...
    assert {name for block in task["dynamic"] for name in block} == {"statement"}
    for block in task["dynamic"]:
        assert "each.value." in block["statement"]["for_each"]
    # ...and the only wildcard is the ECS Exec channel, which names no data.
    assert [s["sid"] for s in task["statement"]] == ["ExecChannel"]
    assert all(a.startswith("ssmmessages:") for a in task["statement"][0]["actions"])
    policy = resources(services_module, "aws_iam_role_policy")["task"]
    assert policy["role"] == "${aws_iam_role.task[each.key].id}"


def test_workers_run_exactly_one_task_and_apis_autoscale(modules: Modules) -> None:
    services_module = modules["services"]
    ecs = resources(services_module, "aws_ecs_service")
    assert set(ecs) == {"api", "worker"}
    assert ecs["api"]["for_each"] == "${local.api}"
    assert ecs["worker"]["for_each"] == "${local.workers}"
    worker = ecs["worker"]
    assert worker["desired_count"] == 1
    assert worker["deployment_maximum_percent"] == 100
    assert worker["deployment_minimum_healthy_percent"] == 0
    assert "load_balancer" not in worker
    scaling = resources(services_module, "aws_appautoscaling_target")["api"]
    assert scaling["for_each"] == "${local.api}"
    assert resources(services_module, "aws_appautoscaling_policy")["api_cpu"]["for_each"] == (
        "${local.api}"
    )


def test_tasks_get_what_tradestack_up_gives_every_process(modules: Modules) -> None:
    for name, names in ecs_environment_names(modules).items():
        missing = STACK_VARIABLES | {"TRADESTACK_RESOURCE_PREFIX", "TRADESTACK_DEMO_MODE"}
        assert missing <= names, (name, missing - names)


def test_every_variable_a_task_gets_is_a_setting_the_code_reads(modules: Modules) -> None:
    known = known_setting_names()
    for name, names in ecs_environment_names(modules).items():
        assert names <= known, (name, sorted(names - known))


def test_task_definitions_run_the_one_image_with_serve(modules: Modules) -> None:
    definition = resources(modules["services"], "aws_ecs_task_definition")["this"]
    assert definition["for_each"] == "${local.services}"
    containers = definition["container_definitions"]
    assert 'command = ["serve", each.key]' in containers or "serve" in containers
    assert "readonlyRootFilesystem = true" in containers

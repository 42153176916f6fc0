"""Parsed infrastructure files for the tests of tests/infra (Terraform via python-hcl2, compose
via PyYAML) and the paths of the tools `make tools` installs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = ("dev", "prod")
COMPOSE_FILE = REPO / "docker-compose.yml"
NGINX_CONF = REPO / "infra" / "nginx" / "nginx.conf"
TOOLS = REPO / ".venv-tools"
CHECKOV = TOOLS / "bin" / "checkov"
HADOLINT = TOOLS / "bin" / "hadolint"
NGINX = TOOLS / "nginx" / "usr" / "sbin" / "nginx"
NGINX_MIME_TYPES = TOOLS / "nginx" / "etc" / "nginx" / "mime.types"

_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def tf_files(directory: Path = TERRAFORM) -> Iterator[Path]:
    yield from sorted(directory.rglob("*.tf"))


def load_module(directory: Path) -> dict[str, list[Any]]:
    """Every top-level block of a Terraform module (all its .tf files), merged by block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=_OPTIONS)
        for kind, blocks in parsed.items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def module_locals(module: dict[str, list[Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for block in module.get("locals", []):
        result.update(block)
    return result


def resources(module: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Resources of one type, by name."""
    found: dict[str, dict[str, Any]] = {}
    for block in module.get("resource", []):
        for name, body in block.get(kind, {}).items():
            found[name] = body
    return found


def data_sources(module: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in module.get("data", []):
        for name, body in block.get(kind, {}).items():
            found[name] = body
    return found


def module_calls(module: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    for block in module.get("module", []):
        calls.update(block)
    return calls


def variables(module: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in module.get("variable", []):
        found.update(block)
    return found


@pytest.fixture(scope="session")
def modules() -> dict[str, dict[str, list[Any]]]:
    return {path.name: load_module(path) for path in sorted(MODULES.iterdir()) if path.is_dir()}


@pytest.fixture(scope="session")
def envs() -> dict[str, dict[str, list[Any]]]:
    return {name: load_module(TERRAFORM / "envs" / name) for name in ENVS}


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml with anchors and merge keys resolved (PyYAML does both)."""
    with COMPOSE_FILE.open() as handle:
        return yaml.safe_load(handle)


def which(tool: str) -> str | None:
    return shutil.which(tool)

"""The one image: multi-stage, slim, non-root, health-checked, `tradestack serve <service>`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from services.common.topology import SERVICES
from services.serve import uvicorn_command
from tests.infra.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def test_the_image_is_built_in_stages_on_a_slim_base() -> None:
    assert len(stages()) >= 2
    for stage in stages():
        assert stage.startswith("python:3.11-slim"), stage.splitlines()[0]


def test_the_final_stage_has_no_build_tools_and_runs_as_a_user() -> None:
    final = stages()[-1]
    assert not re.search(r"apt-get install|gcc|build-essential|pip install", final)
    user = re.search(r"^USER (\S+)", final, re.M)
    assert user and not user.group(1).startswith(("0", "root"))
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert 'ENTRYPOINT ["tradestack"]' in final
    assert 'CMD ["serve", "gateway"]' in final


def test_only_the_sources_and_the_locks_reach_the_build_context() -> None:
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:7] == [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!requirements/build.lock",
        "!requirements/runtime.lock",
        "!services/",
        "!web/",
    ]


def test_the_image_installs_exactly_the_runtime_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile
    assert "requirements/runtime.lock" in dockerfile


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_serve_runs_the_same_uvicorn_command_as_tradestack_up(service) -> None:  # type: ignore[no-untyped-def]
    command = uvicorn_command(service, "0.0.0.0", service.port)
    assert command[:4] == [sys.executable, "-m", "uvicorn", service.app]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == str(service.port)
    assert {"--loop", "uvloop", "--http", "httptools", "--no-access-log"} <= set(command)


def test_serve_refuses_an_unknown_service() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "no-such-service"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "unknown service 'no-such-service'" in result.stderr + result.stdout

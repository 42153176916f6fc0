"""A gateway under uvicorn in front of stand-in auth, orders and marketdata services."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.local_aws import free_port
from services.gateway.access_log import AccessLog
from services.gateway.gateway import create_gateway
from services.gateway.settings import REPO_ROOT, GatewaySettings
from tests.gateway.standins import ServerThread, standin

StartGateway = Callable[..., str]


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, ServerThread]]:
    servers = {
        name: ServerThread(standin(name)).start() for name in ("auth", "orders", "marketdata")
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def dead_url() -> str:
    """A local port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def web_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A web/ of known content (the real one belongs to the UI), with the real vendored files."""
    root = tmp_path_factory.mktemp("web")
    (root / "index.html").write_text('<!doctype html><title>t</title><a href="/api/docs">docs</a>')
    (root / "assets").mkdir()
    (root / "assets" / "app.3f9a1c2b.js").write_text("export {};")
    (root / "assets" / "app.js").write_text("export {};")
    shutil.copytree(REPO_ROOT / "web" / "vendor" / "swagger-ui", root / "vendor" / "swagger-ui")
    return root


@pytest.fixture(scope="session")
def start_gateway(
    upstreams: dict[str, ServerThread], dead_url: str, web_dir: Path
) -> Iterator[StartGateway]:
    """Start a gateway with settings overrides; returns its base URL. Stopped after the session."""
    started: list[ServerThread] = []

    def start(access_log: AccessLog | None = None, **overrides: Any) -> str:
        values: dict[str, Any] = {
            "service_urls": {
                **{name: server.url for name, server in upstreams.items()},
                "matching": dead_url,
            },
            # short enough for the 504 test, long enough that a busy CI machine (the upstreams
            # share this process's GIL) does not time out an ordinary request
            "gateway_upstream_timeout_s": 2.0,
            "gateway_throttle_enabled": False,
            "gateway_openapi_ttl_s": 0,
            "gateway_web_dir": web_dir,
        }
        values.update(overrides)
        if access_log is None:  # exercised, but kept off the test output
            access_log = AccessLog(sink=lambda data: None)
        server = ServerThread(create_gateway(GatewaySettings(**values), access_log)).start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def gateway(start_gateway: StartGateway) -> str:
    return start_gateway()


@pytest.fixture(scope="session")
def client(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, trust_env=False, timeout=10) as client:
        yield client

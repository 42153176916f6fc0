"""nginx, running for real on loopback, sends each sample path to the service route_for() names
(stub servers stand in for the services), unchanged, and upgrades /ws."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.infra.conftest import NGINX, NGINX_CONF, NGINX_MIME_TYPES
from tests.infra.test_routes import SAMPLE_PATHS, expected_owner

UPSTREAMS = ("auth", "orders", "marketdata", "gateway")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stub(name: str) -> ThreadingHTTPServer:
    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {"service": name, "path": self.path, "upgrade": self.headers.get("Upgrade")}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not NGINX.exists():
        pytest.skip(f"no nginx binary at {NGINX}: run `make tools` (needs apt-get)")
    root = tmp_path_factory.mktemp("nginx")
    root.chmod(0o755)
    web = root / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>web</title>")
    stubs = {name: stub(name) for name in UPSTREAMS}
    port = free_port()
    text = NGINX_CONF.read_text()
    # The config's own /tmp/ paths first: the paths put in below may themselves be under /tmp.
    text = text.replace("/tmp/", f"{root}/").replace(
        "access_log /dev/stdout json;", "access_log off;"
    )
    text = text.replace("/etc/nginx/mime.types", str(NGINX_MIME_TYPES))
    text = text.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    text = text.replace("/usr/share/nginx/html", str(web))
    for name, server in stubs.items():
        text = re.sub(
            rf"set \${name} http://[\w-]+:\d+;",
            f"set ${name} http://127.0.0.1:{server.server_address[1]};",
            text,
        )
    config = root / "nginx.conf"
    config.write_text("user root;\n" + text)
    process = subprocess.Popen(
        [str(NGINX), "-p", str(root), "-c", str(config), "-e", "/dev/stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(base + "/nginx-health", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        process.stderr.read().decode() if process.stderr else ""
                    ) from None
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in stubs.values():
            server.shutdown()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("path", SAMPLE_PATHS)
def test_each_path_reaches_its_owner_unchanged(nginx: str, path: str) -> None:
    status, body = get(nginx + path)
    owner = expected_owner(path)
    if owner == "web":
        # The web UI answers, never a service: the page, or a 404 for a file web/ lacks.
        assert status in (200, 404), (path, status)
        assert b'"service"' not in body, path
    else:
        assert status == 200, (path, status)
        answer = json.loads(body)
        assert (answer["service"], answer["path"]) == (owner, path)


def test_websocket_upgrade_is_passed_to_marketdata(nginx: str) -> None:
    status, body = get(nginx + "/ws", {"Upgrade": "websocket", "Connection": "Upgrade"})
    assert status == 200
    assert json.loads(body) == {"service": "marketdata", "path": "/ws", "upgrade": "websocket"}


def test_request_ids_and_security_headers(nginx: str) -> None:
    request = urllib.request.Request(nginx + "/api/orders", headers={"X-Request-Id": "abc-123"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["X-Request-Id"] == "abc-123"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]

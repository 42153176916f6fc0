"""`tradestack serve <service>`: run one service of the topology in the foreground.

What a container runs (Dockerfile, docker-compose.yml, the ECS task definitions): the same
uvicorn command line `tradestack up` uses for each process, but listening on every interface and
replacing this process, so uvicorn is the container's main process and gets its signals.
"""

from __future__ import annotations

import os
import sys

from services.common.topology import SERVICES, ServiceDef, service


def uvicorn_command(target: ServiceDef, host: str, port: int) -> list[str]:
    """The uvicorn command line of a service (uvloop, httptools, graceful shutdown)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target.app,
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
        # Compressing each WebSocket message once per client costs more CPU than fan-out itself.
        "--ws-per-message-deflate",
        "false",
    ]


def serve(name: str, *, host: str = "0.0.0.0", port: int | None = None) -> None:
    """Replace this process with the service's uvicorn server. `TRADESTACK_PORT`, when set,
    wins over the topology's port, as it does for every service's settings."""
    try:
        target = service(name)
    except KeyError:
        names = ", ".join(s.name for s in SERVICES)
        raise SystemExit(f"unknown service {name!r}; choose from {names}") from None
    chosen_port = port or int(os.environ.get("TRADESTACK_PORT") or target.port)
    os.environ["TRADESTACK_SERVICE_NAME"] = target.name
    os.environ["TRADESTACK_PORT"] = str(chosen_port)
    command = uvicorn_command(target, host, chosen_port)
    os.execv(command[0], command)

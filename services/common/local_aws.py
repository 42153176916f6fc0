"""The local AWS endpoint: moto's server in its own process (what `tradestack up` and tests use)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_aws_environment(endpoint: str) -> dict[str, str]:
    """Environment variables that point boto3 at a local endpoint with dummy credentials."""
    return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


def start_moto_server(port: int, *, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start moto's server (with the fixes of `services.common.moto_server`) on 127.0.0.1:port
    and wait until it answers."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "services.common.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **LOCAL_CREDENTIALS},
        start_new_session=True,
    )
    wait_until_up(f"http://127.0.0.1:{port}", process=process)
    return process


def wait_until_up(
    endpoint: str, *, timeout_s: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the local AWS endpoint exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"the local AWS endpoint at {endpoint} did not answer in {timeout_s:.0f}s")


def endpoint_patches(endpoint: str) -> dict[str, Any] | None:
    """What the local endpoint says of its patches of moto (`moto_server.PATCHES`), or None if it
    does not say (moto's own server, LocalStack)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_tradestack/patches", timeout=2) as response:
            answer = json.load(response)
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) and "installed" in answer else None

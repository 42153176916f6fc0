"""Proxy overhead: `wrk` against a trivial FastAPI service directly, then through the gateway.

    python -m services.gateway.bench [--connections 16] [--seconds 5]

Starts both under uvicorn (uvloop + httptools, as `tradestack up` does) on free ports, runs `wrk`
against each and prints requests/s, latency and CPU time per request of every process (from
/proc, Linux only). Needs `wrk` on PATH. The gateway runs with its production defaults (access
log on, throttling on but with limits raised out of the way, since all load comes from one IP).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from services.common.local_aws import free_port

TRIVIAL_SERVICE = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/api/orders/ping")
async def ping() -> dict[str, object]:
    return {"ok": True, "service": "orders"}


@app.post("/api/orders")
async def place(order: dict[str, str]) -> dict[str, object]:
    return {"accepted": True, **order}
"""
ORDER_LUA = (
    'wrk.method = "POST"\n'
    'wrk.body = \'{"symbol":"BTC-USD","side":"buy","type":"limit","price":"60000.00",'
    '"qty":"0.0100","tif":"GTC"}\'\n'
    'wrk.headers["Content-Type"] = "application/json"\n'
)


def _uvicorn(app: str, port: int, env: dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--loop", "uvloop"]
    command += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(command, env=env, cwd=cwd, stderr=subprocess.DEVNULL)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _run(url: str, connections: int, seconds: int, script: str | None, pids: dict[str, int]) -> str:
    before = {name: _cpu_ticks(pid) for name, pid in pids.items()}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", script]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    cpu = []
    tick_us = 1_000_000 / os.sysconf("SC_CLK_TCK")
    for name, pid in pids.items():
        start, end = before[name], _cpu_ticks(pid)
        if start is not None and end is not None and requests:
            cpu.append(f"{name} {(end - start) * tick_us / requests:.0f} µs/req")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = f", {non_2xx.group(1)} non-2xx" if non_2xx else ""
    return f"{rps:8.0f} req/s  p50 {p50:>8}  p99 {p99:>8}  CPU: {', '.join(cpu)}{errors}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    service_port, gateway_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "trivial_service.py").write_text(TRIVIAL_SERVICE)
        Path(workdir, "order.lua").write_text(ORDER_LUA)
        root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": root,
            "TRADESTACK_ORDERS_URL": f"http://127.0.0.1:{service_port}",
            "TRADESTACK_GATEWAY_THROTTLE_IP_RATE": "1000000",
            "TRADESTACK_GATEWAY_THROTTLE_IP_BURST": "1000000",
            "TRADESTACK_LOG_FORMAT": "json",
        }
        service = _uvicorn("trivial_service:app", service_port, env, workdir)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "services.gateway.app:app", "--port",
             str(gateway_port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
             "--log-level", "warning"],
            env=env, cwd=root, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            direct = f"http://127.0.0.1:{service_port}"
            proxied = f"http://127.0.0.1:{gateway_port}"
            _wait(direct + "/api/orders/ping")
            _wait(proxied + "/api/orders/ping")
            pids = {"service": service.pid}
            both = {"gateway": gateway.pid, "service": service.pid}
            script = str(Path(workdir, "order.lua"))
            print(f"wrk -c{args.connections} -d{args.seconds}s, {os.cpu_count()} CPUs")
            for label, path, lua in (
                ("GET ", "/api/orders/ping", None),
                ("POST", "/api/orders", script),
            ):
                print(
                    f"{label} direct : {_run(direct + path, args.connections, args.seconds, lua, pids)}"
                )
                print(
                    f"{label} gateway: {_run(proxied + path, args.connections, args.seconds, lua, both)}"
                )
        finally:
            for process in (gateway, service):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()

"""`tradestack up`: the whole venue on one machine, one process per service, no containers.

Starts the local AWS endpoint (moto's server), creates the streams, tables and buckets, seeds the
demo markets, then runs every service under uvicorn (uvloop + httptools) with a coloured log
prefix, waits until each `/readyz` is green, prints the URLs, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.common.local_aws import (
    endpoint_patches,
    local_aws_environment,
    start_moto_server,
    wait_until_up,
)
from services.common.topology import LOCAL_AWS_PORT, SERVICES, ServiceDef
from services.serve import uvicorn_command

console = Console(stderr=True, highlight=False)

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")


@dataclass
class StackOptions:
    only: Sequence[str] = ()
    port_offset: int = 0
    prefix: str = "tradestack"
    demo: bool = True
    external_aws: bool = False
    log_dir: Path | None = None
    ready_timeout_s: float = 60.0
    demo_traders: bool = False


@dataclass
class RunningProcess:
    name: str
    process: subprocess.Popen[bytes]
    port: int | None
    pump: threading.Thread | None = None


@dataclass
class Stack:
    """The running processes of a local venue, stopped as a whole."""

    options: StackOptions
    processes: list[RunningProcess] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """SIGTERM every service's process group and wait for them (their shutdown writes final
        snapshots and checkpoints, so the AWS endpoint must still answer), then the AWS endpoint;
        SIGKILL whatever has not exited after a grace period. Leaves no orphans."""
        services = [p for p in reversed(self.processes) if p.name != "aws"]
        endpoint = [p for p in self.processes if p.name == "aws"]
        for group in (services, endpoint):
            for running in group:
                _signal_group(running.process, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for running in group:
                remaining = max(0.1, deadline - time.monotonic())
                try:
                    running.process.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    _signal_group(running.process, signal.SIGKILL)
                    running.process.wait()
        self.processes.clear()

    def restart(self, name: str) -> RunningProcess:
        """Start service `name` again (after a crash, or `kill -9` by a chaos test): a process that
        still runs is stopped first (SIGTERM, then SIGKILL). Returns once it is started, not once
        it is ready. The local AWS endpoint cannot be restarted: its state lives in memory."""
        index = next((i for i, p in enumerate(self.processes) if p.name == name), None)
        if index is None or name == "aws":
            raise ValueError(f"no restartable process named {name!r}")
        old = self.processes[index]
        if old.process.poll() is None:
            _signal_group(old.process, signal.SIGTERM)
            try:
                old.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(old.process, signal.SIGKILL)
                old.process.wait()
        service = next(s for s in SERVICES if s.name == name)
        colour = _COLOURS[index % len(_COLOURS)]
        self.processes[index] = _start_service(service, self.options, self.env, colour)
        return self.processes[index]


def available_services(only: Sequence[str] = ()) -> list[ServiceDef]:
    """Services whose code exists in this checkout (in topology order), optionally filtered."""
    chosen = []
    for service in SERVICES:
        if only and service.name not in only:
            continue
        if _module_exists(service.app.split(":", 1)[0]):
            chosen.append(service)
    return chosen


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def service_urls(port_offset: int) -> dict[str, str]:
    """`TRADESTACK_<NAME>_URL` for every service, so services find each other."""
    env = {}
    for service in SERVICES:
        url = f"http://127.0.0.1:{service.port + port_offset}"
        env[f"TRADESTACK_{service.name.upper()}_URL"] = url
    env["TRADESTACK_AUTH_JWKS_URL"] = env["TRADESTACK_AUTH_URL"] + "/api/auth/.well-known/jwks.json"
    return env


def start_stack(options: StackOptions) -> Stack:
    """Start the local venue and return once every service reports ready."""
    unknown = set(options.only) - {s.name for s in SERVICES}
    if unknown:
        names = ", ".join(s.name for s in SERVICES)
        raise SystemExit(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {names}")

    stack = Stack(options)
    env = dict(os.environ)
    env.update(
        {
            "TRADESTACK_RESOURCE_PREFIX": options.prefix,
            "TRADESTACK_DEMO_MODE": "true" if options.demo else "false",
            "TRADESTACK_LOG_FORMAT": "console",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(service_urls(options.port_offset))
    try:
        if options.external_aws:
            endpoint = os.environ.get("AWS_ENDPOINT_URL")
            if not endpoint:
                raise SystemExit("--external-aws needs AWS_ENDPOINT_URL to be set")
            wait_until_up(endpoint)
        else:
            aws_port = LOCAL_AWS_PORT + options.port_offset
            endpoint = f"http://127.0.0.1:{aws_port}"
            if _port_answers(endpoint + "/moto-api/"):
                raise SystemExit(
                    f"port {aws_port} is already in use — is another `tradestack up` running? "
                    "Stop it, or pass --port-offset 100 to run a second stack beside it."
                )
            with console.status("starting the local AWS endpoint (moto server)"):
                log_path = options.log_dir / "aws.log" if options.log_dir else None
                moto = start_moto_server(aws_port, log_path=log_path)
            stack.processes.append(RunningProcess("aws", moto, aws_port))
            _report_patches(endpoint)
            env.update(local_aws_environment(endpoint))
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "TRADESTACK_"))})
        stack.env = env

        from services.common.resources import init_aws

        with console.status("creating streams, tables and buckets"):
            report = init_aws(options.prefix)
        console.print(
            f"[dim]resources: {len(report.created)} created, {len(report.existing)} existing[/dim]"
        )
        if options.demo:
            seed_demo(options.prefix)

        services = available_services(options.only)
        for index, service in enumerate(services):
            colour = _COLOURS[index % len(_COLOURS)]
            stack.processes.append(_start_service(service, options, env, colour))
        _wait_ready(stack, services, options)
    except BaseException:
        stack.stop()
        raise
    return stack


def _report_patches(endpoint: str) -> None:
    patches = endpoint_patches(endpoint)
    if patches is None:
        return
    if patches["refused"]:
        console.print(
            f"[yellow]local AWS endpoint: moto {patches['moto']} refused "
            f"{', '.join(patches['refused'])} (moto's own code answers instead: correct, slower); "
            "`make install` restores the tested versions. Details: "
            f"{endpoint}/_tradestack/patches[/yellow]"
        )
    else:
        console.print(
            f"[dim]local AWS endpoint: moto {patches['moto']}, "
            f"{len(patches['installed'])} patches verified against it[/dim]"
        )


def seed_demo(prefix: str) -> None:
    """Demo markets and a market maker quoting both sides of every book (idempotent)."""
    if not _module_exists("services.orders.demo"):
        return
    from services.orders import demo

    created = demo.seed_markets(prefix)
    orders = demo.seed_liquidity(prefix)
    console.print(
        f"[dim]demo: {len(created)} markets created, {orders} market-maker orders sent[/dim]"
    )


def _start_service(
    service: ServiceDef, options: StackOptions, env: dict[str, str], colour: str
) -> RunningProcess:
    port = service.port + options.port_offset
    service_env = {
        **env,
        "TRADESTACK_SERVICE_NAME": service.name,
        "TRADESTACK_PORT": str(port),
    }
    command = uvicorn_command(service, "127.0.0.1", port)
    process = subprocess.Popen(
        command,
        env=service_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file = options.log_dir / f"{service.name}.log" if options.log_dir else None
    pump = threading.Thread(
        target=_pump_output, args=(service.name, colour, process, log_file), daemon=True
    )
    pump.start()
    return RunningProcess(service.name, process, port, pump)


def _pump_output(
    name: str, colour: str, process: subprocess.Popen[bytes], log_file: Path | None
) -> None:
    assert process.stdout is not None
    sink = open(log_file, "ab") if log_file else None  # noqa: SIM115
    try:
        for raw in process.stdout:
            if sink:
                sink.write(raw)
                sink.flush()
            line = raw.decode(errors="replace").rstrip()
            # Text, not markup: a log line may contain [brackets]. soft_wrap: never re-wrap lines.
            console.print(Text.assemble((f"{name:>10}", colour), " │ ", line), soft_wrap=True)
    finally:
        if sink:
            sink.close()


def _wait_ready(stack: Stack, services: Sequence[ServiceDef], options: StackOptions) -> None:
    deadline = time.monotonic() + options.ready_timeout_s
    pending = {s.name: f"http://127.0.0.1:{s.port + options.port_offset}/readyz" for s in services}
    with console.status("waiting for every service to report ready") as status:
        while pending:
            for running in stack.processes:
                if running.process.poll() is not None:
                    raise SystemExit(
                        f"{running.name} exited with status {running.process.returncode} while "
                        "starting; its log lines above say why."
                    )
            for name, url in list(pending.items()):
                if _port_answers(url):
                    del pending[name]
            status.update(f"waiting for ready: {', '.join(pending) or 'done'}")
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"not ready after {options.ready_timeout_s:.0f}s: {', '.join(pending)} "
                    "(their /readyz says why)"
                )
            time.sleep(0.2)


def _port_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def print_urls(stack: Stack) -> None:
    offset = stack.options.port_offset
    table = Table(title="Tradestack is running", title_style="bold green")
    table.add_column("what")
    table.add_column("URL")
    running = {p.name for p in stack.processes}
    if "gateway" in running:
        table.add_row("[bold]trading screen[/bold]", f"http://127.0.0.1:{8000 + offset}/")
        table.add_row("API docs", f"http://127.0.0.1:{8000 + offset}/api/docs")
    for service in SERVICES:
        if service.name in running:
            table.add_row(service.name, f"http://127.0.0.1:{service.port + offset}")
    table.add_row("local AWS (moto)", stack.env.get("AWS_ENDPOINT_URL", "-"))
    if stack.options.demo_traders and "gateway" in running:
        from services.demo_traders import DEMO_PASSWORD, DEMO_USERS

        table.add_row("demo log-in", f"{DEMO_USERS[0]} / {DEMO_PASSWORD} (trading now)")
    console.print(table)
    console.print(
        "[dim]State lives in memory: stopping the stack forgets it. Ctrl-C to stop.[/dim]"
    )


def run_up(options: StackOptions) -> int:
    """Start the venue, print its URLs, and block until Ctrl-C or SIGTERM."""
    stopping = threading.Event()

    def _request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    stack = start_stack(options)
    demo_stop: threading.Event | None = None
    try:
        print_urls(stack)
        if (
            options.demo
            and options.demo_traders
            and any(p.name == "gateway" for p in stack.processes)
        ):
            from services.demo_traders import start_demo_traders

            _, demo_stop = start_demo_traders(f"http://127.0.0.1:{8000 + options.port_offset}")
        while not stopping.is_set():
            for running in stack.processes:
                if running.process.poll() is not None:
                    console.print(
                        f"[red]{running.name} exited with status {running.process.returncode}; "
                        "stopping the stack[/red]"
                    )
                    return 1
            stopping.wait(0.5)
        console.print("[yellow]stopping…[/yellow]")
        return 0
    finally:
        if demo_stop is not None:
            demo_stop.set()
        stack.stop()

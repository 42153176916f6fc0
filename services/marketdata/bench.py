"""`tradestack bench marketdata`: WebSocket fan-out of a busy book, end to end.

What runs: a local AWS endpoint (moto's server, unless `--external-aws`), the market data service
as its own uvicorn process (the flags `tradestack up` uses), and N WebSocket clients spread over a
few client processes, each subscribed to `book:BTC-USD` and following it with `BookFollower`
(so a sequence gap is counted, not just a message). The bench runs the matching engine in-process
on seeded random orders around a mid price and puts its events on `executions` with the runtime's
producer, stamping each command's `ts` with the wall clock at publish time.

Reported: messages delivered per second (all clients together), publish-to-receive latency of
book diffs (receive time minus the `ts` of the last event a diff covers: the producer's batching,
Kinesis, the consumer's poll, the publish tick and the socket), gaps, and dropped connections.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

SYMBOL = "BTC-USD"


@dataclass(frozen=True)
class BenchOptions:
    clients: int = 1000
    duration_s: float = 10.0
    rate: int = 200
    """Engine commands per second (each gives ~2-3 events)."""
    levels: int = 50
    """Resting price levels per side before the clock starts."""
    client_processes: int = 0
    """0: one per CPU (at least 1, at most 8)."""
    publish_interval_ms: int = 50
    seed: int = 1
    external_aws: bool = False
    deflate: bool = False
    """Clients offer permessage-deflate, as browsers do (the server compresses per client)."""


@dataclass
class ClientReport:
    connected: int = 0
    messages: int = 0
    diffs: int = 0
    gaps: int = 0
    closed: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[int] = field(default_factory=list)


# -- clients (run in child processes) ------------------------------------------------------------


def _client_process(url: str, count: int, deflate: bool, pipe: Connection) -> None:
    """Connect `count` clients, tell the parent, receive until told to stop, send a report."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    report = asyncio.run(_clients(url, count, deflate, pipe))
    pipe.send(asdict(report))
    pipe.close()


async def _clients(url: str, count: int, deflate: bool, pipe: Connection) -> ClientReport:
    import websockets

    from services.marketdata.client import BookFollower, SequenceGap

    report = ClientReport()
    stop = asyncio.Event()
    ready = asyncio.Event()
    connecting = asyncio.Semaphore(50)
    channel = f"book:{SYMBOL}"
    subscribe = orjson.dumps({"op": "subscribe", "channels": [channel]}).decode()
    opened: list[Any] = []

    async def one() -> None:
        follower = BookFollower()
        try:
            async with connecting:
                ws = await websockets.connect(
                    url, max_size=None, compression="deflate" if deflate else None, open_timeout=30
                )
            async with ws:
                await ws.send(subscribe)
                report.connected += 1
                if report.connected + len(report.errors) >= count:
                    ready.set()
                latencies = report.latencies_ms
                opened.append(ws)
                async for raw in ws:  # ends when the parent says stop (we close the socket)
                    now_ms = time.time() * 1000
                    message = orjson.loads(raw)
                    report.messages += 1
                    if message.get("type") == "diff":
                        report.diffs += 1
                        if "ts" in message:
                            latencies.append(int(now_ms - message["ts"]))
                    if message.get("channel") == channel:
                        try:
                            follower.on_message(message)
                        except SequenceGap:
                            report.gaps += 1
                            follower.seq = message["last_seq"]
                    if stop.is_set():
                        break
        except websockets.ConnectionClosed:
            report.closed += 1
        except Exception as exc:  # counted and reported, never hidden
            report.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            if report.connected + len(report.errors) >= count:
                ready.set()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.wait_for(ready.wait(), 120)
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "start"
    report.latencies_ms.clear()
    report.messages = report.diffs = 0
    pipe.send("measuring")
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    stop.set()
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    return report


# -- the venue side ------------------------------------------------------------------------------


class BusyBook:
    """Seeded order flow on one symbol: mostly new limits near the mid, some crossing ones."""

    def __init__(self, seed: int) -> None:
        from services.matching.engine import MatchingEngine

        self.engine = MatchingEngine()
        self.rng = random.Random(seed)
        self.mid = 100_000  # in ticks of 0.01: 1000.00
        self.orders = 0

    def command(self, side: str, price: int) -> dict[str, Any]:
        self.orders += 1
        return {
            "op": "new",
            "id": f"b{self.orders}",
            "account": f"acct{self.rng.randint(1, 50)}",
            "symbol": SYMBOL,
            "side": side,
            "type": "limit",
            "price": f"{price // 100}.{price % 100:02d}",
            "qty": f"0.{self.rng.randint(1, 50):04d}",
            "tif": "GTC",
            "ts": int(time.time() * 1000),
        }

    def seed_commands(self, levels: int) -> list[dict[str, Any]]:
        return [
            self.command(side, self.mid - n if side == "buy" else self.mid + n)
            for n in range(1, levels + 1)
            for side in ("buy", "sell")
        ]

    def next_command(self) -> dict[str, Any]:
        side = self.rng.choice(("buy", "sell"))
        if self.rng.random() < 0.15:  # crosses the spread: trades
            return self.command(side, self.mid + (5 if side == "buy" else -5))
        offset = self.rng.randint(1, 60)
        return self.command(side, self.mid - offset if side == "buy" else self.mid + offset)


async def _produce(
    prefix: str, book: BusyBook, *, seed_levels: int = 0, rate: int = 0, duration_s: float = 0
) -> int:
    """Put the engine's events on `executions`: a seed book, or `rate` commands/s for a while."""
    from services.common.aws import aio_session, client_config
    from services.common.resources import physical_name
    from services.common.streams import StreamProducer
    from services.matching.engine import encode_event

    events = 0
    async with aio_session().client("kinesis", config=client_config()) as kinesis:
        producer = StreamProducer(kinesis, physical_name(prefix, "executions"))

        async def put(command: dict[str, Any]) -> None:
            nonlocal events
            for event in book.engine.apply(command):
                await producer.put(SYMBOL, encode_event(event))
                events += 1

        for command in book.seed_commands(seed_levels):
            await put(command)
        start = time.monotonic()
        sent = 0
        while rate and (elapsed := time.monotonic() - start) < duration_s:
            for _ in range(int(elapsed * rate) - sent):
                await put(book.next_command())
                sent += 1
            await asyncio.sleep(0.005)
        await producer.close()
    return events


def _start_service(
    prefix: str, port: int, options: BenchOptions, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRADESTACK_RESOURCE_PREFIX": prefix,
        "TRADESTACK_SERVICE_NAME": "marketdata",
        "TRADESTACK_LOG_FORMAT": "json",
        "TRADESTACK_PUBLISH_INTERVAL_MS": str(options.publish_interval_ms),
        "TRADESTACK_CONSUME_ACCOUNTS": "false",
    }
    command = [
        sys.executable, "-m", "uvicorn", "services.marketdata.app:app",
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--backlog", "4096",
    ]  # fmt: skip
    with open(log, "ab") as sink:
        return subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the market data service exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("the market data service did not become ready")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(sorted_values: list[int], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def run_bench(options: BenchOptions) -> dict[str, Any]:
    """Run the whole bench and return its figures."""
    from services.common.local_aws import free_port, local_aws_environment, start_moto_server
    from services.common.markets import MarketSpec, put_market_sync, table_name
    from services.common.resources import init_aws

    workdir = Path(tempfile.mkdtemp(prefix="tradestack-bench-md-"))
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[tuple[Any, Connection]] = []
    saved_env = dict(os.environ)
    try:
        if not options.external_aws:
            aws_port = free_port()
            processes.append(start_moto_server(aws_port, log_path=workdir / "aws.log"))
            os.environ.update(local_aws_environment(f"http://127.0.0.1:{aws_port}"))
        prefix = "bench" + uuid.uuid4().hex[:8]
        init_aws(prefix)
        import boto3

        from services.common.aws import client_config

        table = boto3.resource("dynamodb", config=client_config()).Table(table_name(prefix))
        put_market_sync(table, MarketSpec(SYMBOL, "BTC", "USD", "0.01", "0.0001", "1"))
        book = BusyBook(options.seed)
        asyncio.run(_produce(prefix, book, seed_levels=options.levels))

        port = free_port()
        service_log = workdir / "marketdata.log"
        service = _start_service(prefix, port, options, service_log)
        processes.append(service)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, service, service_log)

        procs = options.client_processes or max(1, min(8, os.cpu_count() or 1))
        procs = min(procs, options.clients)
        context = multiprocessing.get_context("spawn")
        shares = [
            options.clients // procs + (1 if i < options.clients % procs else 0)
            for i in range(procs)
        ]
        for share in shares:
            parent, child = context.Pipe()
            process = context.Process(
                target=_client_process,
                args=(f"ws://127.0.0.1:{port}/ws", share, options.deflate, child),
                daemon=True,
            )
            process.start()
            clients.append((process, parent))
        for _, pipe in clients:
            if not pipe.poll(180):
                raise TimeoutError("clients did not connect in time")
            pipe.recv()  # "ready"
        for _, pipe in clients:
            pipe.send("start")
        for _, pipe in clients:
            pipe.recv()  # "measuring"
        started = time.monotonic()
        cpu_before = _cpu_seconds(service.pid)
        clients_cpu_before = sum(_cpu_seconds(p.pid) for p, _ in clients if p.pid)
        events = asyncio.run(
            _produce(prefix, book, rate=options.rate, duration_s=options.duration_s)
        )
        time.sleep(1.0)  # let the last diffs arrive
        measured_s = time.monotonic() - started
        service_cpu = _cpu_seconds(service.pid) - cpu_before
        clients_cpu = sum(_cpu_seconds(p.pid) for p, _ in clients if p.pid) - clients_cpu_before
        reports = []
        for _, pipe in clients:
            pipe.send("stop")
        for _, pipe in clients:
            if pipe.poll(60):
                reports.append(ClientReport(**pipe.recv()))
        latencies = sorted(v for r in reports for v in r.latencies_ms)
        messages = sum(r.messages for r in reports)
        return {
            "clients": options.clients,
            "connected": sum(r.connected for r in reports),
            "client_processes": procs,
            "duration_s": round(measured_s, 2),
            "commands_per_s": options.rate,
            "events_published": events,
            "events_per_s": round(events / options.duration_s, 1),
            "publish_interval_ms": options.publish_interval_ms,
            "deflate": options.deflate,
            "messages_delivered": messages,
            "messages_per_s": round(messages / options.duration_s, 1),
            "diffs_per_client_per_s": round(
                sum(r.diffs for r in reports) / max(1, options.clients) / options.duration_s, 2
            ),
            "latency_ms": {
                "p50": _percentile(latencies, 0.50),
                "p90": _percentile(latencies, 0.90),
                "p99": _percentile(latencies, 0.99),
                "max": float(latencies[-1]) if latencies else None,
                "samples": len(latencies),
            },
            "gaps": sum(r.gaps for r in reports),
            "closed_by_server": sum(r.closed for r in reports),
            "client_errors": [e for r in reports for e in r.errors][:5],
            "cpus": os.cpu_count(),
            "service_cpu_percent": round(100 * service_cpu / measured_s, 1),
            "clients_cpu_percent": round(100 * clients_cpu / measured_s, 1),
        }
    finally:
        for process, pipe in clients:
            pipe.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        for popen in reversed(processes):
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
                try:
                    popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    popen.kill()
        os.environ.clear()
        os.environ.update(saved_env)


def run_marketdata_bench(options: BenchOptions, *, json_out: bool = False) -> int:
    """The CLI entry: run, then print a rich table or one JSON object."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    with console.status(f"benchmarking {options.clients} WebSocket clients on a busy book"):
        result = run_bench(options)
    if json_out:
        print(orjson.dumps(result).decode())
        return 0
    table = Table(title="market data fan-out (book diffs, end to end)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    latency = result["latency_ms"]
    rows = [
        ("clients connected", f"{result['connected']:,} / {result['clients']:,}"),
        ("events published / s", f"{result['events_per_s']:,}"),
        ("messages delivered / s", f"{result['messages_per_s']:,}"),
        ("diffs per client / s", f"{result['diffs_per_client_per_s']}"),
        ("latency p50 (ms)", f"{latency['p50']}"),
        ("latency p90 (ms)", f"{latency['p90']}"),
        ("latency p99 (ms)", f"{latency['p99']}"),
        ("latency max (ms)", f"{latency['max']}"),
        ("sequence gaps", f"{result['gaps']}"),
        ("closed by server", f"{result['closed_by_server']}"),
        ("service CPU (% of one core)", f"{result['service_cpu_percent']}"),
        ("clients CPU (% of one core)", f"{result['clients_cpu_percent']}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print(
        f"[dim]{result['duration_s']} s measured, publish tick {result['publish_interval_ms']} ms, "
        f"{result['client_processes']} client processes on {result['cpus']} CPUs; latency = receive "
        "time - event ts (producer batching + Kinesis + consumer poll + tick + socket).[/dim]"
    )
    if result["client_errors"]:
        console.print(f"[red]client errors: {result['client_errors']}[/red]")
    return 0

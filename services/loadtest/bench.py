"""`tradestack bench e2e`: the whole venue under many traders, end to end through the gateway.

1. Start a stack (`tradestack up` in-process, on a free port offset, with the gateway's per-IP
   throttle off for loopback and its access log off), or use a running one (`--url`).
2. Sign up and fund `--traders` bots from the demo faucet; open one private WebSocket per bot
   (`orders`, `fills`) and one public subscriber (books and trades of every symbol).
3. Warm up, then measure for `--duration` seconds: the bots act on a fixed schedule of `--rate`
   new orders/s in total, plus cancels and amends (`orderflow.FlowConfig`).
4. Stop, and time how long the projection (`GET /api/orders/{id}`) takes to agree with the
   engine's events for the last orders of every bot.
5. Report: accepted orders/s, trades/s, submit→202 and submit→fill latency, projection lag, CPU
   per process (the load generator's own included), optionally per-hop latency (`--hops`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from services.common.topology import LOCAL_AWS_PORT, service
from services.loadtest.http import HttpError, KeepAliveConnection
from services.loadtest.measure import CpuMeter, LatencySummary, machine, stack_pids
from services.loadtest.orderflow import FlowConfig, MarketTerms, MidPrice
from services.loadtest.traders import OrderTrack, Tally, Trader, public_listener

STACK_ENV = {
    # Every bot connects from 127.0.0.1: without this the per-IP bucket (50/s) caps the run.
    # The per-account bucket (200/s) stays on; the load is spread over many accounts.
    "TRADESTACK_GATEWAY_THROTTLE_EXEMPT_LOOPBACK": "true",
    "TRADESTACK_GATEWAY_ACCESS_LOG": "false",
    "TRADESTACK_LOG_LEVEL": "WARNING",
}
SAMPLED_PER_TRADER = 5
"""The last orders of each bot whose projection is checked after the load stops."""


@dataclass(frozen=True)
class E2eOptions:
    duration_s: float = 60.0
    warmup_s: float = 5.0
    traders: int = 40
    rate: float = 1100.0
    """New orders per second, all bots together (cancels and amends come on top)."""
    connections_per_trader: int = 4
    symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD")
    seed: int = 1
    url: str | None = None
    """A running stack's gateway; None starts one."""
    port_offset: int | None = None
    """The stack's port offset (to find its processes); default: free (new stack) or 0."""
    prefix: str | None = None
    catchup_timeout_s: float = 60.0
    hops: bool = False
    flow: FlowConfig = field(default_factory=FlowConfig)


@dataclass
class Running:
    """What the run needs to know about the stack it drives."""

    host: str
    port: int
    port_offset: int
    prefix: str
    pids: dict[str, int]


def run_e2e_bench(
    options: E2eOptions,
    *,
    json_out: bool,
    rates: tuple[float, ...] = (),
    chart: Path | None = None,
) -> int:
    """Run the benchmark; print a table (or one JSON object with `json_out`). With `rates`, one
    window per rate on the same stack (a sweep: a summary table, every result in the JSON as
    `{"sweep": [...]}`, and a PNG chart at `chart`). Exit status 0 when the run completed
    (whatever the figures), 1 when it could not run."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    stack = None
    if options.url is None:
        offset = options.port_offset if options.port_offset is not None else free_port_offset()
        prefix = options.prefix or f"bench{uuid.uuid4().hex[:6]}"
        os.environ.update(STACK_ENV)
        from services.stack import StackOptions, start_stack

        console.print(f"[dim]starting a stack at port offset {offset} (prefix {prefix})[/dim]")
        stack = start_stack(StackOptions(port_offset=offset, prefix=prefix))
        running = Running("127.0.0.1", 8000 + offset, offset, prefix, stack_pids(offset))
    else:
        from urllib.parse import urlsplit

        parts = urlsplit(options.url)
        offset = options.port_offset if options.port_offset is not None else 0
        prefix = options.prefix or os.environ.get("TRADESTACK_RESOURCE_PREFIX", "tradestack")
        running = Running(
            parts.hostname or "127.0.0.1", parts.port or 80, offset, prefix, stack_pids(offset)
        )
    try:
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
            runner = asyncio.run
        results = []
        for rate in rates or (options.rate,):
            if rates:
                console.print(f"[bold]offering {rate:g} new orders/s[/bold]")
            results.append(runner(_bench(replace(options, rate=rate), running, console)))
    finally:
        if stack is not None:
            with console.status("stopping the stack"):
                stack.stop()
    from services.loadtest.report import print_json, print_sweep, print_table

    if not rates:
        (print_json if json_out else lambda r: print_table(r, console))(results[0])
        return 0
    if json_out:
        print_json({"sweep": results})
    else:
        print_sweep(results)
    if chart is not None:
        _chart(results, chart, console)
    return 0


def _chart(results: list[dict[str, Any]], path: Path, console: Any) -> None:
    try:
        from services.loadtest.chart import write_sweep_chart
    except ImportError:  # pragma: no cover - matplotlib is in the dev and charts extras
        console.print("[yellow]no chart: pip install 'tradestack[charts]' (matplotlib)[/yellow]")
        return
    try:
        write_sweep_chart(results, path, title=_chart_title(results))
    except ImportError:
        console.print("[yellow]no chart: pip install 'tradestack[charts]' (matplotlib)[/yellow]")
        return
    console.print(f"chart: {path}")


def _chart_title(results: list[dict[str, Any]]) -> str:
    machine = results[0]["machine"]
    config = results[0]["config"]
    return (
        f"tradestack bench e2e: {config['traders']} traders, {config['duration_s']:g} s per rate; "
        f"{machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}"
    )


def free_port_offset() -> int:
    """A port offset whose gateway, services and AWS ports are all free."""
    ports = [s.port for s in _services()] + [LOCAL_AWS_PORT]
    candidates = list(range(1300, 30000, 100))
    random.shuffle(candidates)
    for offset in candidates:
        if all(_port_free(port + offset) for port in ports):
            return offset
    raise SystemExit("no free port range for a stack; pass --url to use a running one")


def _services() -> list[Any]:
    from services.common.topology import SERVICES

    return list(SERVICES)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- the run ---------------------------------------------------------------------------------


async def _bench(options: E2eOptions, running: Running, console: Any) -> dict[str, Any]:
    rng = random.Random(options.seed)
    http = KeepAliveConnection(running.host, running.port)
    markets, mids = await _markets(http, options.symbols, rng)
    tally = Tally()
    run_id = uuid.uuid4().hex[:8]
    traders = [
        Trader(
            i,
            host=running.host,
            port=running.port,
            run_id=run_id,
            rng=random.Random(rng.random()),
            flow=options.flow,
            markets=markets,
            mids=mids,
            tally=tally,
            connections=options.connections_per_trader,
        )
        for i in range(options.traders)
    ]
    assets = {"USD"} | {s.split("-")[0] for s in markets} | {s.split("-")[1] for s in markets}
    ws_url = f"ws://{running.host}:{running.port}/ws"
    with console.status(f"signing up and funding {len(traders)} traders"):
        gate = asyncio.Semaphore(4)

        async def prepare(trader: Trader) -> None:
            async with gate:
                await trader.sign_up(assets)
            await trader.connect(ws_url)

        await asyncio.gather(*(prepare(t) for t in traders))
    public_ready = asyncio.Event()
    public = asyncio.create_task(public_listener(ws_url, sorted(markets), tally, public_ready))
    await public_ready.wait()

    stop = asyncio.Event()
    mover = asyncio.create_task(_move_mids(mids, stop))
    cf = options.flow
    per_trader = options.rate * (1 + cf.cancel_ratio + cf.amend_ratio) / len(traders)
    bots = [asyncio.create_task(t.run(stop, per_trader)) for t in traders]
    cpu = CpuMeter({**running.pids, "load generator": os.getpid()})
    lag_samples: list[int] = []
    probe_samples: list[float] = []
    projector = KeepAliveConnection("127.0.0.1", service("projector").port + running.port_offset)
    aws = KeepAliveConnection("127.0.0.1", LOCAL_AWS_PORT + running.port_offset)
    aws_calls: dict[str, int] | None = None
    try:
        console.print(f"[dim]{len(traders)} traders ready; warming up[/dim]")
        await _progress(console, options.warmup_s, "warming up", tally, None)
        console.print(f"[dim]measuring for {options.duration_s:g} s[/dim]")
        calls_before = await _aws_calls(aws)
        tally.window_start = time.monotonic()
        cpu.start()
        sampler = asyncio.create_task(_sample_projector(projector, lag_samples))
        prober = asyncio.create_task(_probe_projection(traders, rng, probe_samples))
        await _progress(console, options.duration_s, "measuring", tally, tally.window_start)
        tally.window_end = time.monotonic()
        cpu.stop()
        aws_calls = _calls_between(calls_before, await _aws_calls(aws))
        sampler.cancel()
        prober.cancel()
        stop.set()
        console.print("[dim]load stopped[/dim]")
        with console.status("waiting for requests in flight"):
            await asyncio.wait_for(asyncio.gather(*bots, return_exceptions=True), 60)
        stopped_at = time.monotonic()
        with console.status("waiting for the projection to agree with the engine"):
            catchup = await _projection_catchup(traders, stopped_at, options.catchup_timeout_s)
        projector_status = await _json(projector, "/status")
    finally:
        stop.set()
        mover.cancel()
        public.cancel()
        for task in bots:
            task.cancel()
        await asyncio.gather(*bots, mover, public, return_exceptions=True)
        await asyncio.gather(*(t.close() for t in traders), return_exceptions=True)
        http.close()
        projector.close()
        aws.close()
    hops = None
    if options.hops:
        from services.loadtest.hops import hop_latencies

        with console.status("reading the streams back for per-hop latency"):
            hops = await asyncio.to_thread(hop_latencies, running.prefix, traders, tally)
    return _result(
        options,
        running,
        traders,
        tally,
        cpu,
        lag_samples,
        probe_samples,
        catchup,
        projector_status,
        hops,
        aws_calls,
    )


async def _aws_calls(aws: KeepAliveConnection) -> dict[str, int] | None:
    """Calls served so far per action by the local AWS endpoint (None where it does not count
    them: LocalStack, AWS, or moto with TRADESTACK_MOTO_SPEEDUPS=false)."""
    from services.common.moto_http import CALLS_PATH

    try:
        status, body = await aws.request("GET", CALLS_PATH)
    except (OSError, HttpError):
        return None
    if status != 200:
        return None
    try:
        calls = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return calls if isinstance(calls, dict) else None


def _calls_between(
    before: dict[str, int] | None, after: dict[str, int] | None
) -> dict[str, int] | None:
    if before is None or after is None:
        return None
    return {
        action: n - before.get(action, 0)
        for action, n in after.items()
        if n > before.get(action, 0)
    }


async def _markets(
    http: KeepAliveConnection, symbols: tuple[str, ...], rng: random.Random
) -> tuple[dict[str, MarketTerms], dict[str, MidPrice]]:
    listed = {m["symbol"]: m for m in (await _json(http, "/api/markets"))["markets"]}
    missing = [s for s in symbols if s not in listed]
    if missing:
        raise SystemExit(f"no market {', '.join(missing)} on this venue (demo mode creates them)")
    markets, mids = {}, {}
    for symbol in symbols:
        spec = listed[symbol]
        terms = MarketTerms(symbol, spec["tick_size"], spec["lot_size"], spec["min_notional"])
        book = await _json(http, f"/api/markets/{symbol}/book?depth=1")
        if book["bids"] and book["asks"]:
            mid = (Decimal(book["bids"][0][0]) + Decimal(book["asks"][0][0])) / 2
        else:
            ticker = await _json(http, f"/api/markets/{symbol}/ticker")
            mid = Decimal(ticker.get("last") or 100)
        markets[symbol] = terms
        mids[symbol] = MidPrice(int(mid / terms.tick), random.Random(rng.random()))
    return markets, mids


async def _json(http: KeepAliveConnection, path: str) -> Any:
    status, body = await http.request("GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
    return orjson.loads(body)


async def _move_mids(mids: dict[str, MidPrice], stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.1)
        for mid in mids.values():
            mid.advance(0.1)


async def _progress(
    console: Any, seconds: float, label: str, tally: Tally, since: float | None
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=seconds)
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            await asyncio.sleep(min(1.0, seconds - elapsed))
            text = label
            if since is not None:
                window = max(1e-9, time.monotonic() - since)
                acks = tally.ack_ms["new"]
                text = (
                    f"{label}: {len(acks) / window:,.0f} orders/s, "
                    f"{tally.public_trades / window:,.0f} trades/s"
                )
            progress.update(task, completed=time.monotonic() - start, description=text)


async def _sample_projector(projector: KeepAliveConnection, samples: list[int]) -> None:
    """Once a second: how far behind the stream tips the projector's readers are (ms)."""
    while True:
        await asyncio.sleep(1.0)
        with contextlib.suppress(Exception):
            status = await _json(projector, "/status")
            lags = [
                shard.get("lag_ms") or 0
                for reader in status.get("readers", {}).values()
                for shard in reader.get("shards", {}).values()
            ]
            if lags:
                samples.append(max(lags))


async def _probe_projection(
    traders: list[Trader], rng: random.Random, samples: list[float]
) -> None:
    """One probe at a time during the load: take a bot's latest order the engine has spoken
    about, poll `GET /api/orders/{id}` (every 100 ms) until the projection shows the state the
    engine's events gave, and record how long after the last of those events that was."""
    while True:
        await asyncio.sleep(0.2)
        trader = traders[rng.randrange(len(traders))]
        candidates = [trader.orders[i] for i in trader.placed[-20:]]
        known = [o for o in candidates if o.status != "pending" and o.last_event_at is not None]
        if not known:
            continue
        track = known[-1]
        http = KeepAliveConnection(trader.host, trader.port)
        try:
            while True:
                status, body = await http.request(
                    "GET", f"/api/orders/{track.id}", None, trader.auth
                )
                now = time.monotonic()
                if status == 200:
                    order = orjson.loads(body)["order"]
                    view = (order["status"], Decimal(order.get("filled") or 0))
                    if view == track.engine_view() and track.last_event_at is not None:
                        samples.append(round((now - track.last_event_at) * 1000, 1))
                        break
                if now - (track.last_event_at or now) > 60:
                    break
                await asyncio.sleep(0.1)
        finally:
            http.close()


@dataclass
class Catchup:
    seconds: float | None
    checked: int
    unresolved: list[dict[str, Any]]


async def _projection_catchup(
    traders: list[Trader], stopped_at: float, timeout_s: float
) -> Catchup:
    """Poll `GET /api/orders/{id}` for the last orders of every bot until each shows the status
    and filled quantity the engine's events gave (re-checked if a later event changes them)."""
    sample = [(t, order_id) for t in traders for order_id in t.placed[-SAMPLED_PER_TRADER:]]
    agreed: dict[str, tuple[str, Decimal]] = {}
    seen: dict[str, Any] = {}
    while True:
        todo = [
            (t, oid)
            for t, oid in sample
            if t.orders[oid].status == "pending" or agreed.get(oid) != t.orders[oid].engine_view()
        ]
        if not todo:
            return Catchup(round(time.monotonic() - stopped_at, 2), len(sample), [])
        if time.monotonic() - stopped_at > timeout_s:
            unresolved = [
                {
                    "order_id": oid,
                    "engine": list(map(str, t.orders[oid].engine_view())),
                    "projection": seen.get(oid),
                }
                for t, oid in todo[:10]
            ]
            return Catchup(None, len(sample), unresolved)

        async def check(trader: Trader, order_id: str) -> None:
            status, body = await trader.connections[0].request(
                "GET", f"/api/orders/{order_id}", None, trader.auth
            )
            if status != 200:
                seen[order_id] = status
                return
            order = orjson.loads(body)["order"]
            view = (order["status"], Decimal(order.get("filled") or 0))
            seen[order_id] = [view[0], str(view[1])]
            if view == trader.orders[order_id].engine_view():
                agreed[order_id] = view

        by_trader: dict[int, list[tuple[Trader, str]]] = {}
        for trader, order_id in todo:
            if trader.orders[order_id].status != "pending":
                by_trader.setdefault(trader.index, []).append((trader, order_id))

        async def check_all(items: list[tuple[Trader, str]]) -> None:
            for trader, order_id in items:  # one connection per bot: one request at a time
                await check(trader, order_id)

        await asyncio.gather(*(check_all(items) for items in by_trader.values()))
        await asyncio.sleep(0.1)


# -- the result ------------------------------------------------------------------------------


def _result(
    options: E2eOptions,
    running: Running,
    traders: list[Trader],
    tally: Tally,
    cpu: CpuMeter,
    lag_samples: list[int],
    probe_samples: list[float],
    catchup: Catchup,
    projector_status: dict[str, Any] | None,
    hops: dict[str, Any] | None,
    aws_calls: dict[str, int] | None,
) -> dict[str, Any]:
    window = tally.window_end - tally.window_start
    tracks: list[OrderTrack] = [o for t in traders for o in t.orders.values() if o.in_window]
    crossing = [o for o in tracks if o.crossing]
    fill_ms = [
        (o.first_fill_at - o.sent_at) * 1000 for o in crossing if o.first_fill_at is not None
    ]
    fills = LatencySummary.of(fill_ms)
    acks = {what: LatencySummary.of(values) for what, values in tally.ack_ms.items()}
    statuses: dict[str, int] = {}
    for order in tracks:
        statuses[order.status] = statuses.get(order.status, 0) + 1
    accepted = len(tally.ack_ms["new"])
    requests = sum(tally.requests.values())
    usage = cpu.usage()
    return {
        "orders_per_sec": round(accepted / window, 1),
        "trades_per_sec": round(tally.public_trades / window, 1),
        "requests_per_sec": round(requests / window, 1),
        "p50_ack_ms": acks["new"].p50_ms,
        "p99_ack_ms": acks["new"].p99_ms,
        "max_ack_ms": acks["new"].max_ms,
        "p50_fill_ms": fills.p50_ms,
        "p90_fill_ms": fills.p90_ms,
        "p99_fill_ms": fills.p99_ms,
        "max_fill_ms": fills.max_ms,
        "fills_measured": fills.count,
        "projection_catchup_s": catchup.seconds,
        "projection_checked_orders": catchup.checked,
        "projection_unresolved": catchup.unresolved,
        "projection_lag": asdict(LatencySummary.of(probe_samples)),
        "projection_reader_lag_max_ms": max(lag_samples) if lag_samples else None,
        "projector": _projector_summary(projector_status),
        "cpu_cores": usage,
        "cpu_cores_total": round(sum(usage.values()), 2),
        "cpu_ms_per_order": {
            name: round(share * window * 1000 / max(1, accepted), 3)
            for name, share in usage.items()
        },
        "aws_calls_per_order": None
        if aws_calls is None
        else {
            action: round(n / max(1, accepted), 3)
            for action, n in sorted(aws_calls.items(), key=lambda kv: -kv[1])
        },
        "latency_ms": {what: asdict(summary) for what, summary in acks.items()}
        | {"fill": asdict(fills)},
        "counts": {
            "window_s": round(window, 2),
            "requests": tally.requests,
            "refused": tally.refused,
            "orders_accepted": accepted,
            "crossing_orders": len(crossing),
            "crossing_without_fill": len(crossing) - len(fill_ms),
            "order_states": statuses,
            "fill_messages": tally.fill_messages,
            "public_trades": tally.public_trades,
            "ws_messages": tally.ws_messages,
            "slots_missed": tally.slots_missed,
        },
        "errors": tally.errors,
        "hops": hops,
        "config": {
            "duration_s": options.duration_s,
            "warmup_s": options.warmup_s,
            "traders": options.traders,
            "rate": options.rate,
            "connections_per_trader": options.connections_per_trader,
            "symbols": list(options.symbols),
            "seed": options.seed,
            "flow": asdict(options.flow),
            "gateway": f"http://{running.host}:{running.port}",
            "port_offset": running.port_offset,
        },
        "machine": machine(),
    }


def _projector_summary(status: dict[str, Any] | None) -> dict[str, Any] | None:
    if not status:
        return None
    return {k: status.get(k) for k in ("pending_items", "messages", "flushes", "items_written")}

"""`tradestack chaos`: kill -9 every kind of process under load, pause the local AWS endpoint,
then check that nothing was lost or counted twice.

1. Start a private venue (`start_stack`, demo mode, the per-IP throttle off for loopback since
   every bot comes from 127.0.0.1) and N bots (services/campaigns/bots.py) that trade through
   the gateway and follow their private WebSocket.
2. After a warm-up, for each target in turn: SIGKILL its process group, leave it down
   `down_s`, `Stack.restart` it, wait for its `/readyz`, then send a probe order (a crossing
   IOC) and time how long the whole order path takes to settle it. For `aws`: SIGSTOP moto's
   server for `aws_pause_s` (killing it would lose its in-memory state), read every `/readyz`
   while it is stopped, SIGCONT, and time the recovery.
3. Stop the load, cancel every open order, read everything back and run the checks of
   `services/campaigns/ledger.py` and `venue.py`, plus `tradestack audit`.

Prints a timeline and a table of checks; exit status 0 only when every check holds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from services.campaigns.bots import Bot, LoadStats
from services.campaigns.ledger import (
    TERMINAL,
    Check,
    check_bot_balances,
    check_fill_table,
    check_no_unknown_orders,
    check_orders_terminal,
    check_ws_fills,
    check_ws_single_terminal,
)

WORKERS = ("accounts", "matching", "projector", "marketdata", "relay")
APIS = ("orders", "auth", "gateway")
DEFAULT_TARGETS = (*WORKERS, *APIS, "aws")
# Documented to stay ready while a dependency is down (docs/gateway.md, "Health").
ALWAYS_READY = frozenset({"gateway"})

console = Console(highlight=False)


@dataclass
class ChaosOptions:
    duration_s: float = 180.0
    bots: int = 4
    rate: float = 4.0
    targets: tuple[str, ...] = DEFAULT_TARGETS
    down_s: float = 1.0
    aws_pause_s: float = 6.0
    port_offset: int = 0
    prefix: str = "chaos"
    lease_s: float | None = None
    settle_s: float = 120.0
    ready_timeout_s: float = 90.0
    probe_timeout_s: float = 90.0
    seed: int = 1
    log_dir: Path | None = None
    report: Path | None = None


@dataclass
class TimelineEntry:
    at_s: float
    action: str
    target: str
    detail: str = ""


@dataclass
class Outcome:
    """What happened to one target."""

    target: str
    ready_s: float | None = None  # from restart (or SIGCONT) to /readyz 200
    probe_s: float | None = None  # from ready to a probe order's terminal state
    probe_status: str = ""
    paused_readiness: dict[str, int | str] = field(default_factory=dict)


class Campaign:
    def __init__(self, options: ChaosOptions, stack: Any) -> None:
        self.options = options
        self.stack = stack
        self.gateway = f"http://127.0.0.1:{8000 + options.port_offset}"
        self.stats = LoadStats()
        self.timeline: list[TimelineEntry] = []
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()
        self.started_ms = int(time.time() * 1000)
        self.killed: set[str] = set()

    def note(self, action: str, target: str, detail: str = "") -> None:
        entry = TimelineEntry(round(time.monotonic() - self.started, 1), action, target, detail)
        self.timeline.append(entry)
        console.print(f"[dim]{entry.at_s:7.1f}s[/dim] {action:<12} {target:<11} {detail}")

    def process(self, name: str) -> Any:
        return next(p for p in self.stack.processes if p.name == name)

    def url(self, name: str) -> str:
        from services.common.topology import LOCAL_AWS_PORT, service

        if name == "aws":
            return f"http://127.0.0.1:{LOCAL_AWS_PORT + self.options.port_offset}"
        return f"http://127.0.0.1:{service(name).port + self.options.port_offset}"

    async def readyz(self, client: httpx.AsyncClient, name: str) -> int | str:
        try:
            return (await client.get(self.url(name) + "/readyz", timeout=6)).status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__

    async def wait_ready(self, names: list[str]) -> float | None:
        began = time.monotonic()
        async with httpx.AsyncClient() as client:
            while time.monotonic() - began < self.options.ready_timeout_s:
                states = await asyncio.gather(*(self.readyz(client, n) for n in names))
                if all(s == 200 for s in states):
                    return time.monotonic() - began
                await asyncio.sleep(0.2)
        return None

    async def probe(self, bot: Bot) -> tuple[float | None, str]:
        """A crossing IOC through the whole order path; seconds until it is terminal."""
        began = time.monotonic()
        order_id = await bot.place(
            {
                "symbol": "BTC-USD",
                "side": "buy",
                "type": "limit",
                "tif": "IOC",
                "price": "60300.00",
                "qty": "0.0001",
            }
        )
        if order_id is None:
            return None, "not accepted"
        status = "pending"
        while time.monotonic() - began < self.options.probe_timeout_s:
            response = await bot.call("GET", f"/api/orders/{order_id}")
            if response is not None and response.status_code == 200:
                status = response.json()["order"]["status"]
                if status in TERMINAL:
                    return time.monotonic() - began, status
            await asyncio.sleep(0.25)
        return None, status

    # -- the events ------------------------------------------------------------------------------

    async def kill_and_restart(self, name: str, probe_bot: Bot) -> None:
        running = self.process(name)
        outcome = Outcome(name)
        os.killpg(running.process.pid, signal.SIGKILL)
        await asyncio.to_thread(running.process.wait)
        self.killed.add(name)
        self.note("kill -9", name, f"pid {running.process.pid}")
        await asyncio.sleep(self.options.down_s)
        restarted = await asyncio.to_thread(self.stack.restart, name)
        self.note("restart", name, f"pid {restarted.process.pid}")
        outcome.ready_s = await self.wait_ready([name])
        self.note(
            "ready" if outcome.ready_s is not None else "NOT READY", name, _seconds(outcome.ready_s)
        )
        outcome.probe_s, outcome.probe_status = await self.probe(probe_bot)
        self.note(
            "order path", name, f"probe {outcome.probe_status} after {_seconds(outcome.probe_s)}"
        )
        self.outcomes.append(outcome)

    async def pause_aws(self, probe_bot: Bot) -> None:
        outcome = Outcome("aws")
        moto = self.process("aws").process
        others = [p.name for p in self.stack.processes if p.name != "aws"]
        os.kill(moto.pid, signal.SIGSTOP)
        self.note("SIGSTOP", "aws", f"moto server pid {moto.pid}")
        try:
            # Readiness probes time out after 3 s; read them once they must have noticed.
            await asyncio.sleep(min(4.0, self.options.aws_pause_s - 1))
            async with httpx.AsyncClient() as client:
                states = await asyncio.gather(*(self.readyz(client, n) for n in others))
            outcome.paused_readiness = dict(zip(others, states, strict=True))
            shown = " ".join(f"{n}={s}" for n, s in outcome.paused_readiness.items())
            self.note("readyz", "all", shown)
            await asyncio.sleep(max(0.0, self.options.aws_pause_s - 4.0 - 1))
        finally:
            os.kill(moto.pid, signal.SIGCONT)
        self.note("SIGCONT", "aws", f"after {self.options.aws_pause_s:.0f}s")
        outcome.ready_s = await self.wait_ready(others)
        self.note(
            "ready" if outcome.ready_s is not None else "NOT READY",
            "all",
            _seconds(outcome.ready_s),
        )
        outcome.probe_s, outcome.probe_status = await self.probe(probe_bot)
        self.note(
            "order path", "aws", f"probe {outcome.probe_status} after {_seconds(outcome.probe_s)}"
        )
        self.outcomes.append(outcome)

    # -- the run ---------------------------------------------------------------------------------

    async def run(self) -> list[Check]:
        options = self.options
        bots = [
            Bot(
                f"bot{i}",
                self.gateway,
                rate=options.rate,
                seed=options.seed * 1000 + i,
                stats=self.stats,
            )
            for i in range(options.bots)
        ]
        probe_bot = Bot("probe", self.gateway, rate=1.0, seed=options.seed, stats=self.stats)
        everyone = [*bots, probe_bot]
        await asyncio.gather(*(b.setup() for b in everyone))
        self.note("load", "bots", f"{options.bots} bots x {options.rate:g} orders/s")
        stop = asyncio.Event()
        load_started = time.monotonic()
        tasks = [asyncio.create_task(b.trade(stop)) for b in bots]
        followers = [asyncio.create_task(b.follow()) for b in everyone]
        try:
            warmup = min(10.0, max(3.0, options.duration_s * 0.1))
            spacing = max(0.0, options.duration_s - warmup) / max(1, len(options.targets))
            for index, target in enumerate(options.targets):
                planned = load_started + warmup + index * spacing
                await asyncio.sleep(max(0.0, planned - time.monotonic()))
                if target == "aws":
                    await self.pause_aws(probe_bot)
                else:
                    await self.kill_and_restart(target, probe_bot)
            await asyncio.sleep(max(0.0, load_started + options.duration_s - time.monotonic()))
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.note(
            "load stop",
            "bots",
            f"{self.stats.accepted} orders accepted, {self.stats.cancels} cancels",
        )
        ended_ms = int(time.time() * 1000)
        deadline = time.monotonic() + options.settle_s
        await asyncio.gather(*(b.wind_down(deadline) for b in everyone))
        await self.wait_for_sockets(everyone)
        for bot in everyone:
            bot.stop_following()
        await asyncio.gather(*followers, return_exceptions=True)
        self.note("read back", "bots", "orders, fills, balances")
        ledgers = [b.ledger for b in everyone]
        checks = [
            self.check_no_server_errors(),
            check_orders_terminal(ledgers),
            check_no_unknown_orders(ledgers),
            check_ws_single_terminal(ledgers),
            check_fill_table(ledgers),
            check_ws_fills(ledgers, self.started_ms, ended_ms),
            check_bot_balances(ledgers),
        ]
        checks.extend(await asyncio.to_thread(self.venue_checks))
        checks.extend(self.recovery_checks())
        for bot in everyone:
            await bot.aclose()
        self.ledgers = ledgers
        return checks

    async def wait_for_sockets(
        self, bots: list[Bot], quiet_s: float = 3.0, limit_s: float = 20.0
    ) -> None:
        """Let late fills arrive: until no socket received anything for `quiet_s`."""
        began = time.monotonic()
        last = -1
        quiet_since = time.monotonic()
        while time.monotonic() - began < limit_s:
            count = sum(len(b.ledger.ws_fills) for b in bots)
            if count != last:
                last, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return
            await asyncio.sleep(0.2)

    def check_no_server_errors(self) -> Check:
        errors = self.stats.server_errors
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.stats.answers.items()))
        if errors:
            return Check("no 500 answer", False, f"{len(errors)}: {errors[0]}")
        return Check("no 500 answer", True, f"answers {answers}; {self.stats.retries} retries")

    def venue_checks(self) -> list[Check]:
        from services.campaigns.venue import audit, check_trades

        checks = []
        try:
            checks.append(check_trades(self.options.prefix))
        except Exception as exc:  # a check that cannot run fails; the report still prints
            checks.append(
                Check(
                    "executions = tape = fills (each trade once)", False, f"could not run: {exc!r}"
                )
            )
        try:
            report = audit(self.options.prefix, 30.0)
        except Exception as exc:
            checks.append(Check("tradestack audit", False, f"could not run: {exc!r}"))
            return checks
        failing = [f"{c.name}: {c.problems[0]}" for c in report.checks if not c.ok]
        detail = "; ".join(f"{c.name} ({c.checked})" for c in report.checks)
        checks.append(
            Check("tradestack audit", report.ok, "; ".join(failing[:3]) if failing else detail)
        )
        return checks

    def recovery_checks(self) -> list[Check]:
        checks = []
        not_ready = [o.target for o in self.outcomes if o.ready_s is None]
        slowest = max((o.ready_s or 0 for o in self.outcomes), default=0)
        checks.append(
            Check(
                "every restarted service ready again",
                not not_ready and bool(self.outcomes),
                f"not ready: {', '.join(not_ready)}" if not_ready else f"slowest {slowest:.1f}s",
            )
        )
        stuck = [f"{o.target} ({o.probe_status})" for o in self.outcomes if o.probe_s is None]
        timings = ", ".join(f"{o.target} {_seconds(o.probe_s)}" for o in self.outcomes)
        checks.append(
            Check(
                "order path works after every event",
                not stuck,
                f"stuck: {', '.join(stuck)}" if stuck else timings,
            )
        )
        for outcome in self.outcomes:
            if outcome.target != "aws":
                continue
            wrong = {
                n: s
                for n, s in outcome.paused_readiness.items()
                if (s == 200) != (n in ALWAYS_READY)
            }
            shown = ", ".join(f"{n} {s}" for n, s in outcome.paused_readiness.items())
            checks.append(
                Check(
                    "/readyz 503 while AWS is stopped",
                    not wrong,
                    f"wrong: {', '.join(f'{n} {s}' for n, s in wrong.items())}"
                    if wrong
                    else shown + " (gateway: always 200)",
                )
            )
        dead = [
            f"{p.name} ({p.process.returncode})"
            for p in self.stack.processes
            if p.process.poll() is not None
        ]
        checks.append(
            Check(
                "no process died on its own",
                not dead,
                ", ".join(dead) or f"{len(self.stack.processes)} running",
            )
        )
        return checks


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _print(checks: list[Check], campaign: Campaign) -> None:
    timeline = Table(title="Timeline")
    for column in ("t", "action", "target", "detail"):
        timeline.add_column(column, justify="right" if column == "t" else "left")
    for entry in campaign.timeline:
        timeline.add_row(f"{entry.at_s:.1f}s", entry.action, entry.target, entry.detail)
    console.print(timeline)
    table = Table(title="Chaos campaign checks")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details")
    for check in checks:
        table.add_row(
            check.name, "[green]PASS[/green]" if check.ok else "[red]FAIL[/red]", check.detail
        )
    console.print(table)


def run_chaos(options: ChaosOptions) -> int:
    """Start a private venue, run the campaign, print and return the exit status."""
    from services import stack as stack_module
    from services.stack import StackOptions, start_stack

    unknown = set(options.targets) - set(DEFAULT_TARGETS)
    if unknown:
        raise SystemExit(
            f"unknown target(s) {', '.join(sorted(unknown))}; choose from {', '.join(DEFAULT_TARGETS)}"
        )
    os.environ["TRADESTACK_GATEWAY_THROTTLE_EXEMPT_LOOPBACK"] = "true"
    os.environ.setdefault("TRADESTACK_GATEWAY_ACCESS_LOG", "false")
    if options.lease_s is not None:
        os.environ["TRADESTACK_ORDERS_LEASE_S"] = str(options.lease_s)
        os.environ["TRADESTACK_LEASE_SECONDS"] = str(options.lease_s)
        os.environ["TRADESTACK_ORDERS_SCAN_INTERVAL_S"] = str(max(0.5, options.lease_s / 3))
    if options.log_dir:
        options.log_dir.mkdir(parents=True, exist_ok=True)
    stack_module.console.quiet = True  # service logs go to --log-dir, not over the timeline
    console.print(f"[bold]chaos[/bold]: starting a venue on port offset {options.port_offset}")
    stack = start_stack(
        StackOptions(
            port_offset=options.port_offset,
            prefix=options.prefix,
            log_dir=options.log_dir,
            ready_timeout_s=120,
        )
    )
    try:
        _wait_for_liquidity(f"http://127.0.0.1:{8000 + options.port_offset}")
        campaign = Campaign(options, stack)
        checks = asyncio.run(campaign.run())
    finally:
        stack.stop()
    _print(checks, campaign)
    ok = all(c.ok for c in checks)
    if options.report:
        report = {
            "ok": ok,
            "options": {
                k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()
            },
            "checks": [asdict(c) for c in checks],
            "timeline": [asdict(e) for e in campaign.timeline],
            "outcomes": [asdict(o) for o in campaign.outcomes],
            "answers": dict(campaign.stats.answers),
        }
        options.report.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    console.print(
        "[bold green]chaos campaign passed[/bold green]"
        if ok
        else "[bold red]chaos campaign FAILED[/bold red]"
    )
    return 0 if ok else 1


def _wait_for_liquidity(gateway: str, timeout_s: float = 60.0) -> None:
    """The demo market maker's quotes are on both books (seeding goes through the engines)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            books = [
                httpx.get(f"{gateway}/api/markets/{s}/book", timeout=3).json()
                for s in ("BTC-USD", "ETH-USD")
            ]
            if all(b.get("bids") and b.get("asks") for b in books):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"the demo books were still empty after {timeout_s:.0f}s")

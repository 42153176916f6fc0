"""`tradestack bench engine`: seeded, in-process throughput and latency of the matching engine.

Two workloads, each generated before timing (a generation run drives a scratch engine so every
cancel and amend names an order that is really open at that point):

1. ``exchange-core mix`` (after exchange-core's benchmark): 9% GTC limit, 3% IOC limit, 6%
   cancel, 82% amend moving the price; ~1,000 resting orders over ~750 price levels.
2. ``deep book``: 100,000+ resting orders over ~5,000 levels; 45-55% GTC limit, 30-40% cancel
   (the split steers the book size), 14.5% amend, 0.5% market orders sweeping 1-4 levels.

Method, per workload: the book is pre-filled, then the commands run once through
``MatchingEngine.apply`` in chunks of 10,000. Three chunks in four are timed as a whole with
``perf_counter_ns`` (throughput: ops/s = their ops / their summed time; trades/s = ops/s times the
workload's trades per op) and with ``thread_time_ns`` (ops per CPU-second, which a busy machine
does not distort); every fourth chunk times each ``apply`` on its own for the latency
percentiles (each sample includes 50-100 ns of timer overhead).
Events are created as engine event objects; JSON encoding is not timed. The garbage collector
stays enabled; after pre-fill the long-lived book is moved out of its reach with
``gc.freeze()``, as a production engine process does after loading its snapshot.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.matching.engine import DEFAULT_MARKETS, MatchingEngine
from services.matching.engine.events import AMENDED, CANCELLED, FILLED, RESTED, TRADE, Event

SYMBOL = "BTC-USD"  # tick 0.01, lot 0.0001
MID = 3_000_000  # 30,000.00 in ticks
CHUNK = 10_000
SAMPLE_EVERY = 4
"""One chunk in this many is timed op by op for latency; the others in one piece."""
Command = dict[str, Any]


@dataclass
class WorkloadResult:
    """Measured figures of one workload."""

    name: str
    ops: int
    ops_per_sec: float
    trades_per_sec: float
    p50_us: float
    p99_us: float
    p999_us: float
    trades: int
    resting_orders: int
    price_levels: int
    cpu_ops_per_sec: float
    """Ops per second of this thread's CPU time: equals ops_per_sec on an idle machine, and
    stays meaningful when other processes take the core away (wall-clock figures drop)."""


def _price(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


def _qty(lots: int) -> str:
    return f"{lots // 10_000}.{lots % 10_000:04d}"


class _Rng(random.Random):
    """``random.Random`` with integer draws from ``random()``: several times faster than the
    stdlib's rejection sampling, and generation time is most of a bench run."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, stop: int) -> int:  # type: ignore[override]
        return int(self.random() * stop)


class _OpenOrders:
    """What the generator knows about the book: open orders from the scratch engine's events."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.info: dict[str, tuple[str, int, int, str]] = {}  # side, price, open lots, account

    def observe(self, events: list[Event]) -> int:
        trades = 0
        for event in events:
            kind = event[0]
            if kind == RESTED:
                self._add(event[5], (event[7], event[8], event[9], event[6]))
            elif kind == TRADE:
                trades += 1
                maker = event[5]
                if maker in self.info:
                    side, price, _, account = self.info[maker]
                    self.info[maker] = (side, price, event[14], account)
            elif kind in (FILLED, CANCELLED, AMENDED):
                self._remove(event[5])
        return trades

    def _add(self, order_id: str, info: tuple[str, int, int, str]) -> None:
        if order_id not in self.index:
            self.index[order_id] = len(self.ids)
            self.ids.append(order_id)
        self.info[order_id] = info

    def _remove(self, order_id: str) -> None:
        position = self.index.pop(order_id, None)
        if position is None:
            return
        last = self.ids.pop()
        if last != order_id:
            self.ids[position] = last
            self.index[last] = position
        del self.info[order_id]

    def pick(self, rng: _Rng) -> str:
        return self.ids[rng.randrange(len(self.ids))]


class _Generator:
    """Builds a workload's command list by running it through a scratch engine."""

    def __init__(self, seed: int) -> None:
        self.rng = _Rng(seed)
        self.engine = MatchingEngine(DEFAULT_MARKETS)
        self.book = _OpenOrders()
        self.next_id = 0
        self.trades = 0

    def emit(self, command: Command) -> Command:
        self.trades += self.book.observe(self.engine.apply(command))
        return command

    def new(self, side: str, price: int, lots: int, tif: str = "GTC") -> Command:
        self.next_id += 1
        return self.emit(
            {
                "op": "new",
                "id": f"b{self.next_id}",
                "account": f"acct{self.rng.randrange(1000)}",
                "symbol": SYMBOL,
                "side": side,
                "type": "limit",
                "price": _price(price),
                "qty": _qty(lots),
                "tif": tif,
            }
        )

    def cancel(self) -> Command:
        order_id = self.book.pick(self.rng)
        account = self.book.info[order_id][3]
        return self.emit({"op": "cancel", "id": order_id, "account": account, "symbol": SYMBOL})


def _exchange_core_mix(ops: int, seed: int) -> tuple[list[Command], list[Command], int]:
    """Workload 1: prefill, timed commands, trades in the timed commands."""
    gen = _Generator(seed)
    rng = gen.rng
    band = 800  # each side spreads over ~800 ticks from the mid
    target = 1000
    prefill = []
    for _ in range(target):
        side = "buy" if rng.random() < 0.5 else "sell"
        offset = rng.randint(1, band)
        price = MID - offset if side == "buy" else MID + offset
        prefill.append(gen.new(side, price, rng.randint(1, 100) * 10))
    gen.trades = 0
    commands: list[Command] = []
    append = commands.append
    book = gen.book
    for _ in range(ops):
        roll = rng.random()
        # The book is steered to ~1,000 orders the way exchange-core's generator does it: when
        # it is too full, new orders are aggressive and take liquidity.
        crowded = len(book.ids) > target
        if roll < 0.09 or not book.ids:
            side = "buy" if rng.random() < 0.5 else "sell"
            if crowded:
                offset, lots = -rng.randint(0, 20), rng.randint(1, 400) * 10
            else:
                offset, lots = rng.randint(1, band), rng.randint(1, 100) * 10
            price = MID - offset if side == "buy" else MID + offset
            append(gen.new(side, price, lots))
        elif roll < 0.12:
            side = "buy" if rng.random() < 0.5 else "sell"
            price = MID + rng.randint(0, 20) if side == "buy" else MID - rng.randint(0, 20)
            lots = rng.randint(1, 400 if crowded else 50) * 10
            append(gen.new(side, price, lots, tif="IOC"))
        elif roll < 0.18:
            append(gen.cancel())
        else:
            order_id = book.pick(rng)
            side, price, _, account = book.info[order_id]
            step = rng.randint(1, 15)
            # Mostly drift toward the spread (where exchange-core's movers go); bounce at the band.
            if rng.random() < 0.55:
                step = -step
            new_price = price + step if side == "buy" else price - step
            distance = MID - new_price if side == "buy" else new_price - MID
            if distance > band or distance < -30:
                new_price = (
                    MID - rng.randint(1, band) if side == "buy" else MID + rng.randint(1, band)
                )
            append(
                gen.emit(
                    {
                        "op": "amend",
                        "id": order_id,
                        "account": account,
                        "symbol": SYMBOL,
                        "price": _price(new_price),
                    }
                )
            )
    return prefill, commands, gen.trades


def _deep_book(ops: int, seed: int) -> tuple[list[Command], list[Command], int]:
    """Workload 2: prefill, timed commands, trades in the timed commands."""
    gen = _Generator(seed)
    rng = gen.rng
    band = 2500
    target = 100_000

    def passive(side: str) -> int:
        # Denser near the top, like real books: distance ~ exponential, capped at the band.
        offset = min(band, 1 + int(rng.expovariate(1 / 900)))
        return MID - offset if side == "buy" else MID + offset

    prefill = []
    for _ in range(target):
        side = "buy" if rng.random() < 0.5 else "sell"
        prefill.append(gen.new(side, passive(side), rng.randint(1, 50) * 10))
    gen.trades = 0
    commands: list[Command] = []
    append = commands.append
    book = gen.book
    for _ in range(ops):
        roll = rng.random()
        new_share = 0.55 if len(book.ids) < target else 0.45
        if roll < new_share:
            side = "buy" if rng.random() < 0.5 else "sell"
            append(gen.new(side, passive(side), rng.randint(1, 50) * 10))
        elif roll < 0.85:
            append(gen.cancel())
        elif roll < 0.995:
            order_id = book.pick(rng)
            side, _, lots, account = book.info[order_id]
            command: Command = {"op": "amend", "id": order_id, "account": account, "symbol": SYMBOL}
            if lots > 10 and rng.random() < 0.5:
                command["qty"] = _qty(lots - 10)  # keeps priority
            else:
                command["price"] = _price(passive(side))
            append(gen.emit(command))
        else:
            side = "buy" if rng.random() < 0.5 else "sell"
            levels = gen.engine.l2(SYMBOL, depth=rng.randint(1, 4))
            opposite = levels[1] if side == "buy" else levels[0]
            lots = sum(int(qty.replace(".", "")) for _, qty in opposite) or 10
            gen.next_id += 1
            append(
                gen.emit(
                    {
                        "op": "new",
                        "id": f"m{gen.next_id}",
                        "account": f"acct{rng.randrange(1000)}",
                        "symbol": SYMBOL,
                        "side": side,
                        "type": "market",
                        "qty": _qty(lots),
                    }
                )
            )
    return prefill, commands, gen.trades


WORKLOADS: dict[str, Callable[[int, int], tuple[list[Command], list[Command], int]]] = {
    "exchange-core mix": _exchange_core_mix,
    "deep book": _deep_book,
}


def _fresh_engine(prefill: list[Command]) -> MatchingEngine:
    engine = MatchingEngine(DEFAULT_MARKETS)
    apply = engine.apply
    for command in prefill:
        apply(command)
    gc.collect()
    gc.freeze()
    return engine


def _measure(
    engine: MatchingEngine, commands: list[Command], advance: Callable[[int], None]
) -> tuple[int, int, int, list[int]]:
    """Run every command once, in chunks of ``CHUNK``.

    Every ``SAMPLE_EVERY``-th chunk times each ``apply`` on its own (latency samples); the other
    chunks are timed as a whole (throughput). Returns (ops in batch-timed chunks, their wall
    nanoseconds, their CPU nanoseconds, sorted per-op wall nanoseconds).
    """
    apply = engine.apply
    clock = time.perf_counter_ns
    cpu_clock = time.thread_time_ns
    batch_ops = batch_ns = batch_cpu_ns = 0
    samples: list[int] = []
    record = samples.append
    for number, start in enumerate(range(0, len(commands), CHUNK)):
        chunk = commands[start : start + CHUNK]
        if number % SAMPLE_EVERY == SAMPLE_EVERY - 1 or len(commands) <= CHUNK:
            for command in chunk:
                began = clock()
                apply(command)
                record(clock() - began)
        else:
            cpu_began = cpu_clock()
            began = clock()
            for command in chunk:
                apply(command)
            batch_ns += clock() - began
            batch_cpu_ns += cpu_clock() - cpu_began
            batch_ops += len(chunk)
        advance(len(chunk))
    samples.sort()
    return batch_ops, batch_ns, batch_cpu_ns, samples


def _percentile(sorted_ns: list[int], fraction: float) -> float:
    if not sorted_ns:
        return 0.0
    index = min(len(sorted_ns) - 1, int(fraction * len(sorted_ns)))
    return sorted_ns[index] / 1000


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def run_workload(
    name: str, ops: int, seed: int, progress: Progress | None = None
) -> WorkloadResult:
    """Generate, pre-fill and measure one workload."""
    task = progress.add_task(f"{name}: generating", total=2 * ops) if progress else None

    def advance(count: int) -> None:
        if progress is not None and task is not None:
            progress.update(task, advance=count)
            progress.refresh()

    gc.disable()  # generation only allocates; collecting its millions of dicts is wasted time
    try:
        prefill, commands, trades = WORKLOADS[name](ops, seed)
    finally:
        gc.enable()
    advance(ops)
    if progress is not None and task is not None:
        progress.update(task, description=f"{name}: measuring")
    engine = _fresh_engine(prefill)
    batch_ops, batch_ns, batch_cpu_ns, samples = _measure(engine, commands, advance)
    gc.unfreeze()
    if not batch_ops:  # a run too short to leave any chunk untimed per op
        batch_ops, batch_ns = len(samples), sum(samples)
        batch_cpu_ns = batch_ns
    ops_per_sec = batch_ops / (batch_ns / 1e9)
    bids, asks = engine.book_depth(SYMBOL)
    return WorkloadResult(
        name=name,
        ops=ops,
        ops_per_sec=round(ops_per_sec),
        trades_per_sec=round(ops_per_sec * trades / ops),
        p50_us=round(_percentile(samples, 0.50), 2),
        p99_us=round(_percentile(samples, 0.99), 2),
        p999_us=round(_percentile(samples, 0.999), 2),
        trades=trades,
        resting_orders=len(engine._books[SYMBOL].orders),
        price_levels=bids + asks,
        cpu_ops_per_sec=round(batch_ops / (max(batch_cpu_ns, 1) / 1e9)),
    )


def run_engine_bench(ops: int, seed: int, json_out: bool) -> int:
    """Run every workload and print a table (or one JSON object with ``--json``)."""
    if ops <= 0:
        print("tradestack bench engine: --ops must be positive", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    results: list[WorkloadResult] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        transient=True,
    ) as progress:
        for name in WORKLOADS:
            results.append(run_workload(name, ops, seed, progress))
    python = f"{platform.python_implementation()} {platform.python_version()}"
    if json_out:
        report = {
            "ops_per_sec": results[0].ops_per_sec,
            "workloads": [asdict(result) for result in results],
            "python": python,
            "machine": _machine(),
            "load_average": _load(),
            "seed": seed,
        }
        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_APPEND_NEWLINE))
        sys.stdout.flush()
        return 0
    table = Table(title=f"Matching engine, {ops:,} ops per workload, seed {seed}")
    columns = ("workload", "ops/s", "ops/CPU-s", "trades/s", "p50 µs", "p99 µs", "p99.9 µs", "book")
    for column in columns:
        table.add_column(column, justify="left" if column == "workload" else "right")
    for result in results:
        table.add_row(
            result.name,
            f"{result.ops_per_sec:,.0f}",
            f"{result.cpu_ops_per_sec:,.0f}",
            f"{result.trades_per_sec:,.0f}",
            f"{result.p50_us:.2f}",
            f"{result.p99_us:.2f}",
            f"{result.p999_us:.2f}",
            f"{result.resting_orders:,}/{result.price_levels:,}",
        )
    # Piped output gets a fixed width instead of rich's 80-column default.
    out = Console() if sys.stdout.isatty() else Console(width=110)
    out.print(table)
    out.print(
        f"{python} on {_machine()}, load average {_load()}. Throughput: batch-timed "
        "apply(dict) chunks (ops/s by wall clock, ops/CPU-s by this thread's CPU time); latency: "
        "perf_counter_ns around each apply in every 4th chunk. Events built, JSON not timed. "
        "Book: resting orders/levels at the end."
    )
    return 0

"""`tradestack bench pipeline`: records/s through `matching` → engine → `executions` on moto.

Starts its own moto server and a real matching service process, so the figure includes Kinesis
reads, decoding, the engine, encoding, batched PutRecords and checkpoints — everything but the
network of a real AWS region. Method: N seeded commands are put on `matching` first (the producer
rate is reported too), then the worker is started and timed until every expected event is on
`executions` (its drain rate, i.e. what one worker sustains when it has a backlog).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

MARKET_COMMANDS: list[dict[str, Any]] = [
    {
        "op": "market",
        "symbol": "BTC-USD",
        "base": "BTC",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.0001",
        "min_notional": "1",
        "status": "trading",
    },
    {
        "op": "market",
        "symbol": "ETH-USD",
        "base": "ETH",
        "quote": "USD",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "1",
        "status": "trading",
    },
]
MIDS = {"BTC-USD": 50_000, "ETH-USD": 3_000}


def mixed_commands(n: int, seed: int) -> list[dict[str, Any]]:
    """Seeded commands of every kind around a mid price: limit GTC/IOC/FOK, market, cancels and
    amends of live orders, several accounts and STP modes. Starts with the market definitions."""
    rng = random.Random(seed)
    commands: list[dict[str, Any]] = [dict(m) for m in MARKET_COMMANDS]
    live: list[tuple[str, str, str]] = []
    symbols = list(MIDS)
    for i in range(n):
        symbol = rng.choice(symbols)
        roll = rng.random()
        ts = 1_700_000_000_000 + i
        if roll < 0.15 and live:
            order_id, account, sym = live.pop(rng.randrange(len(live)))
            commands.append(
                {"op": "cancel", "id": order_id, "account": account, "symbol": sym, "ts": ts}
            )
        elif roll < 0.25 and live:
            order_id, account, sym = rng.choice(live)
            commands.append(
                {
                    "op": "amend",
                    "id": order_id,
                    "account": account,
                    "symbol": sym,
                    "price": _price(rng, MIDS[sym]),
                    "ts": ts,
                }
            )
        else:
            account = f"acct-{rng.randint(1, 6)}"
            order_id = f"o{i}"
            side = rng.choice(["buy", "sell"])
            qty = "0.5" if symbol == "BTC-USD" else "1.5"
            if roll < 0.32:
                commands.append(
                    {
                        "op": "new",
                        "id": order_id,
                        "account": account,
                        "symbol": symbol,
                        "side": side,
                        "type": "market",
                        "qty": qty,
                        "stp": "cancel_taker",
                        "ts": ts,
                    }
                )
                continue
            tif = rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"])
            commands.append(
                {
                    "op": "new",
                    "id": order_id,
                    "account": account,
                    "symbol": symbol,
                    "side": side,
                    "type": "limit",
                    "price": _price(rng, MIDS[symbol]),
                    "qty": qty,
                    "tif": tif,
                    "stp": rng.choice(["none", "cancel_taker", "cancel_maker", "cancel_both"]),
                    "ts": ts,
                }
            )
            if tif == "GTC":
                live.append((order_id, account, symbol))
    return commands


def _price(rng: random.Random, mid: int) -> str:
    return f"{mid + rng.randint(-20, 20)}.{rng.randint(0, 99):02d}"


def expected_event_count(commands: list[dict[str, Any]]) -> int:
    from services.matching.engine import MatchingEngine

    engine = MatchingEngine(())
    return sum(len(engine.apply(c)) for c in commands)


def run_pipeline_bench(commands_n: int, seed: int, json_out: bool) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from services.common.local_aws import free_port, local_aws_environment, start_moto_server
    from services.common.resources import init_aws

    console = Console(stderr=True)
    port = free_port()
    moto = start_moto_server(port)
    os.environ.update(local_aws_environment(f"http://127.0.0.1:{port}"))
    prefix = "bench"
    worker: subprocess.Popen[bytes] | None = None
    try:
        init_aws(prefix)
        commands = mixed_commands(commands_n, seed)
        expected = expected_event_count(commands)
        put_s = asyncio.run(_put_commands(prefix, commands))

        worker_port = free_port()
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "services.matching.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(worker_port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ],
            env={
                **os.environ,
                "TRADESTACK_RESOURCE_PREFIX": prefix,
                "TRADESTACK_LOG_LEVEL": "WARNING",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
            console=console,
            disable=json_out,
        ) as progress:
            task = progress.add_task("events on executions", total=expected)
            first_s, last_s = _count_outputs(
                prefix, expected, lambda n: progress.update(task, completed=n)
            )
        drain_s = max(last_s - first_s, 1e-9)
        result = {
            "commands": len(commands),
            "events": expected,
            "producer_messages_per_sec": round(len(commands) / put_s),
            "worker_commands_per_sec": round(len(commands) / drain_s),
            "worker_events_per_sec": round(expected / drain_s),
            "drain_seconds": round(drain_s, 3),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=20)
        moto.kill()
        moto.wait()

    if json_out:
        print(json.dumps(result))
        return 0
    table = Table(title="matching pipeline on moto (Kinesis → engine → Kinesis)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("commands", f"{result['commands']:,}")
    table.add_row("events produced", f"{result['events']:,}")
    table.add_row("producer → matching stream", f"{result['producer_messages_per_sec']:,} msg/s")
    table.add_row("worker: commands in", f"{result['worker_commands_per_sec']:,} /s")
    table.add_row("worker: events out", f"{result['worker_events_per_sec']:,} /s")
    table.add_row("drain time", f"{result['drain_seconds']} s")
    console.print(table)
    return 0


async def _put_commands(prefix: str, commands: list[dict[str, Any]]) -> float:
    from services.common.aws import aio_session, client_config
    from services.common.resources import physical_name
    from services.common.streams import StreamProducer

    async with aio_session().client("kinesis", config=client_config()) as kinesis:
        producer = StreamProducer(kinesis, physical_name(prefix, "matching"))
        start = time.perf_counter()
        for command in commands:
            await producer.put(command["symbol"], command)
        await producer.close()
        return time.perf_counter() - start


def _count_outputs(prefix: str, expected: int, report: Any) -> tuple[float, float]:
    """Follow `executions` until `expected` distinct events arrived; (first, last) arrival times."""
    import boto3

    from services.common.aws import client_config
    from services.common.resources import physical_name
    from services.common.serialization import decode_record

    kinesis = boto3.client("kinesis", config=client_config())
    name = physical_name(prefix, "executions")
    iterators: dict[str, str | None] = {}
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterators[shard["ShardId"]] = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    seen: set[str] = set()
    first = last = 0.0
    deadline = time.monotonic() + 600
    per_shard_empty: dict[str, int] = defaultdict(int)
    while len(seen) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(seen)} of {expected} events after 600 s")
        for shard_id, iterator in iterators.items():
            if iterator is None:
                continue
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            iterators[shard_id] = response.get("NextShardIterator")
            if not response["Records"]:
                per_shard_empty[shard_id] += 1
                continue
            now = time.perf_counter()
            if not first:
                first = now
            for record in response["Records"]:
                for message in decode_record(record["Data"]):
                    seen.add(message["id"])
            last = now
            report(len(seen))
        if not any(per_shard_empty.values()):
            continue
        time.sleep(0.02)
        per_shard_empty.clear()
    return first, last

"""The `tradestack` command: run the venue, replay and benchmark the engine, operate the stack.

Each subcommand imports its implementation lazily so `tradestack --help` stays instant and
commands that need no AWS never import boto3.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="tradestack",
    help="Tradestack, an open-source trading venue. Start with `tradestack up`.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
bench_app = typer.Typer(help="Measure throughput and latency; prints measured figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@app.command()
def replay(
    markets: Annotated[
        Path | None,
        typer.Option(help="JSON file of markets (see README); default: BTC-USD and ETH-USD."),
    ] = None,
) -> None:
    """Run the matching engine alone: JSON-lines commands on stdin, events on stdout.

    Example: [bold]tradestack replay < commands.jsonl > events.jsonl[/bold]
    """
    from services.matching.replay import run_replay

    raise typer.Exit(run_replay(markets, sys.stdin.buffer, sys.stdout.buffer))


@bench_app.command("engine")
def bench_engine(
    ops: Annotated[int, typer.Option(help="Operations per workload.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same commands.")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Benchmark the matching engine in-process (no I/O) on seeded workloads."""
    from services.matching.bench import run_engine_bench

    raise typer.Exit(run_engine_bench(ops=ops, seed=seed, json_out=json_out))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

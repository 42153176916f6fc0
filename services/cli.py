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
bench_app = typer.Typer(
    help="Measure throughput and latency; prints measured figures.", no_args_is_help=True
)
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
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same commands.")
    ] = 1,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
) -> None:
    """Benchmark the matching engine in-process (no I/O) on seeded workloads."""
    from services.matching.bench import run_engine_bench

    raise typer.Exit(run_engine_bench(ops=ops, seed=seed, json_out=json_out))


@bench_app.command("pipeline")
def bench_pipeline(
    commands: Annotated[int, typer.Option(help="Commands to push through the worker.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the command mix.")] = 1,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Records/s through Kinesis `matching` → engine → `executions` on a private moto server."""
    from services.matching.pipeline_bench import run_pipeline_bench

    raise typer.Exit(run_pipeline_bench(commands_n=commands, seed=seed, json_out=json_out))


@bench_app.command("marketdata")
def bench_marketdata(
    clients: Annotated[
        int, typer.Option(help="WebSocket clients subscribed to the busy book.")
    ] = 1000,
    duration: Annotated[float, typer.Option(help="Seconds of order flow to measure.")] = 10.0,
    rate: Annotated[int, typer.Option(help="Engine commands per second (~2-3 events each).")] = 200,
    client_processes: Annotated[
        int, typer.Option(help="Processes the clients run in (0: one per CPU).")
    ] = 0,
    publish_interval_ms: Annotated[
        int, typer.Option(help="The service's diff coalescing tick.")
    ] = 50,
    seed: Annotated[int, typer.Option(help="Random seed of the order flow.")] = 1,
    external_aws: Annotated[
        bool, typer.Option(help="Use the endpoint in AWS_ENDPOINT_URL instead of a private moto.")
    ] = False,
    deflate: Annotated[
        bool, typer.Option(help="Clients negotiate permessage-deflate, as browsers do.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Fan-out of a busy book to N WebSocket clients, end to end: delivered messages/s and
    publish-to-receive latency p50/p99 (executions → market data → socket)."""
    from services.marketdata.bench import BenchOptions, run_marketdata_bench

    options = BenchOptions(
        clients=clients,
        duration_s=duration,
        rate=rate,
        client_processes=client_processes,
        publish_interval_ms=publish_interval_ms,
        seed=seed,
        external_aws=external_aws,
        deflate=deflate,
    )
    raise typer.Exit(run_marketdata_bench(options, json_out=json_out))


@bench_app.command("e2e")
def bench_e2e(
    duration: Annotated[
        float, typer.Option(help="Seconds of measured load (after the warm-up).")
    ] = 60.0,
    traders: Annotated[
        int, typer.Option(help="Signed-in bots, each with its own account and WebSocket.")
    ] = 40,
    rate: Annotated[
        float, typer.Option(help="New orders per second offered, all bots together.")
    ] = 1100.0,
    connections: Annotated[int, typer.Option(help="Keep-alive HTTP connections per bot.")] = 4,
    warmup: Annotated[
        float, typer.Option(help="Seconds of load before the measurement starts.")
    ] = 5.0,
    symbols: Annotated[
        str, typer.Option(help="Comma-separated markets the bots trade.")
    ] = "BTC-USD,ETH-USD",
    seed: Annotated[int, typer.Option(help="Random seed of the order flow.")] = 1,
    url: Annotated[
        str | None, typer.Option(help="Gateway of a running stack (default: start one).")
    ] = None,
    port_offset: Annotated[
        int | None, typer.Option(help="Port offset of the stack (to find its processes).")
    ] = None,
    prefix: Annotated[
        str | None, typer.Option(help="Resource prefix of the stack (for --hops with --url).")
    ] = None,
    hops: Annotated[
        bool, typer.Option(help="Also read the streams back for per-hop latency.")
    ] = False,
    rates: Annotated[
        str | None,
        typer.Option(
            help="Sweep: comma-separated new orders/s, one window each on the same stack "
            "(e.g. 50,100,200,400,1100); prints a table per rate and draws --chart."
        ),
    ] = None,
    chart: Annotated[Path, typer.Option(help="Where a --rates sweep writes its PNG chart.")] = Path(
        "bench-e2e.png"
    ),
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
) -> None:
    """The whole venue under load through the gateway: accepted orders/s, trades/s, submit→202 and
    submit→fill latency, projection lag, CPU per process, AWS calls per order. See
    docs/performance.md.

    Examples:

      tradestack bench e2e                              # 60 s at 1,100 new orders/s offered

      tradestack bench e2e --duration 20 --json         # one JSON object on stdout

      tradestack bench e2e --rates 50,100,200,400,1100 --duration 20   # sweep + bench-e2e.png
    """
    from services.loadtest.bench import E2eOptions, run_e2e_bench

    options = E2eOptions(
        duration_s=duration,
        warmup_s=warmup,
        traders=traders,
        rate=rate,
        connections_per_trader=connections,
        symbols=tuple(s.strip() for s in symbols.split(",") if s.strip()),
        seed=seed,
        url=url,
        port_offset=port_offset,
        prefix=prefix,
        hops=hops,
    )
    try:
        sweep = tuple(float(r) for r in rates.split(",") if r.strip()) if rates else ()
    except ValueError:
        raise typer.BadParameter(
            "--rates takes numbers separated by commas, e.g. 100,200,400"
        ) from None
    if any(r <= 0 for r in sweep):
        raise typer.BadParameter("--rates must all be positive")
    raise typer.Exit(
        run_e2e_bench(options, json_out=json_out, rates=sweep, chart=chart if sweep else None)
    )


@app.command()
def up(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Start just these services (repeatable), e.g. --only matching."
        ),
    ] = None,
    port_offset: Annotated[
        int, typer.Option(help="Add this to every port, to run a second stack beside the first.")
    ] = 0,
    prefix: Annotated[
        str, typer.Option(help="Name prefix of streams, tables and buckets.")
    ] = "tradestack",
    demo: Annotated[bool, typer.Option(help="Demo markets, faucet and seeded liquidity.")] = True,
    external_aws: Annotated[
        bool, typer.Option(help="Use the endpoint in AWS_ENDPOINT_URL instead of starting moto.")
    ] = False,
    log_dir: Annotated[
        Path | None, typer.Option(help="Also write each process's log here.")
    ] = None,
    demo_traders: Annotated[
        bool,
        typer.Option(help="Two demo users keep trading, so tapes and candles move (make run)."),
    ] = False,
) -> None:
    """Start the whole venue locally: local AWS (moto), resources, every service. Ctrl-C stops it.

    Open the printed gateway URL (http://127.0.0.1:8000) once it says [green]running[/green].
    """
    from services.stack import StackOptions, run_up

    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    options = StackOptions(
        only=tuple(only or ()),
        port_offset=port_offset,
        prefix=prefix,
        demo=demo,
        external_aws=external_aws,
        log_dir=log_dir,
        demo_traders=demo_traders,
    )
    raise typer.Exit(run_up(options))


@app.command()
def audit(
    prefix: Annotated[
        str, typer.Option(help="Name prefix of streams, tables and buckets.")
    ] = "tradestack",
    settle: Annotated[
        float,
        typer.Option(help="Retry for up to this many seconds while the projection catches up."),
    ] = 0.0,
) -> None:
    """Check the books: conservation per asset, no negative balance, fills add up, ledger replays.

    Exits non-zero on any violation. Reads the tables at the endpoint in AWS_ENDPOINT_URL.
    """
    from services.orders.audit import audit_until_ok, print_report

    report = audit_until_ok(prefix, settle)
    print_report(report)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="A service of the topology, e.g. orders.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
    port: Annotated[
        int | None, typer.Option(help="Default: TRADESTACK_PORT, else the topology's.")
    ] = None,
) -> None:
    """Run one service in the foreground (what containers run), e.g. [bold]tradestack serve orders[/bold]."""
    from services.serve import serve as serve_service

    serve_service(service, host=host, port=port)


@app.command("init-aws")
def init_aws_command(
    prefix: Annotated[
        str, typer.Option(help="Name prefix of streams, tables and buckets.")
    ] = "tradestack",
    shards: Annotated[int | None, typer.Option(help="Shards per stream (default: 1 each).")] = None,
) -> None:
    """Create every stream, table and bucket at the endpoint in AWS_ENDPOINT_URL (idempotent).

    Used by `tradestack up` and the LocalStack init hook. In AWS, Terraform owns these instead.
    """
    from rich.console import Console

    from services.common.resources import init_aws

    report = init_aws(prefix, shards=shards)
    console = Console()
    for name in report.created:
        console.print(f"[green]created[/green]  {name}")
    for name in report.existing:
        console.print(f"[dim]exists[/dim]   {name}")


admin_app = typer.Typer(
    help="Users, roles and signing keys (writes the auth tables).", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")


@admin_app.command("create-user")
def admin_create_user(
    email: Annotated[str, typer.Option(help="E-mail address of the new user.")],
    role: Annotated[
        list[str] | None, typer.Option(help="trader or admin; repeat for several.")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="TRADESTACK_ADMIN_PASSWORD",
        ),
    ] = "",
) -> None:
    """Create a user, e.g. [bold]tradestack admin create-user --email ops@example.com --role admin[/bold]"""
    from services.auth.admin import create_user

    raise typer.Exit(create_user(email, role or ["trader"], password))


@admin_app.command("grant-role")
def admin_grant_role(
    email: Annotated[str, typer.Option(help="E-mail address of an existing user.")],
    role: Annotated[str, typer.Option(help="trader or admin.")],
) -> None:
    """Add a role to a user (effective at the user's next sign-in or token refresh)."""
    from services.auth.admin import grant_role

    raise typer.Exit(grant_role(email, role))


@admin_app.command("rotate-signing-key")
def admin_rotate_signing_key() -> None:
    """Make a new token-signing key; the old one stays in the JWKS until its tokens expire."""
    from services.auth.admin import rotate_signing_key

    raise typer.Exit(rotate_signing_key())


@app.command()
def chaos(
    duration: Annotated[
        float, typer.Option(help="Seconds of load; the kills are spread over it.")
    ] = 180.0,
    bots: Annotated[
        int, typer.Option(help="Trading bots (each its own account and WebSocket).")
    ] = 4,
    rate: Annotated[float, typer.Option(help="Orders per second per bot.")] = 4.0,
    target: Annotated[
        list[str] | None,
        typer.Option(
            help="Kill only these, in this order (repeatable): a service name, or aws (pause)."
        ),
    ] = None,
    aws_pause: Annotated[
        float, typer.Option(help="Seconds the local AWS endpoint stays SIGSTOPped.")
    ] = 6.0,
    lease_s: Annotated[
        float | None,
        typer.Option(help="Shard lease duration of the workers (default: theirs, 10 s)."),
    ] = None,
    settle: Annotated[
        float, typer.Option(help="Most seconds to wait for every order to end.")
    ] = 120.0,
    port_offset: Annotated[
        int, typer.Option(help="Port offset of the private venue it starts.")
    ] = 0,
    prefix: Annotated[
        str, typer.Option(help="Name prefix of its streams, tables and buckets.")
    ] = "chaos",
    seed: Annotated[int, typer.Option(help="Random seed of the bots.")] = 1,
    log_dir: Annotated[Path | None, typer.Option(help="Write each process's log here.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the results as JSON here.")
    ] = None,
) -> None:
    """Crash campaign: start a venue, trade on it, kill -9 each process in turn and pause the
    local AWS endpoint, then check nothing was lost or duplicated. Exit 0 only if every check holds."""
    from services.campaigns.chaos import DEFAULT_TARGETS, ChaosOptions, run_chaos

    options = ChaosOptions(
        duration_s=duration,
        bots=bots,
        rate=rate,
        targets=tuple(target or DEFAULT_TARGETS),
        aws_pause_s=aws_pause,
        lease_s=lease_s,
        settle_s=settle,
        port_offset=port_offset,
        prefix=prefix,
        seed=seed,
        log_dir=log_dir,
        report=report,
    )
    raise typer.Exit(run_chaos(options))


campaign_app = typer.Typer(
    help="Reliability campaigns (docs/reliability.md).", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")


@campaign_app.command("bad-input")
def campaign_bad_input(
    url: Annotated[
        str | None, typer.Option(help="Gateway of a running venue (default: start a private one).")
    ] = None,
    max_examples: Annotated[
        int, typer.Option(help="Generated cases per operation and phase.")
    ] = 100,
    port_offset: Annotated[int, typer.Option(help="Port offset of the private venue.")] = 0,
    seed: Annotated[int | None, typer.Option(help="Hypothesis seed (default: random).")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the results as JSON here.")
    ] = None,
) -> None:
    """Bad input campaign: schemathesis against the merged OpenAPI document through the gateway,
    anonymous and signed in. Exit 0 only if no 5xx and no answer contradicts the document."""
    from services.campaigns.bad_input import BadInputOptions, run_bad_input

    options = BadInputOptions(
        url=url, max_examples=max_examples, port_offset=port_offset, seed=seed, report=report
    )
    raise typer.Exit(run_bad_input(options))


@app.command("seed-demo")
def seed_demo_command(
    prefix: Annotated[
        str, typer.Option(help="Name prefix of streams, tables and buckets.")
    ] = "tradestack",
) -> None:
    """Create the demo markets and send the market maker's quotes (idempotent; needs init-aws)."""
    from services.stack import seed_demo

    seed_demo(prefix)


@app.command()
def version() -> None:
    """The installed versions of the key dependencies (moto, boto3, FastAPI, ...) beside the
    versions requirements/dev.lock names; put this in a bug report."""
    from services.versions import print_versions

    raise typer.Exit(print_versions())


def main() -> None:
    app()


if __name__ == "__main__":
    main()

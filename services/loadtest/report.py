"""How `tradestack bench e2e` prints its result: rich tables, or one JSON object."""

from __future__ import annotations

import sys
from typing import Any

import orjson

TARGETS = {"orders_per_sec": 1000, "p99_fill_ms": 250, "projection_catchup_s": 10}
"""Issue 9's targets on the 2-core machine (shown beside the figures, never enforced)."""


def print_json(result: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def print_table(result: dict[str, Any], console: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    counts = result["counts"]
    headline = Table(title="tradestack bench e2e", title_style="bold")
    headline.add_column("figure")
    headline.add_column("measured", justify="right")
    headline.add_column("target", justify="right")

    def target(key: str, ok: bool | None, text: str) -> str:
        if ok is None:
            return f"[red]{text}[/red]"
        return f"[green]{text}[/green]" if ok else f"[red]{text}[/red]"

    orders = result["orders_per_sec"]
    p99_fill = result["p99_fill_ms"]
    catchup = result["projection_catchup_s"]
    headline.add_row(
        "accepted orders/s",
        f"{orders:,.0f}",
        target("orders_per_sec", orders >= TARGETS["orders_per_sec"], "≥ 1,000"),
    )
    headline.add_row("trades/s (public tape)", f"{result['trades_per_sec']:,.0f}", "")
    headline.add_row("requests/s (new + cancel + amend)", f"{result['requests_per_sec']:,.0f}", "")
    headline.add_row(
        "submit → fill p99",
        _ms(p99_fill),
        target("p99_fill_ms", None if p99_fill is None else p99_fill < 250, "< 250 ms"),
    )
    headline.add_row(
        "projection caught up after the load",
        "timed out" if catchup is None else f"{catchup:.2f} s",
        target("projection_catchup_s", None if catchup is None else catchup <= 10, "≤ 10 s"),
    )
    lag = result["projection_lag"]
    headline.add_row(
        "projection lag under load (p50 / max)",
        f"{_ms(lag['p50_ms'])} / {_ms(lag['max_ms'])}",
        "",
    )
    out.print(headline)

    latency = Table(title="latency (measurement window)")
    for column in ("what", "count", "p50", "p90", "p99", "max"):
        latency.add_column(column, justify="left" if column == "what" else "right")
    labels = {
        "new": "POST /api/orders → 202",
        "cancel": "DELETE /api/orders/{id} → 202",
        "amend": "PATCH /api/orders/{id} → 202",
        "fill": "submit → taker fill on `fills`",
    }
    for key, label in labels.items():
        row = result["latency_ms"][key]
        latency.add_row(
            label,
            f"{row['count']:,}",
            _ms(row["p50_ms"]),
            _ms(row["p90_ms"]),
            _ms(row["p99_ms"]),
            _ms(row["max_ms"]),
        )
    out.print(latency)

    if result.get("hops"):
        hops = Table(title="where the time goes (per hop, from stream arrival timestamps)")
        for column in ("hop", "count", "p50", "p99", "max"):
            hops.add_column(column, justify="left" if column == "hop" else "right")
        for name, row in result["hops"].items():
            hops.add_row(
                name,
                f"{row['count']:,}",
                _ms(row["p50_ms"]),
                _ms(row["p99_ms"]),
                _ms(row["max_ms"]),
            )
        out.print(hops)

    cpu = Table(title="CPU per process over the window (1.00 = one core)")
    cpu.add_column("process")
    cpu.add_column("cores", justify="right")
    cpu.add_column("ms per order", justify="right")
    for name, share in sorted(result["cpu_cores"].items(), key=lambda kv: -kv[1]):
        cpu.add_row(name, f"{share:.2f}", f"{result['cpu_ms_per_order'][name]:.2f}")
    cpu.add_row("[bold]total[/bold]", f"[bold]{result['cpu_cores_total']:.2f}[/bold]", "")
    out.print(cpu)

    if result.get("aws_calls_per_order"):
        calls = Table(title="Calls to the local AWS endpoint per accepted order")
        calls.add_column("action")
        calls.add_column("calls per order", justify="right")
        for action, per_order in result["aws_calls_per_order"].items():
            calls.add_row(action, f"{per_order:.3f}")
        out.print(calls)

    machine = result["machine"]
    out.print(
        f"window {counts['window_s']} s, {result['config']['traders']} traders, offered "
        f"{result['config']['rate']:,.0f} new orders/s; requests {counts['requests']}, refused "
        f"{counts['refused'] or 'none'}; crossing orders {counts['crossing_orders']:,} "
        f"({counts['crossing_without_fill']:,} without a fill); slots missed "
        f"{counts['slots_missed']:,}"
    )
    out.print(
        f"machine: {machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"load average {machine['load_average_1m']}"
    )
    if result["projection_unresolved"]:
        out.print(f"[red]projection never agreed for: {result['projection_unresolved']}[/red]")
    if result["errors"]:
        out.print(f"[yellow]errors ({len(result['errors'])}): {result['errors'][:5]}[/yellow]")


def print_sweep(results: list[dict[str, Any]]) -> None:
    """One row per rate of a `--rates` sweep."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tradestack bench e2e: sweep", title_style="bold")
    for column in (
        "offered/s",
        "accepted/s",
        "trades/s",
        "202 p50 / p99",
        "fill p50 / p99",
        "catch-up",
        "CPU cores",
        "ms CPU/order",
    ):
        table.add_column(column, justify="right")
    for r in results:
        catchup = r["projection_catchup_s"]
        cpu_per_order = sum(r["cpu_ms_per_order"].values())
        table.add_row(
            f"{r['config']['rate']:,.0f}",
            f"{r['orders_per_sec']:,.0f}",
            f"{r['trades_per_sec']:,.0f}",
            f"{_ms(r['p50_ack_ms'])} / {_ms(r['p99_ack_ms'])}",
            f"{_ms(r['p50_fill_ms'])} / {_ms(r['p99_fill_ms'])}",
            "timed out" if catchup is None else f"{catchup:.1f} s",
            f"{r['cpu_cores_total']:.2f}",
            f"{cpu_per_order:.1f}",
        )
    Console(highlight=False).print(table)

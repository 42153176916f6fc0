"""The picture of a `tradestack bench e2e --rates ...` sweep: throughput and latency against load.

Left: accepted orders/s against the rate offered (the diagonal is "keeps up"). Right: submit→202
and submit→fill latency (p50 and p99, log scale) against accepted orders/s, with issue 9's
targets (250 ms p99 fill, 1,000 orders/s) drawn in. Needs matplotlib (`pip install
'tradestack[charts]'`; the dev install has it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.loadtest.report import TARGETS


def write_sweep_chart(results: list[dict[str, Any]], path: Path, *, title: str) -> Path:
    """Draw the sweep into a PNG at `path` (returned)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offered = [r["config"]["rate"] for r in results]
    accepted = [r["orders_per_sec"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)

    top = max([*offered, *accepted, TARGETS["orders_per_sec"]]) * 1.05
    left.plot(
        [0, top], [0, top], color="#bbbbbb", linestyle="--", linewidth=1, label="accepted = offered"
    )
    left.plot(offered, accepted, marker="o", color="#1f6feb", label="accepted orders/s")
    left.plot(
        offered,
        [r["trades_per_sec"] for r in results],
        marker="s",
        color="#2da44e",
        label="trades/s",
    )
    left.axhline(
        TARGETS["orders_per_sec"], color="#cf222e", linewidth=1, label="target: 1,000 orders/s"
    )
    left.set_xlabel("new orders/s offered")
    left.set_ylabel("per second")
    left.set_xlim(0, top)
    left.set_ylim(0, top)
    left.set_title("Throughput")
    left.legend(loc="upper left", fontsize=8)
    left.grid(alpha=0.3)

    series = [
        ("p99_fill_ms", "submit → fill p99", "#cf222e", "-"),
        ("p50_fill_ms", "submit → fill p50", "#cf222e", ":"),
        ("p99_ack_ms", "submit → 202 p99", "#1f6feb", "-"),
        ("p50_ack_ms", "submit → 202 p50", "#1f6feb", ":"),
    ]
    for key, label, color, style in series:
        points = [(r["orders_per_sec"], r[key]) for r in results if r.get(key)]
        if points:
            xs, ys = zip(*points, strict=True)
            right.plot(xs, ys, marker="o", color=color, linestyle=style, label=label)
    right.axhline(
        TARGETS["p99_fill_ms"],
        color="#999999",
        linewidth=1,
        linestyle="--",
        label="target: p99 fill 250 ms",
    )
    right.set_yscale("log")
    right.set_xlabel("accepted orders/s")
    right.set_ylabel("ms (log scale)")
    right.set_title("Latency")
    right.legend(loc="upper left", fontsize=8)
    right.grid(alpha=0.3, which="both")

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path

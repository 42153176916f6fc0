"""Smoke test of `tradestack bench e2e`: a 5-second run against a stack it starts itself, checked
for the shape and sanity of its JSON (never for the performance target: that is what the
benchmark measures, on whatever machine runs it; docs/performance.md has the figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FIELDS = (
    "orders_per_sec",
    "trades_per_sec",
    "p50_fill_ms",
    "p99_fill_ms",
    "projection_catchup_s",
    "p50_ack_ms",
    "p99_ack_ms",
    "cpu_cores",
    "machine",
)


def test_bench_e2e_prints_sane_figures(tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADESTACK_"))}
    command = [
        str(Path(sys.executable).with_name("tradestack")),
        "bench", "e2e",
        "--duration", "5",
        "--warmup", "1",
        "--traders", "4",
        "--rate", "40",
        "--json",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    report = json.loads(result.stdout)
    for field in FIELDS:
        assert field in report, field

    counts = report["counts"]
    assert counts["orders_accepted"] > 0
    assert 0 < report["orders_per_sec"] <= 200  # offered 40/s; a bad window would show here
    assert report["trades_per_sec"] > 0  # some of the bots' orders cross
    assert counts["refused"].get("new 500", 0) == 0 and not report["errors"]
    # Latencies are positive and ordered; the fill comes after the 202 for most orders.
    assert 0 < report["p50_ack_ms"] <= report["p99_ack_ms"] < 30_000
    assert report["p50_fill_ms"] is not None and report["fills_measured"] > 0
    assert 0 < report["p50_fill_ms"] <= report["p99_fill_ms"] <= report["max_fill_ms"] < 30_000
    # The projection caught up with the engine for the last orders of every bot.
    assert report["projection_catchup_s"] is not None, report["projection_unresolved"]
    assert 0 <= report["projection_catchup_s"] < 60
    assert report["projection_checked_orders"] > 0
    # CPU was measured for every service and for the load generator itself.
    for name in ("gateway", "orders", "accounts", "matching", "projector", "load generator"):
        assert name in report["cpu_cores"], name
        assert 0 <= report["cpu_cores"][name] < 4
    assert report["machine"]["cpus"] >= 1 and report["machine"]["python"]
    # The local endpoint counted its calls: every order went through PutRecords at least once.
    calls = report["aws_calls_per_order"]
    assert calls is not None and calls.get("kinesis:PutRecords", 0) > 0, calls
    assert calls.get("kinesis:GetRecords", 0) > 0

    # A sweep's table and chart draw from results of this shape.
    from services.loadtest.chart import write_sweep_chart
    from services.loadtest.report import print_sweep

    slower = {**report, "config": {**report["config"], "rate": report["config"]["rate"] * 2}}
    print_sweep([report, slower])
    chart = write_sweep_chart(
        [report, slower], tmp_path_factory.mktemp("chart") / "sweep.png", title="t"
    )
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000

"""`tradestack bench engine` on a tiny run: the figures exist and the report has its shape."""

from __future__ import annotations

import orjson
import pytest

from services.matching import bench


def test_workload_generation_is_seeded() -> None:
    first = bench.WORKLOADS["exchange-core mix"](2000, 5)
    again = bench.WORKLOADS["exchange-core mix"](2000, 5)
    assert first == again
    prefill, commands, trades = first
    assert len(prefill) == 1000 and len(commands) == 2000 and trades > 0
    amends = sum(1 for c in commands if c["op"] == "amend")
    assert 0.75 < amends / len(commands) < 0.9


def test_run_workload_reports_throughput_and_latency() -> None:
    result = bench.run_workload("exchange-core mix", 3000, seed=1)
    assert result.ops == 3000
    assert result.ops_per_sec > 0 and result.trades > 0
    assert 0 < result.p50_us <= result.p99_us <= result.p999_us
    assert 500 < result.resting_orders < 1500


def test_json_report_has_the_documented_shape(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    # The deep book pre-fills 100,000 orders; one workload is enough to check the report.
    monkeypatch.setattr(bench, "WORKLOADS", {"exchange-core mix": bench._exchange_core_mix})
    assert bench.run_engine_bench(ops=2000, seed=1, json_out=True) == 0
    report = orjson.loads(capsysbinary.readouterr().out)
    assert report["ops_per_sec"] == report["workloads"][0]["ops_per_sec"]
    assert {"name", "ops", "ops_per_sec", "trades_per_sec", "p50_us", "p99_us", "p999_us"} <= set(
        report["workloads"][0]
    )
    assert report["python"] and report["machine"]

"""The crash campaign's short form: `tradestack chaos` with ~20 s of load, every kill and the
AWS pause (the full run is `tradestack chaos`, docs/reliability.md). Shard leases of 3 s instead
of 10 s, so each worker's successor takes over quickly; everything else is the real venue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaigns.conftest import ARTIFACTS, REPO, clean_env, free_offset

pytestmark = pytest.mark.e2e


def test_chaos_campaign_short_form() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS / "chaos.json"
    command = [
        str(Path(sys.executable).with_name("tradestack")),
        "chaos",
        "--duration", "20",
        "--bots", "2",
        "--rate", "3",
        "--aws-pause", "6",
        "--lease-s", "3",
        "--settle", "90",
        "--port-offset", str(free_offset()),
        "--log-dir", str(ARTIFACTS / "chaos-logs"),
        "--report", str(report),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=REPO,
        env=clean_env(COLUMNS="160"),
        capture_output=True,
        text=True,
        timeout=270,
        check=False,
    )
    (ARTIFACTS / "chaos.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    checks = json.loads(report.read_text())["checks"]
    assert len(checks) >= 12 and all(c["ok"] for c in checks)
    targets = [o["target"] for o in json.loads(report.read_text())["outcomes"]]
    assert targets == [
        "accounts",
        "matching",
        "projector",
        "marketdata",
        "relay",
        "orders",
        "auth",
        "gateway",
        "aws",
    ]

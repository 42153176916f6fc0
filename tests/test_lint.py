"""The tree passes the linters `make lint` runs: ruff (rules and formatting) and mypy on services/.
ruff is pinned to one minor version in pyproject.toml, so its formatting does not drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_rules_and_formatting_hold() -> None:
    rules = _run(str(BIN / "ruff"), "check", "services", "tests")
    assert rules.returncode == 0, rules.stdout[-4000:]
    formatting = _run(str(BIN / "ruff"), "format", "--check", "services", "tests")
    assert formatting.returncode == 0, (
        formatting.stdout[-4000:] + "\n(run `ruff format services tests`)"
    )


def test_mypy_finds_no_type_errors_in_services() -> None:
    result = _run(str(BIN / "mypy"), "services")
    assert result.returncode == 0, result.stdout[-4000:]

"""checkov finds nothing in infra/terraform or the Dockerfile except the justified skips, and
hadolint accepts the Dockerfile. Both run offline from .venv-tools (`make tools`)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.infra.conftest import CHECKOV, HADOLINT, REPO, TERRAFORM, tf_files

CONFIG = REPO / "infra" / "checkov.yaml"
INLINE_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def run_checkov(*arguments: str) -> list[dict]:
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed at {CHECKOV}: run `make tools`")
    result = subprocess.run(
        [str(CHECKOV), *arguments, "--config-file", str(CONFIG), "--output", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def failures(reports: list[dict]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def test_checkov_finds_nothing_in_terraform() -> None:
    reports = run_checkov("--directory", str(TERRAFORM), "--framework", "terraform")
    assert sum(r["summary"]["passed"] for r in reports) > 300
    assert failures(reports) == []


def test_checkov_finds_nothing_in_the_dockerfile() -> None:
    reports = run_checkov("--file", str(REPO / "Dockerfile"), "--framework", "dockerfile")
    assert failures(reports) == []


def test_hadolint_accepts_the_dockerfile() -> None:
    if not HADOLINT.exists():
        pytest.skip(f"hadolint is not installed at {HADOLINT}: run `make tools`")
    result = subprocess.run(
        [str(HADOLINT), str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_skip_says_why() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    lines = CONFIG.read_text().splitlines()
    for check in config["skip-check"]:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        assert lines[index - 1].strip().startswith("#"), f"{check} has no reason in {CONFIG.name}"
    for path in tf_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = INLINE_SKIP.search(line)
            if match:
                reason = (match.group(2) or "").strip()
                assert len(reason) >= 20, (
                    f"{path.relative_to(REPO)}:{number} skips without a reason"
                )

"""Terraform stays `terraform fmt`-formatted: checked by terraform itself where it is installed,
and by the rules fmt enforces that can be read without it (spaces, 2-space indents)."""

from __future__ import annotations

import subprocess

import pytest

from tests.infra.conftest import REPO, TERRAFORM, tf_files, which


def test_terraform_fmt_has_nothing_to_change() -> None:
    binary = which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed; the hand-checkable rules are tested below")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TF_CLI_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout


def test_files_are_indented_with_two_spaces() -> None:
    for path in tf_files():
        text = path.read_text()
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(REPO)}:{number}"
            assert "\t" not in line, where
            assert line == line.rstrip(), where
            indent = len(line) - len(line.lstrip(" "))
            assert indent % 2 == 0, where


def test_every_module_has_the_usual_files() -> None:
    for directory in [*(TERRAFORM / "modules").iterdir(), *(TERRAFORM / "envs").iterdir()]:
        names = {p.name for p in directory.glob("*.tf")}
        assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= names, directory

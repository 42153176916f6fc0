"""`make test-latest`: would the newest releases the ranges allow break the venue?

A maintainer's early warning, not part of CI: a throwaway venv gets the newest versions that
pyproject.toml's ranges allow (what `pip install tradestack` would give a user today), the local
AWS endpoint's patches of moto are verified against that moto, and the fast suites run (every
suite that does not start a whole `tradestack up`). It ends with a table of every package whose
version differs from requirements/dev.lock and the test verdict, so a breaking release is known
before a newcomer meets it; `make lock-upgrade PACKAGES=...` then moves the lock deliberately.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.versions import KEY_PACKAGES, LOCKS, locked_versions, normalized

ROOT = LOCKS.parent

SLOW_SUITES = ("tests/campaigns", "tests/web", "tests/bench", "tests/test_demo_traders.py")
"""Suites that start a whole stack: left to `make test`."""

console = Console(highlight=False)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, text=True, capture_output=True, check=False)


def build_latest_venv(venv: Path) -> None:
    """A fresh venv with the newest versions pyproject.toml's ranges allow."""
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    steps = [
        ("a fresh venv", [sys.executable, "-m", "venv", "--clear", str(venv)]),
        (
            "pip and setuptools from the lock",
            [*pip, "--require-hashes", "--no-deps", "-r", str(LOCKS / "build.lock")],
        ),
        (
            "the newest allowed versions",
            [
                *pip,
                "--upgrade",
                "--upgrade-strategy",
                "eager",
                "--no-build-isolation",
                "-e",
                ".[dev]",
            ],
        ),
    ]
    with console.status("") as status:
        for label, command in steps:
            status.update(f"test-latest: {label}")
            done = _run(command)
            if done.returncode:
                console.print(done.stdout[-3000:], done.stderr[-3000:], markup=False)
                raise SystemExit(f"test-latest: could not install {label}")


def installed(venv: Path) -> dict[str, str]:
    done = _run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"])
    return {normalized(p["name"]): p["version"] for p in json.loads(done.stdout)}


def patch_verdict(venv: Path) -> dict[str, object]:
    code = (
        "import json; from services.common.moto_server import install_patches; "
        "print(json.dumps(install_patches()))"
    )
    done = _run([str(venv / "bin" / "python"), "-c", code])
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def run_fast_suites(venv: Path, extra: list[str]) -> tuple[int, str, float]:
    ignores = [f"--ignore={suite}" for suite in SLOW_SUITES]
    command = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    started = time.monotonic()
    with console.status("test-latest: the fast suites against the newest versions"):
        done = _run([*command, *ignores, *extra])
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    if done.returncode:
        failures = [
            line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))
        ]
        console.print("\n".join(failures[:40]), markup=False)
    return done.returncode, summary, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make test-latest", description=__doc__)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-latest")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest")
    args = parser.parse_args(argv)
    build_latest_venv(args.venv)
    locked = locked_versions()
    latest = installed(args.venv)
    changed = Table(title="Newest allowed versions against requirements/dev.lock")
    for column in ("package", "locked", "newest allowed"):
        changed.add_column(column)
    rows = 0
    for name in sorted(set(locked) | set(latest)):
        if name == "tradestack" or locked.get(name) == latest.get(name):
            continue
        key = name in KEY_PACKAGES
        style = "bold yellow" if key else ""
        changed.add_row(name, locked.get(name, "-"), latest.get(name, "-"), style=style)
        rows += 1
    verdict = patch_verdict(args.venv)
    status, summary, seconds = run_fast_suites(args.venv, args.pytest_args)
    console.print(changed if rows else "[green]The lock holds the newest allowed versions.[/green]")
    refused = verdict.get("refused") or {}
    if "error" in verdict:
        console.print(f"[red]local AWS endpoint: {verdict['error']}[/red]")
    elif refused:
        console.print(f"[yellow]moto {verdict['moto']}: patches refused: {refused}[/yellow]")
    else:
        console.print(f"moto {verdict['moto']}: every patch of the local AWS endpoint verified")
    colour = "green" if status == 0 else "red"
    console.print(f"[{colour}]fast suites ({seconds:.0f} s): {summary}[/{colour}]", markup=True)
    if status == 0 and not refused:
        console.print("Safe to move the lock: `make lock-upgrade`, then `make test`, then commit.")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

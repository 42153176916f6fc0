"""`tradestack campaign bad-input`: schemathesis against the merged OpenAPI document, through the
gateway, twice: anonymous, then as a signed-in, funded trader (`Authorization: Bearer ...`).

Checks (schemathesis's own): `not_a_server_error` (no 5xx), `status_code_conformance` (every
status is declared for its operation), `content_type_conformance` and
`response_schema_conformance` (the body fits the declared schema). Phases: examples, coverage
(boundary and invalid values derived from the schema) and fuzzing. Schemathesis's automatic
sign-up is off: it would authenticate through the API-key header scheme with a bearer token.
The hand-written hostile cases are in tests/campaigns/test_hostile_input.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from services.campaigns.ledger import Check

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
PHASES = "examples,coverage,fuzzing"
PASSWORD = "campaign passphrase 7f3a"

console = Console(highlight=False)


@dataclass
class BadInputOptions:
    url: str | None = None
    max_examples: int = 100
    port_offset: int = 0
    seed: int | None = None
    report: Path | None = None
    workers: int = 1  # 2 threads trip a CPython 3.11 AST bug inside hypothesis (SystemError: AST constructor recursion depth mismatch)
    prefix: str = "badinput"


@dataclass
class RunResult:
    name: str
    exit_code: int
    summary: dict[str, Any] = field(default_factory=dict)
    output: str = ""

    def check(self) -> Check:
        cases = self.summary.get("test_cases", {})
        failures = self.summary.get("failures", [])
        errors = self.summary.get("errors", [])
        shown = "; ".join(
            f"{f.get('code')} {f.get('title')}: {', '.join(f.get('operations', [])[:3])}"
            for f in failures
        )
        shown += "; ".join(f"error {e.get('title')} x{e.get('count')}" for e in errors)
        detail = (
            f"{cases.get('generated', '?')} cases on {self.summary.get('operations', {}).get('tested', '?')} "
            f"operations in {self.summary.get('running_time', 0):.0f}s"
        )
        ok = self.exit_code == 0
        return Check(
            f"schemathesis, {self.name}",
            ok,
            detail if ok else f"{shown or self.output[-300:]} ({detail})",
        )


def schemathesis_command(
    url: str, options: BadInputOptions, report: Path, config: Path, headers: dict[str, str]
) -> list[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{url}/api/openapi.json",
        "--url",
        url,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        PHASES,
        "--max-examples",
        str(options.max_examples),
        "--workers",
        str(options.workers),
        "--request-timeout",
        "15",
        "--no-shrink",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    if options.seed is not None:
        command += ["--seed", str(options.seed)]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    return command


def run_schemathesis(
    url: str, options: BadInputOptions, name: str, headers: dict[str, str]
) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as tmp:
        config = Path(tmp) / "schemathesis.toml"
        config.write_text("[auth]\nauto-signup = false\n")
        report = Path(tmp) / "report.json"
        command = schemathesis_command(url, options, report, config, headers)
        console.print(
            f"[bold]schemathesis[/bold] ({name}): {options.max_examples} examples per operation"
        )
        process = subprocess.run(command, capture_output=True, text=True, cwd=tmp, check=False)
        summary = orjson.loads(report.read_bytes()) if report.exists() else {}
    return RunResult(name, process.returncode, summary, process.stdout + process.stderr)


def trader_token(url: str) -> str:
    """A new trader with money, so order entry gets past the funds check."""
    with httpx.Client(base_url=url, timeout=15) as client:
        credentials = {"email": f"fuzz-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD}
        client.post("/api/auth/signup", json=credentials).raise_for_status()
        token = str(client.post("/api/auth/login", json=credentials).json()["access_token"])
        for asset, amount in (("USD", "100000"), ("BTC", "2")):
            client.post(
                "/api/balances/deposit",
                params={"wait": "true"},
                json={"asset": asset, "amount": amount},
                headers={"authorization": f"Bearer {token}"},
            ).raise_for_status()
        return token


def wait_for_document(url: str, timeout_s: float = 60.0) -> None:
    """The merged document lists every service (none missing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            document = httpx.get(f"{url}/api/openapi.json", timeout=5).json()
            if not document.get("info", {}).get("x-tradestack-missing"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1.0)
    raise SystemExit(f"{url}/api/openapi.json still misses a service after {timeout_s:.0f}s")


def run_against(url: str, options: BadInputOptions) -> list[RunResult]:
    wait_for_document(url)
    anonymous = run_schemathesis(url, options, "anonymous", {})
    signed_in = run_schemathesis(
        url, options, "signed in", {"Authorization": f"Bearer {trader_token(url)}"}
    )
    return [anonymous, signed_in]


def run_bad_input(options: BadInputOptions) -> int:
    """Run both passes (starting a private venue unless `url` is given); print a table."""
    if options.url:
        results = run_against(options.url.rstrip("/"), options)
    else:
        from services import stack as stack_module
        from services.stack import StackOptions, start_stack

        os.environ["TRADESTACK_GATEWAY_THROTTLE_EXEMPT_LOOPBACK"] = "true"
        os.environ.setdefault("TRADESTACK_GATEWAY_ACCESS_LOG", "false")
        stack_module.console.quiet = True
        console.print(
            f"[bold]bad input[/bold]: starting a venue on port offset {options.port_offset}"
        )
        stack = start_stack(
            StackOptions(
                port_offset=options.port_offset, prefix=options.prefix, ready_timeout_s=120
            )
        )
        try:
            results = run_against(f"http://127.0.0.1:{8000 + options.port_offset}", options)
        finally:
            stack.stop()
    checks = [r.check() for r in results]
    table = Table(title="Bad input campaign")
    for column in ("check", "result", "details"):
        table.add_column(column)
    for check in checks:
        table.add_row(
            check.name, "[green]PASS[/green]" if check.ok else "[red]FAIL[/red]", check.detail
        )
    console.print(table)
    for result in results:
        if result.exit_code != 0:
            console.print(result.output[-6000:], markup=False)
    if options.report:
        options.report.write_bytes(
            orjson.dumps(
                [{"name": r.name, "exit_code": r.exit_code, "summary": r.summary} for r in results],
                option=orjson.OPT_INDENT_2,
            )
        )
    return 0 if all(c.ok for c in checks) else 1

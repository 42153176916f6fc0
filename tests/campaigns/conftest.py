"""A real `tradestack up` for the bad-input tests (the chaos test starts its own venue through
`tradestack chaos`). Logs go to `artifacts/campaigns/` (gitignored)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_offset as _free_offset_in

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "campaigns"
PASSWORD = "hostile test passphrase 9"


def free_offset() -> int:
    """A free `--port-offset` in this folder's range."""
    return _free_offset_in(20100, 40000)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADESTACK_"))}
    env.update(extra)
    return env


@dataclass
class Trader:
    headers: dict[str, str]
    account: str


@dataclass
class Venue:
    url: str
    aws: str
    prefix: str = "tradestack"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20)

    def trader(self, funds: dict[str, str] | None = None) -> Trader:
        """A new user with money."""
        email = f"hostile-{uuid.uuid4().hex[:10]}@example.com"
        with self.client() as client:
            user = client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
            user.raise_for_status()
            tokens = client.post(
                "/api/auth/login", json={"email": email, "password": PASSWORD}
            ).json()
            headers = {"authorization": f"Bearer {tokens['access_token']}"}
            for asset, amount in (funds or {"USD": "10000", "BTC": "1"}).items():
                response = client.post(
                    "/api/balances/deposit",
                    params={"wait": "true"},
                    json={"asset": asset, "amount": amount},
                    headers=headers,
                )
                response.raise_for_status()
                assert response.json()["transfer"]["status"] == "applied"
        return Trader(headers, user.json()["user_id"])

    def audit(self) -> Any:
        """`tradestack audit` on this venue's tables (endpoint given explicitly: other test
        folders point AWS_ENDPOINT_URL at their own moto)."""
        import boto3

        from services.common.aws import client_config
        from services.common.resources import physical_name
        from services.orders.audit import check_tables, scan_all

        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=self.aws,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=client_config(read_timeout=60.0),
        )
        tables = {
            name: scan_all(dynamodb.Table(physical_name(self.prefix, name)))
            for name in ("orders", "trades", "balances", "ledger")
        }
        return check_tables(
            tables["orders"], tables["trades"], tables["balances"], tables["ledger"]
        )


@pytest.fixture(scope="session")
def venue() -> Iterator[Venue]:
    """`tradestack up` on free ports (per-IP throttle off for loopback: the fuzzer is one IP),
    stopped with SIGINT (as Ctrl-C) at the end."""
    running = os.environ.get("CAMPAIGN_VENUE_OFFSET")  # reuse a `tradestack up --port-offset N`
    if running:
        yield Venue(
            f"http://127.0.0.1:{8000 + int(running)}", f"http://127.0.0.1:{4566 + int(running)}"
        )
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    offset = free_offset()
    env = clean_env(
        TRADESTACK_GATEWAY_ACCESS_LOG="false", TRADESTACK_GATEWAY_THROTTLE_EXEMPT_LOOPBACK="true"
    )
    log_path = ARTIFACTS / "stack.log"
    log = open(log_path, "wb")  # noqa: SIM115
    command = [
        str(Path(sys.executable).with_name("tradestack")),
        "up",
        "--port-offset",
        str(offset),
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{8000 + offset}"
    try:
        _wait_until_trading(url, process, log_path, timeout_s=150)
        yield Venue(url, f"http://127.0.0.1:{4566 + offset}")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _wait_until_trading(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`tradestack up` exited with {process.returncode}; see {log_path}")
        try:
            if "Tradestack is running" in log_path.read_text(errors="replace"):
                book = httpx.get(url + "/api/markets/BTC-USD/book", timeout=3).json()
                if book.get("bids") and book.get("asks"):
                    return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"the venue was not trading after {timeout_s}s; see {log_path}")

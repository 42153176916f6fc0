"""Browser tests of the trading screen: a real `tradestack up`, Debian's chromium, Playwright.

Nothing is installed here: without `/usr/bin/chromium` or the `playwright` package the tests are
skipped with the reason (`make test` installs both: chromium from apt, playwright from the `dev`
extra). Playwright only drives the system chromium; `playwright install` is never needed.

Screenshots and the stack's log go to `artifacts/web/` (gitignored).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_offset

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "web"
CHROMIUM = Path(os.environ.get("TRADESTACK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "web test passphrase 42"
VIEWPORT = {"width": 1440, "height": 900}


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (make test installs it: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reason = _skip_reason()
    if reason:
        terminalreporter.write_line(f"web tests skipped: {reason}", yellow=True)


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    reason = _skip_reason()
    if reason:
        print(f"\nweb tests skipped: {reason}")
        pytest.skip(reason)


def _free_offset() -> int:
    return free_offset(1100, 20000)


@dataclass
class Venue:
    """A running `tradestack up` and a REST client for it."""

    url: str
    process: subprocess.Popen[bytes]
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=15)

    def market(self, symbol: str) -> dict[str, Any]:
        markets = self.client.get("/api/markets").json()["markets"]
        return next(m for m in markets if m["symbol"] == symbol)

    def book(self, symbol: str) -> dict[str, Any]:
        return self.client.get(f"/api/markets/{symbol}/book", params={"depth": 50}).json()

    def user(self) -> dict[str, str]:
        """A fresh funded user made over REST (for the tests that are not about signing up)."""
        email = f"rest-{uuid.uuid4().hex[:10]}@example.com"
        self.client.post(
            "/api/auth/signup", json={"email": email, "password": PASSWORD}
        ).raise_for_status()
        tokens = self.client.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}
        ).json()
        headers = {"authorization": f"Bearer {tokens['access_token']}"}
        for asset, amount in (("USD", "100000"), ("BTC", "2")):
            response = self.client.post(
                "/api/balances/deposit",
                params={"wait": "true"},
                json={"asset": asset, "amount": amount},
                headers=headers,
            )
            response.raise_for_status()
        return headers

    def place(self, headers: dict[str, str], **order: str) -> dict[str, Any]:
        response = self.client.post(
            "/api/orders", params={"wait": "accepted"}, json=order, headers=headers
        )
        response.raise_for_status()
        return response.json()["order"]


@pytest.fixture(scope="session")
def venue(chromium_ready: None) -> Iterator[Venue]:
    """`tradestack up` in demo mode on free ports, stopped with SIGINT (as Ctrl-C) at the end."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    offset = _free_offset()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADESTACK_"))}
    env["TRADESTACK_GATEWAY_ACCESS_LOG"] = "false"
    log = open(ARTIFACTS / "stack.log", "wb")  # noqa: SIM115
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
        _wait_until_trading(url, process, timeout_s=90)
        yield Venue(url, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _wait_until_trading(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Ready = the printed banner is out, the gateway says every service is ready, and the demo
    market maker's quotes are on the BTC-USD book."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"`tradestack up` exited with {process.returncode}; see {ARTIFACTS / 'stack.log'}"
            )
        banner = "Tradestack is running" in (ARTIFACTS / "stack.log").read_text(errors="replace")
        try:
            ready = banner and httpx.get(url + "/readyz", timeout=2).status_code == 200
            book = httpx.get(url + "/api/markets/BTC-USD/book", timeout=2).json() if ready else {}
            if book.get("bids") and book.get("asks"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise TimeoutError(
        f"the venue was not trading after {timeout_s}s; see {ARTIFACTS / 'stack.log'}"
    )


@pytest.fixture(scope="session")
def browser(chromium_ready: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Screen:
    """One browser tab (its own context, so its own sessionStorage) and what it logged."""

    page: Any
    errors: list[str]


@pytest.fixture
def open_screen(browser: Any, venue: Venue) -> Iterator[Callable[..., Screen]]:
    """Open the trading screen in a fresh context. Console errors and page errors are collected;
    the test asserts there were none."""
    contexts = []

    def _open(
        viewport: dict[str, int] | None = None, route: Callable[..., None] | None = None
    ) -> Screen:
        context = browser.new_context(viewport=viewport or VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        if route is not None:
            page.route_web_socket("**/ws", route)
        errors: list[str] = []
        page.on(
            "console",
            lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.set_default_timeout(15_000)
        page.goto(venue.url + "/")
        page.wait_for_function(
            "() => window.__tradestack && window.__tradestack.book && window.__tradestack.book.synced"
        )
        return Screen(page, errors)

    yield _open
    for context in contexts:
        context.close()


def shown(amount: Decimal | str) -> str:
    """An amount as the screen shows balances: grouped, at least two decimals."""
    value = Decimal(amount)
    text = f"{value:,f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{whole}.{fraction}"

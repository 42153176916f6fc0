"""kill -9 the accounts engine mid-flow, restart it: nothing lost, nothing doubled, audit passes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.orders.client import Trader, new_market
from tests.orders.conftest import Issuer, Venue

pytestmark = pytest.mark.aws
ORDERS = 60


@pytest.fixture
async def http(venue: Venue) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=venue.url, timeout=20) as client:
        yield client


async def test_kill_accounts_worker_mid_flow(
    venue: Venue, http: httpx.AsyncClient, issuer: Issuer
) -> None:
    admin = Trader(http, issuer, admin=True, name="admin")
    symbol = await new_market(admin, "CRASH")
    alice, bob = Trader(http, issuer, name="alice"), Trader(http, issuer, name="bob")
    await alice.deposit("USD", "100000")
    await admin.deposit("CRASH", "1000", account=bob.account)

    placed: dict[str, Trader] = {}
    for i in range(ORDERS):
        trader, side = (alice, "buy") if i % 2 == 0 else (bob, "sell")
        response = await trader.order(
            wait=False, symbol=symbol, side=side, price="100.00", qty="1.000"
        )
        placed[response["order"]["id"]] = trader
        if i == ORDERS // 3:
            venue.processes["accounts"].kill()  # SIGKILL: no checkpoint, no lease release
        if i == 2 * ORDERS // 3:
            venue.processes["accounts"].start(wait_ready=False)
        await asyncio.sleep(0.02)

    final = {}
    for order_id, trader in placed.items():
        final[order_id] = await trader.wait_status(
            order_id, {"filled", "rejected", "cancelled", "expired"}, timeout_s=30
        )
    unfilled = [o for o in final.values() if o["status"] != "filled"]
    assert not unfilled, __import__("json").dumps(unfilled)

    for trader, side in ((alice, "buy"), (bob, "sell")):
        orders = (
            await trader.call(
                "GET", "/api/orders", params={"status": "all", "symbol": symbol, "limit": 500}
            )
        ).json()["orders"]
        mine = sorted(o["id"] for o in orders)
        assert mine == sorted(
            i for i, t in placed.items() if t is trader
        )  # none lost, none doubled
        fills = await trader.fills(symbol=symbol, limit=500)
        assert len(fills) == ORDERS // 2 and len({f["order_id"] for f in fills}) == ORDERS // 2
        assert {f["side"] for f in fills} == {side}
    await alice.wait_balance("CRASH", ("30.00000000", "0.00000000"))
    await bob.wait_balance("CRASH", ("970.00000000", "0.00000000"))

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "audit", "--prefix", venue.prefix, "--settle", "20"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit passed" in result.stdout

"""A small client of the orders API for the integration tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from tests.orders.conftest import Issuer


class Trader:
    """One user of the venue: an account id, a token, and the calls the tests make."""

    def __init__(
        self, http: httpx.AsyncClient, issuer: Issuer, *, admin: bool = False, name: str = "u"
    ) -> None:
        self.http = http
        self.account = f"{name}-{uuid.uuid4().hex[:8]}"
        self.headers = issuer.headers(self.account, admin=admin)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=self.headers, **kwargs)

    async def deposit(
        self, asset: str, amount: str, *, account: str | None = None
    ) -> dict[str, Any]:
        body = {"asset": asset, "amount": amount, **({"account": account} if account else {})}
        response = await self.call(
            "POST", "/api/balances/deposit", params={"wait": "true"}, json=body
        )
        assert response.status_code == 202, response.text
        transfer = response.json()["transfer"]
        assert transfer["status"] == "applied", transfer
        return transfer

    async def order(self, expect: int = 202, wait: bool = True, **body: Any) -> dict[str, Any]:
        params = {"wait": "accepted"} if wait else {}
        response = await self.call("POST", "/api/orders", params=params, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    async def get_order(self, order_id: str) -> dict[str, Any]:
        response = await self.call("GET", f"/api/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def balances(self) -> dict[str, tuple[str, str]]:
        response = await self.call("GET", "/api/balances")
        assert response.status_code == 200, response.text
        return {b["asset"]: (b["available"], b["held"]) for b in response.json()["balances"]}

    async def wait_balance(
        self, asset: str, expected: tuple[str, str], timeout_s: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout_s
        seen = None
        while time.monotonic() < deadline:
            seen = (await self.balances()).get(asset)
            if seen == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.account} {asset}: expected {expected}, last seen {seen}")

    async def wait_status(
        self, order_id: str, statuses: set[str], timeout_s: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        order: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.call("GET", f"/api/orders/{order_id}")
            if response.status_code == 200:
                order = response.json()["order"]
                if order["status"] in statuses:
                    return order
            await asyncio.sleep(0.05)
        raise AssertionError(f"order {order_id} never reached {statuses}; last {order}")

    async def fills(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.call("GET", "/api/trades", params=params)
        assert response.status_code == 200, response.text
        return response.json()["trades"]


async def new_market(admin: Trader, base: str, *, tick: str = "0.01", lot: str = "0.001") -> str:
    """A fresh market per test, so tests never trade against each other's orders."""
    symbol = f"{base}-USD"
    response = await admin.call(
        "POST",
        "/api/admin/markets",
        json={
            "symbol": symbol,
            "base": base,
            "quote": "USD",
            "tick_size": tick,
            "lot_size": lot,
            "min_notional": "1",
        },
    )
    assert response.status_code == 201, response.text
    return symbol

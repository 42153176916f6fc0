"""Demo traders for `tradestack up`: two signed-in users who keep the demo markets moving.

They use only the public API through the gateway, exactly as a person or a bot would: sign up (or
log in), take faucet funds, then quote around the book's mid price and now and then take the other
side, so a newcomer sees trades on the tape, candles forming and tickers changing. Their log-in is
printed by `tradestack up`, so anyone can also sign in as them and look at their orders.

Prices are computed in integer ticks from the market's decimal `tick_size`; nothing here uses a
float for a price or quantity.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

log = logging.getLogger("tradestack.demo")

DEMO_PASSWORD = "tradestack-demo"
DEMO_USERS = ("alice@demo.tradestack.dev", "bob@demo.tradestack.dev")
FAUCET = {"USD": "200000", "BTC": "2", "ETH": "40", "SOL": "800"}
# Order size per market, in lots of the demo markets (BTC 0.0001, ETH 0.001, SOL 0.01).
LOTS = {"BTC-USD": (20, 300), "ETH-USD": (100, 3000), "SOL-USD": (100, 5000)}
MAX_OPEN_PER_USER = 12


@dataclass
class DemoTrader:
    email: str
    client: httpx.AsyncClient
    token: str = ""
    open_ids: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    async def sign_in(self) -> None:
        body = {"email": self.email, "password": DEMO_PASSWORD}
        await self.client.post("/api/auth/signup", json=body)  # 409 when it exists: fine
        response = await self.client.post("/api/auth/login", json=body)
        response.raise_for_status()
        self.token = response.json()["access_token"]
        for asset, amount in FAUCET.items():
            await self.client.post(
                "/api/balances/deposit",
                json={"asset": asset, "amount": amount},
                headers=self.headers,
            )

    async def place(self, order: dict[str, Any]) -> None:
        response = await self.client.post("/api/orders", json=order, headers=self.headers)
        if response.status_code == 401:
            await self.sign_in()
            return
        if response.status_code == 202 and order["type"] == "limit":
            self.open_ids.append(response.json()["order"]["id"])
        while len(self.open_ids) > MAX_OPEN_PER_USER:
            order_id = self.open_ids.pop(0)
            await self.client.delete(f"/api/orders/{order_id}", headers=self.headers)


def _ticks(price: str, tick: Decimal) -> int:
    return int(Decimal(price) / tick)


def _format(ticks: int, tick: Decimal) -> str:
    return str((tick * ticks).quantize(tick))


async def _step(
    rng: random.Random, traders: list[DemoTrader], markets: list[dict[str, Any]]
) -> None:
    market = rng.choice(markets)
    symbol = market["symbol"]
    book = (await traders[0].client.get(f"/api/markets/{symbol}/book", params={"depth": 1})).json()
    if not book.get("bids") or not book.get("asks"):
        return
    tick = Decimal(market["tick_size"])
    lot = Decimal(market["lot_size"])
    bid, ask = _ticks(book["bids"][0][0], tick), _ticks(book["asks"][0][0], tick)
    low, high = LOTS.get(symbol, (1, 10))
    qty = str((lot * rng.randint(low, high)).quantize(lot))
    trader = rng.choice(traders)
    side = rng.choice(["buy", "sell"])
    if rng.random() < 0.3:
        # Take liquidity: a market order by quantity (the engine caps the spend by the hold).
        await trader.place({"symbol": symbol, "side": side, "type": "market", "qty": qty})
        return
    # Quote inside or near the spread, drifting the mid a little each time.
    spread = max(ask - bid, 2)
    offset = rng.randint(0, max(1, spread // 2)) + rng.randint(-2, 6)
    price = bid + offset if side == "buy" else ask - offset
    price = max(price, 1)
    await trader.place(
        {"symbol": symbol, "side": side, "type": "limit", "price": _format(price, tick), "qty": qty}
    )


async def run_demo_traders(base_url: str, stop: threading.Event, *, period_s: float = 0.8) -> None:
    """Trade until `stop` is set. Errors are logged and retried; this is decoration, not a test."""
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        traders = [DemoTrader(email, client) for email in DEMO_USERS]
        while not stop.is_set():
            try:
                for trader in traders:
                    await trader.sign_in()
                markets = (await client.get("/api/markets")).json()["markets"]
                markets = [m for m in markets if m.get("status") == "trading"]
                steps = 0
                while not stop.is_set():
                    await _step(rng, traders, markets)
                    steps += 1
                    if steps % 500 == 0:  # top up from the faucet now and then
                        for trader in traders:
                            await trader.sign_in()
                    await asyncio.sleep(period_s * rng.uniform(0.5, 1.5))
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                log.warning("demo traders paused: %s", exc)
                await asyncio.sleep(3)


def start_demo_traders(base_url: str) -> tuple[threading.Thread, threading.Event]:
    """Run the demo traders on a background thread; set the event to stop them."""
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(run_demo_traders(base_url, stop)),
        name="demo-traders",
        daemon=True,
    )
    thread.start()
    return thread, stop

"""Load bots for the campaigns: each signs up, funds itself from the demo faucet, places a mix of
orders through the gateway, follows its private WebSocket, and keeps a `BotLedger`.

A submission that gets no definite answer (connection refused or reset, 502/503/504, a timeout:
the process behind it was killed) is sent again with the same `client_order_id`, which the
orders API answers with the original order; only a submission still unanswered after
`retry_for_s` is left `unresolved`. Nothing here assumes the venue is healthy: every call
retries through kills and pauses, and the numbers of each kind of answer are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import orjson

from services.campaigns.ledger import TERMINAL, BotLedger, SubmittedOrder, Window

PASSWORD = "campaign passphrase 7f3a"
FUNDS = {"USD": "100000", "BTC": "2", "ETH": "40"}
# Reference price, tick, lot, largest quantity in lots: bots quote around the demo market maker.
MARKETS = {
    "BTC-USD": (Decimal("60000"), Decimal("0.01"), Decimal("0.0001"), 40),
    "ETH-USD": (Decimal("3000"), Decimal("0.01"), Decimal("0.001"), 80),
}
AMBIGUOUS_STATUSES = frozenset({502, 503, 504})
MAX_OPEN_PER_BOT = 25


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class LoadStats:
    """Every answer the bots got, by HTTP status (`error:<kind>` when there was none)."""

    answers: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 500s: never acceptable
    accepted: int = 0
    cancels: int = 0
    retries: int = 0

    def count(self, method: str, path: str, status: int | str, body: bytes = b"") -> None:
        self.answers[str(status)] += 1
        if status == 500:
            self.server_errors.append(f"{method} {path}: {body[:200]!r}")


class Bot:
    """One trading account driven through the gateway (REST + WebSocket)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        rate: float,
        seed: int,
        stats: LoadStats,
        retry_for_s: float = 60.0,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://", 1) + "/ws"
        self.rate = rate
        self.rng = random.Random(seed)
        self.stats = stats
        self.retry_for_s = retry_for_s
        self.ledger = BotLedger(name)
        self.email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        self.token = ""
        self.client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(12.0, connect=3.0))
        self._order_seq = 0
        self._resting: list[str] = []
        self._connections = 0
        self._ws_stop = asyncio.Event()

    # -- HTTP ------------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
        retry: bool = True,
    ) -> httpx.Response | None:
        """One request, sent again while the answer is ambiguous (only for idempotent calls);
        None if no definite answer came within `retry_for_s`."""
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.1
        while True:
            headers = {"authorization": f"Bearer {self.token}"} if auth and self.token else {}
            try:
                response: httpx.Response = await self.client.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.HTTPError as exc:
                self.stats.count(method, path, f"error:{type(exc).__name__}")
            else:
                self.stats.count(method, path, response.status_code, response.content)
                if response.status_code == 401 and auth and _code(response) == "token_expired":
                    await self.login()
                    continue
                if response.status_code == 429:
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                    continue
                if response.status_code not in AMBIGUOUS_STATUSES:
                    return response
            if not retry or time.monotonic() > deadline:
                return None
            self.stats.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def setup(self) -> None:
        """Sign up, sign in, take money from the faucet, and note the balances it gave."""
        credentials = {"email": self.email, "password": PASSWORD}
        response = await self.call("POST", "/api/auth/signup", json=credentials, auth=False)
        if response is None or response.status_code != 201:
            raise RuntimeError(f"{self.name}: signup failed: {_describe(response)}")
        self.ledger.account = response.json()["user_id"]
        await self.login()
        for asset, amount in FUNDS.items():
            response = await self.call(
                "POST",
                "/api/balances/deposit",
                json={"asset": asset, "amount": amount},
                params={"wait": "true"},
            )
            if response is None or response.json().get("transfer", {}).get("status") != "applied":
                raise RuntimeError(
                    f"{self.name}: deposit of {asset} not applied: {_describe(response)}"
                )
        self.ledger.baseline = {a: v[0] + v[1] for a, v in (await self.read_balances()).items()}

    async def login(self) -> None:
        credentials = {"email": self.email, "password": PASSWORD}
        response = await self.call("POST", "/api/auth/login", json=credentials, auth=False)
        if response is None or response.status_code != 200:
            raise RuntimeError(f"{self.name}: login failed: {_describe(response)}")
        self.token = response.json()["access_token"]

    async def read_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        response = await self.call("GET", "/api/balances")
        if response is None or response.status_code != 200:
            raise RuntimeError(f"{self.name}: balances unreadable: {_describe(response)}")
        return {
            b["asset"]: (Decimal(b["available"]), Decimal(b["held"]))
            for b in response.json()["balances"]
        }

    # -- load ------------------------------------------------------------------------------------

    async def trade(self, stop: asyncio.Event) -> None:
        """Place orders at `rate` per second until `stop`: 55% resting limits near the reference,
        20% crossing IOC limits, 10% market orders, 15% cancels of the bot's own resting orders."""
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not stop.is_set():
            roll = self.rng.random()
            if roll < 0.15 and self._resting:
                await self.cancel(self._resting.pop(0))
            else:
                await self.place(self.random_order(roll))
            if len(self._resting) > MAX_OPEN_PER_BOT:
                await self.cancel(self._resting.pop(0))
            next_at = max(next_at + interval * self.rng.uniform(0.5, 1.5), time.monotonic() - 1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_at - time.monotonic()))

    def random_order(self, roll: float) -> dict[str, Any]:
        symbol = self.rng.choice(sorted(MARKETS))
        reference, tick, lot, max_lots = MARKETS[symbol]
        side = self.rng.choice(("buy", "sell"))
        qty = lot * self.rng.randint(1, max_lots)
        order: dict[str, Any] = {"symbol": symbol, "side": side, "qty": str(qty)}
        if roll < 0.70:
            offset = Decimal(str(self.rng.uniform(-0.002, 0.002)))
            order.update(type="limit", tif="GTC", price=_on_tick(reference * (1 + offset), tick))
        elif roll < 0.90:
            through = Decimal("1.004") if side == "buy" else Decimal("0.996")
            order.update(type="limit", tif="IOC", price=_on_tick(reference * through, tick))
        else:
            order.update(type="market")
        return order

    async def place(self, order: dict[str, Any]) -> str | None:
        self._order_seq += 1
        client_order_id = f"{self.name}-{self._order_seq}"
        body = {**order, "client_order_id": client_order_id}
        response = await self.call("POST", "/api/orders", json=body)
        if response is None:
            self.ledger.unresolved.add(client_order_id)
            return None
        if response.status_code in (200, 202):
            view = response.json()["order"]
            self.ledger.orders[view["id"]] = SubmittedOrder(
                view["id"], client_order_id, order["symbol"], order["side"], order["type"], now_ms()
            )
            self.stats.accepted += 1
            if order.get("tif") == "GTC":
                self._resting.append(view["id"])
            return str(view["id"])
        self.ledger.refused[f"{response.status_code} {_code(response)}"] += 1
        return None

    async def cancel(self, order_id: str) -> None:
        response = await self.call("DELETE", f"/api/orders/{order_id}")
        if response is not None and response.status_code == 202:
            self.stats.cancels += 1

    # -- WebSocket -------------------------------------------------------------------------------

    async def follow(self) -> None:
        """Keep a private socket (`fills`, `orders`) subscribed until `stop_following`,
        reconnecting after any drop; each subscribed span is a `Window` of the ledger."""
        import websockets

        while not self._ws_stop.is_set():
            window: Window | None = None
            try:
                async with websockets.connect(
                    self.ws_url, open_timeout=5, ping_interval=5, ping_timeout=10, max_size=2**22
                ) as socket:
                    self._connections += 1
                    connection = self._connections
                    await socket.send(orjson.dumps({"op": "auth", "token": self.token}).decode())
                    await socket.send(
                        orjson.dumps({"op": "subscribe", "channels": ["fills", "orders"]}).decode()
                    )
                    closing = asyncio.create_task(self._ws_stop.wait())
                    try:
                        while True:
                            receiving = asyncio.create_task(socket.recv())
                            done, _ = await asyncio.wait(
                                {receiving, closing}, return_when=asyncio.FIRST_COMPLETED
                            )
                            if receiving not in done:
                                receiving.cancel()
                                return
                            message = orjson.loads(receiving.result())
                            kind, channel = message.get("type"), message.get("channel")
                            if kind == "subscribed":
                                window = Window(now_ms())
                                self.ledger.ws_windows.append(window)
                            elif channel == "fills" and kind == "fill":
                                self.ledger.record_ws_fill(message, connection, now_ms())
                            elif channel == "orders":
                                self.ledger.record_ws_order_event(message)
                            elif (
                                kind == "error"
                                and message.get("error", {}).get("code") == "token_expired"
                            ):
                                await self.login()
                                break
                    finally:
                        closing.cancel()
            except Exception:  # any drop: note the end of the window and reconnect
                pass
            finally:
                if window is not None:
                    window.closed_ms = now_ms()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ws_stop.wait(), timeout=0.3)

    def stop_following(self) -> None:
        self._ws_stop.set()

    # -- the end ---------------------------------------------------------------------------------

    async def wind_down(self, deadline: float) -> None:
        """Cancel every open order until the venue lists each accepted order as terminal (or
        `deadline`), then read back every accepted order with `GET /api/orders/{id}`, the
        account's orders, fills and balances into the ledger."""
        listed: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            listed = await self.list_orders("all")
            known = {o["id"] for o in listed}
            still_open = [o["id"] for o in listed if o["status"] not in TERMINAL]
            await self._each([i for i in still_open], self.cancel)
            if not still_open and known >= set(self.ledger.orders):
                break
            await asyncio.sleep(1.0)
        self.ledger.listed_orders = listed

        async def read(order_id: str) -> None:
            response = await self.call("GET", f"/api/orders/{order_id}")
            if response is not None and response.status_code == 200:
                self.ledger.final_orders[order_id] = response.json()["order"]

        await self._each(list(self.ledger.orders), read)
        self.ledger.table_fills = await self.pages("/api/trades", "trades", {})
        self.ledger.balances = await self.read_balances()

    async def _each(self, order_ids: list[str], action: Any, concurrency: int = 8) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(order_id: str) -> None:
            async with gate:
                await action(order_id)

        await asyncio.gather(*(one(i) for i in order_ids))

    async def list_orders(self, status: str) -> list[dict[str, Any]]:
        return await self.pages("/api/orders", "orders", {"status": status})

    async def pages(self, path: str, key: str, params: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
            response = await self.call("GET", path, params=query)
            if response is None or response.status_code != 200:
                raise RuntimeError(f"{self.name}: {path} unreadable: {_describe(response)}")
            page = response.json()
            items.extend(page[key])
            cursor = page.get("cursor")
            if not cursor:
                return items

    async def aclose(self) -> None:
        await self.client.aclose()


def _on_tick(price: Decimal, tick: Decimal) -> str:
    return str(price.quantize(tick, rounding=ROUND_DOWN))


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("code"))
    except ValueError:
        return "not-json"


def _describe(response: httpx.Response | None) -> str:
    if response is None:
        return "no answer"
    return f"{response.status_code} {response.text[:200]}"

"""The bots: each a signed-in, funded trader with a few keep-alive HTTP connections to the gateway
and one private WebSocket (`orders` and `fills`), acting on a fixed schedule.

Every order a bot places is tracked from the `POST` to its last engine event: when it was sent,
when the `202` came back, when its first taker fill arrived on the `fills` channel, and its status
and filled quantity as the engine's events on the `orders` channel tell them. That engine view is
what the projection is checked against after the load stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from services.loadtest.http import HttpError, KeepAliveConnection
from services.loadtest.orderflow import (
    FlowConfig,
    MarketTerms,
    MidPrice,
    new_order,
    next_action,
    passive_price,
)

TERMINAL = frozenset({"filled", "cancelled", "expired", "rejected"})
PASSWORD = "load test passphrase 9"
# Demo faucet caps are USD 1,000,000, BTC 10, ETH 100, SOL 5,000 (services/orders/settings.py);
# a bot takes a little under each. Other assets get 1,000,000 and halve on refusal.
FAUCET = {"USD": "900000", "BTC": "9", "ETH": "90", "SOL": "4500"}
ZERO = Decimal(0)


@dataclass(slots=True)
class OrderTrack:
    """One order placed by a bot, as seen by the bot."""

    id: str
    symbol: str
    side: str
    qty: str
    crossing: bool
    sent_at: float
    acked_at: float
    in_window: bool
    status: str = "pending"
    filled: Decimal = ZERO
    first_fill_at: float | None = None
    """Monotonic time of the first fill of this order as taker on the `fills` channel."""
    first_event_at: float | None = None
    """Monotonic time the first engine event of this order reached the `orders` channel."""
    last_event_at: float | None = None

    def engine_view(self) -> tuple[str, Decimal]:
        """(status, filled) in the projection's vocabulary."""
        status = self.status
        if status == "open" and self.filled > 0:
            status = "partially_filled"
        return status, self.filled


@dataclass
class Tally:
    """Counters and samples shared by every bot; only what happens inside the measurement
    window counts (`window_start <= t < window_end`)."""

    window_start: float = float("inf")
    window_end: float = float("inf")
    requests: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    ack_ms: dict[str, list[float]] = field(
        default_factory=lambda: {"new": [], "cancel": [], "amend": []}
    )
    errors: list[str] = field(default_factory=list)
    ws_messages: int = 0
    fill_messages: int = 0
    public_trades: int = 0
    slots_missed: int = 0
    total_accepted: int = 0

    def in_window(self, t: float) -> bool:
        return self.window_start <= t < self.window_end

    def count(self, what: str, status: int, latency_ms: float, t: float) -> None:
        if not self.in_window(t):
            return
        self.requests[what] = self.requests.get(what, 0) + 1
        if 200 <= status < 300:
            self.ack_ms[what].append(latency_ms)
        else:
            key = f"{what} {status}"
            self.refused[key] = self.refused.get(key, 0) + 1

    def error(self, text: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(text[:300])


class Trader:
    """One bot. `sign_up()`, `connect()`, then `run(stop)` until `stop` is set."""

    def __init__(
        self,
        index: int,
        *,
        host: str,
        port: int,
        run_id: str,
        rng: random.Random,
        flow: FlowConfig,
        markets: Mapping[str, MarketTerms],
        mids: Mapping[str, MidPrice],
        tally: Tally,
        connections: int,
    ) -> None:
        self.index = index
        self.host = host
        self.port = port
        self.email = f"bench-{run_id}-{index}@example.com"
        self.rng = rng
        self.flow = flow
        self.markets = markets
        self.symbols = sorted(markets)
        self.mids = mids
        self.tally = tally
        self.connections = [KeepAliveConnection(host, port) for _ in range(max(1, connections))]
        self.token = ""
        self.account = ""
        self.auth = b""
        self.orders: dict[str, OrderTrack] = {}
        self.open: dict[str, OrderTrack] = {}  # resting, per the engine's events, oldest first
        self.placed: list[str] = []
        self._early_fills: dict[str, float] = {}  # taker fills that beat their 202
        self._early_events: dict[str, list[tuple[dict[str, Any], float]]] = {}
        self._ws: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._next_slot = 0.0
        self._interval = 1.0

    # -- set-up ------------------------------------------------------------------------------

    async def sign_up(self, assets: set[str]) -> None:
        """Sign up, sign in and fund the account from the demo faucet."""
        credentials = orjson.dumps({"email": self.email, "password": PASSWORD})
        status, body = await self._retrying("/api/auth/signup", credentials)
        if status not in (201, 409):
            raise RuntimeError(f"signup failed: {status} {body[:200]!r}")
        status, body = await self._retrying("/api/auth/login", credentials)
        if status != 200:
            raise RuntimeError(f"login failed: {status} {body[:200]!r}")
        self.token = orjson.loads(body)["access_token"]
        self.auth = b"Authorization: Bearer %s\r\n" % self.token.encode()
        for asset in sorted(assets):
            await self._fund(asset)

    async def _retrying(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST, again after a gateway timeout (password hashing is slow on a busy machine;
        signing up twice answers 409, which `sign_up` accepts)."""
        for _ in range(5):
            status, answer = await self.connections[0].request("POST", path, body)
            if status not in (502, 503, 504):
                break
            await asyncio.sleep(1.0)
        return status, answer

    async def _fund(self, asset: str) -> None:
        amount = Decimal(FAUCET.get(asset, "1000000"))
        for _ in range(4):
            body = orjson.dumps({"asset": asset, "amount": str(amount)})
            status, answer = await self.connections[0].request(
                "POST", "/api/balances/deposit?wait=true", body, self.auth
            )
            if status == 202:
                transfer = orjson.loads(answer)["transfer"]
                if transfer["status"] != "applied":
                    raise RuntimeError(f"deposit of {asset} not applied: {transfer}")
                return
            if b"faucet_cap_exceeded" not in answer:
                raise RuntimeError(f"deposit of {asset} failed: {status} {answer[:200]!r}")
            amount /= 2
        raise RuntimeError(f"the faucet refused every amount of {asset}")

    async def connect(self, ws_url: str) -> None:
        """Open the private WebSocket: authenticate, subscribe to `orders` and `fills`."""
        from websockets.asyncio.client import connect

        self._ws = await connect(ws_url, max_size=None, compression=None, open_timeout=30)
        await self._ws.send(orjson.dumps({"op": "auth", "token": self.token}).decode())
        reply = orjson.loads(await self._ws.recv())
        while reply.get("type") == "heartbeat":
            reply = orjson.loads(await self._ws.recv())
        if reply.get("type") != "authenticated":
            raise RuntimeError(f"WebSocket auth failed: {reply}")
        self.account = reply["account"]
        await self._ws.send(
            orjson.dumps({"op": "subscribe", "channels": ["orders", "fills"]}).decode()
        )
        self._listener = asyncio.create_task(self._listen(), name=f"ws:{self.index}")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        for connection in self.connections:
            connection.close()

    # -- the action loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, requests_per_s: float) -> None:
        """Act `requests_per_s` times a second (spread over this bot's connections) until
        `stop`. A slot more than a second late is skipped (counted in `slots_missed`), so a
        slow venue sees the offered rate, not a burst of catch-up requests."""
        self._interval = 1.0 / requests_per_s
        self._next_slot = time.monotonic() + self.rng.random() * self._interval
        workers = [asyncio.create_task(self._worker(c, stop)) for c in self.connections]
        await asyncio.gather(*workers)

    async def _worker(self, http: KeepAliveConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.monotonic()
            if self._next_slot < now - 1.0:
                missed = int((now - self._next_slot) / self._interval)
                if self.tally.in_window(now):
                    self.tally.slots_missed += missed
                self._next_slot += missed * self._interval
            slot = self._next_slot
            self._next_slot += self._interval
            if slot > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), slot - now)
                if stop.is_set():
                    return
            try:
                await self._act(http)
            except HttpError as exc:
                self.tally.error(f"trader {self.index}: {exc}")
                await asyncio.sleep(0.1)

    async def _act(self, http: KeepAliveConnection) -> None:
        action = next_action(self.rng, self.flow, len(self.open))
        if action == "cancel" and self.open:
            await self._cancel(http)
        elif action == "amend" and self.open:
            await self._amend(http)
        else:
            await self._place(http)

    async def _place(self, http: KeepAliveConnection) -> None:
        symbol = self.symbols[self.rng.randrange(len(self.symbols))]
        body, crossing = new_order(
            self.rng, self.flow, self.markets[symbol], self.mids[symbol].ticks
        )
        sent = time.monotonic()
        status, answer = await http.request("POST", "/api/orders", orjson.dumps(body), self.auth)
        acked = time.monotonic()
        self.tally.count("new", status, (acked - sent) * 1000, sent)
        if status != 202:
            if status >= 500 or status == 429:
                self.tally.error(f"POST /api/orders {status}: {answer[:200]!r}")
            return
        order_id = orjson.loads(answer)["order"]["id"]
        self.tally.total_accepted += 1
        track = OrderTrack(
            order_id,
            symbol,
            body["side"],
            body["qty"],
            crossing,
            sent,
            acked,
            self.tally.in_window(sent),
        )
        self.orders[order_id] = track
        self.placed.append(order_id)
        early = self._early_fills.pop(order_id, None)
        if early is not None:
            track.first_fill_at = early
        for message, at in self._early_events.pop(order_id, ()):
            self._on_order_event(message, at)

    async def _cancel(self, http: KeepAliveConnection) -> None:
        order_id = next(iter(self.open))
        self.open.pop(order_id)
        sent = time.monotonic()
        status, _ = await http.request("DELETE", f"/api/orders/{order_id}", None, self.auth)
        self.tally.count("cancel", status, (time.monotonic() - sent) * 1000, sent)

    async def _amend(self, http: KeepAliveConnection) -> None:
        ids = list(self.open)
        order_id = ids[self.rng.randrange(len(ids))]
        track = self.open.pop(order_id)  # back in `open` when the engine rests it again
        price = passive_price(self.rng, self.flow, track.side, self.mids[track.symbol].ticks)
        body = orjson.dumps({"price": self.markets[track.symbol].price(price)})
        sent = time.monotonic()
        status, _ = await http.request("PATCH", f"/api/orders/{order_id}", body, self.auth)
        self.tally.count("amend", status, (time.monotonic() - sent) * 1000, sent)
        if status != 202 and track.status not in TERMINAL:
            self.open[order_id] = track  # e.g. not projected yet (404): still resting

    # -- the private WebSocket ---------------------------------------------------------------

    async def _listen(self) -> None:
        tally = self.tally
        try:
            async for raw in self._ws:
                now = time.monotonic()
                message = orjson.loads(raw)
                tally.ws_messages += 1
                channel = message.get("channel")
                if channel == "fills":
                    self._on_fill(message, now)
                elif channel == "orders":
                    self._on_order_event(message, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            tally.error(f"trader {self.index} WebSocket: {type(exc).__name__}: {exc}")

    def _on_fill(self, message: dict[str, Any], now: float) -> None:
        self.tally.fill_messages += 1
        if message.get("role") != "taker":
            return
        order_id = message["order_id"]
        track = self.orders.get(order_id)
        if track is None:
            self._early_fills.setdefault(order_id, now)
        elif track.first_fill_at is None:
            track.first_fill_at = now

    def _on_order_event(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("type")
        order_id = message.get("order_id")
        if not isinstance(order_id, str):
            return
        track = self.orders.get(order_id)
        if track is None:  # the event beat the 202: applied when the 202 arrives
            if len(self._early_events) < 10_000:
                self._early_events.setdefault(order_id, []).append((message, now))
            return
        if track.first_event_at is None:
            track.first_event_at = now
        track.last_event_at = now
        if kind == "trade":
            track.filled = max(track.filled, Decimal(message["filled"]))
            return
        if track.status in TERMINAL:
            return  # e.g. the engine refusing an amend of an order that had already filled
        if kind in ("accepted", "amended"):
            track.status = "open"
        elif kind == "rested":
            track.status = "open"
            track.filled = max(track.filled, Decimal(message.get("filled") or 0))
            self.open[order_id] = track
        elif kind in TERMINAL:
            track.status = kind
            if "filled" in message:
                track.filled = max(track.filled, Decimal(message["filled"]))
            self.open.pop(order_id, None)
        elif kind == "order_rejected":
            track.status = "rejected"
            self.open.pop(order_id, None)


async def public_listener(
    ws_url: str, symbols: list[str], tally: Tally, ready: asyncio.Event
) -> None:
    """A public subscriber (books and trades of every symbol); counts trades on the tape."""
    from websockets.asyncio.client import connect

    channels = [f"{kind}:{symbol}" for symbol in symbols for kind in ("book", "trades")]
    try:
        async with connect(ws_url, max_size=None, compression=None, open_timeout=30) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channels": channels}).decode())
            ready.set()
            async for raw in ws:
                message = orjson.loads(raw)
                tally.ws_messages += 1
                if message.get("type") == "trades" and tally.in_window(time.monotonic()):
                    tally.public_trades += len(message["data"])
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        ready.set()
        tally.error(f"public WebSocket: {type(exc).__name__}: {exc}")

"""The WebSocket fan-out: channels, subscribers, coalesced book diffs, bounded send queues.

The hub knows nothing about sockets. A `Subscriber` is a bounded queue of ready-to-send JSON
texts that a connection drains (`ws.py`). Every message is serialized once per channel and the
same text is queued for every subscriber of that channel.

Book changes are coalesced per symbol between two `flush()` calls (the publish tick): a diff
carries the *new total* of each level that changed and the first and last sequence numbers it
covers, so consecutive diffs of a symbol always satisfy `first_seq == previous last_seq + 1`
(events that move no level still advance the range). A new book subscriber first makes the hub
flush that symbol's pending diff to the existing subscribers, then gets a snapshot at the current
sequence number, so its first diff starts exactly at `snapshot.seq + 1`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from services.marketdata.book import BUY, Level
from services.marketdata.candles import Candle
from services.marketdata.decimals import decimal_text
from services.marketdata.metrics import (
    WS_CLIENTS,
    WS_DROPPED,
    WS_MESSAGES_QUEUED,
    WS_PUBLISHED,
)
from services.marketdata.state import MarketDataState, SymbolUpdate

log = logging.getLogger(__name__)

PRIVATE_CHANNELS = ("orders", "fills", "balances")


def dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


class Subscriber:
    """One connection's side of the hub: its channels, its account and its send queue.

    The queue holds at most `max_queue` messages. A subscriber that falls further behind is
    dropped (`dropped` says why): its queue is replaced by one error message and the connection
    closes, rather than letting the server's memory grow without bound.
    """

    __slots__ = (
        "account",
        "channels",
        "dropped",
        "id",
        "max_queue",
        "queue",
        "send_started",
        "sender",
    )

    def __init__(self, max_queue: int) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.max_queue = max_queue
        self.channels: set[str] = set()
        self.account: str | None = None
        self.dropped: str | None = None
        # Set by the connection: the task draining the queue, and since when (monotonic) its
        # current send has been blocked, so a peer that stopped reading can be cut off.
        self.sender: asyncio.Task[None] | None = None
        self.send_started: float | None = None

    def offer(self, text: str) -> bool:
        """Queue a message; False if the subscriber is (now) dropped."""
        if self.dropped is not None:
            return False
        if self.queue.qsize() >= self.max_queue:
            self.drop(
                "slow_consumer",
                f"Your connection fell more than {self.max_queue} messages behind; reconnect "
                "and resubscribe (book channels resend a snapshot).",
            )
            return False
        self.queue.put_nowait(text)
        return True

    def drop(self, code: str, message: str) -> None:
        """Give up on this subscriber: discard what is queued, queue one error, then close."""
        if self.dropped is not None:
            return
        self.dropped = code
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(dumps({"type": "error", "error": {"code": code, "message": message}}))
        self.queue.put_nowait(None)  # the sender closes the socket when it reaches this


@dataclass(slots=True)
class PendingDiff:
    first_seq: int
    last_seq: int
    ts: int | None = None
    bids: dict[str, Decimal] = field(default_factory=dict)
    asks: dict[str, Decimal] = field(default_factory=dict)


class Hub:
    """Channels of one market data process and the coalescing of what they publish."""

    def __init__(self, state: MarketDataState, *, max_queue: int = 1000) -> None:
        self.state = state
        self.max_queue = max_queue
        self.channels: dict[str, set[Subscriber]] = {}
        self.accounts: dict[str, set[Subscriber]] = {}
        self.subscribers: set[Subscriber] = set()
        self._books: dict[str, PendingDiff] = {}
        self._trades: dict[str, list[dict[str, Any]]] = {}
        self._candles: dict[str, dict[int, Candle]] = {}
        self._tickers: set[str] = set()
        self.published = 0

    # -- connections -----------------------------------------------------------------------------

    def connect(self) -> Subscriber:
        subscriber = Subscriber(self.max_queue)
        self.subscribers.add(subscriber)
        WS_CLIENTS.set(len(self.subscribers))
        return subscriber

    def disconnect(self, subscriber: Subscriber) -> None:
        for channel in list(subscriber.channels):
            self.unsubscribe(subscriber, channel)
        self.set_account(subscriber, None)
        self.subscribers.discard(subscriber)
        WS_CLIENTS.set(len(self.subscribers))

    def set_account(self, subscriber: Subscriber, account: str | None) -> None:
        if subscriber.account == account:
            return
        if subscriber.account is not None:
            owners = self.accounts.get(subscriber.account)
            if owners is not None:
                owners.discard(subscriber)
                if not owners:
                    del self.accounts[subscriber.account]
            for channel in PRIVATE_CHANNELS:
                subscriber.channels.discard(channel)
        subscriber.account = account
        if account is not None:
            self.accounts.setdefault(account, set()).add(subscriber)

    def subscribe(self, subscriber: Subscriber, channel: str) -> None:
        """Add a (validated) channel and queue what a new subscriber of it starts with."""
        if channel in subscriber.channels:
            return
        subscriber.channels.add(channel)
        if channel in PRIVATE_CHANNELS:
            return
        kind, symbol, *rest = channel.split(":")
        if kind == "book":
            self._flush_book(symbol)  # so the snapshot's seq is where the next diff starts
        self.channels.setdefault(channel, set()).add(subscriber)
        state = self.state.view(symbol)
        if kind == "book":
            snapshot = {"channel": channel, "type": "snapshot", **state.book.depth()}
            subscriber.offer(dumps(snapshot))
        elif kind == "ticker":
            subscriber.offer(
                dumps({"channel": channel, "type": "ticker", "data": state.ticker_wire()})
            )
        elif kind == "candles":
            series = state.candles[rest[0]]
            if series.candles:
                latest = [series.candles[-1].to_wire()]
                subscriber.offer(dumps({"channel": channel, "type": "candles", "data": latest}))

    def unsubscribe(self, subscriber: Subscriber, channel: str) -> None:
        subscriber.channels.discard(channel)
        members = self.channels.get(channel)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self.channels[channel]

    # -- input -----------------------------------------------------------------------------------

    def on_update(self, update: SymbolUpdate) -> None:
        """Record what an applied event changed, for the next flush (only for watched channels)."""
        symbol = update.symbol
        channels = self.channels
        if "book:" + symbol in channels:
            pending = self._books.get(symbol)
            if pending is None:
                pending = self._books[symbol] = PendingDiff(update.seq, update.seq)
            pending.last_seq = update.seq
            if update.ts is not None:
                pending.ts = update.ts
            for side, price, qty in update.levels:
                (pending.bids if side == BUY else pending.asks)[price] = qty
        if update.trade is not None and "trades:" + symbol in channels:
            self._trades.setdefault(symbol, []).append(update.trade)
        for interval, candle in update.candles:
            if f"candles:{symbol}:{interval}" in channels:
                self._candles.setdefault(f"{symbol}:{interval}", {})[candle.start] = candle
        if update.ticker_changed and "ticker:" + symbol in channels:
            self._tickers.add(symbol)

    def publish_private(self, account: str, channel: str, message: dict[str, Any]) -> None:
        """Send a private message to every connection of `account` subscribed to `channel`."""
        owners = self.accounts.get(account)
        if not owners:
            return
        text: str | None = None
        for subscriber in list(owners):
            if channel in subscriber.channels:
                if text is None:
                    text = dumps({"channel": channel, **message})
                self._deliver(subscriber, text)
        if text is not None:
            self.published += 1
            WS_PUBLISHED.labels(channel).inc()

    # -- output ----------------------------------------------------------------------------------

    def flush(self) -> int:
        """Publish everything coalesced since the last flush; returns the messages published."""
        before = self.published
        for symbol in list(self._books):
            self._flush_book(symbol)
        trades, self._trades = self._trades, {}
        for symbol, items in trades.items():
            self.publish(f"trades:{symbol}", {"type": "trades", "data": items})
        candles, self._candles = self._candles, {}
        for key, by_start in candles.items():
            changed = [by_start[start].to_wire() for start in sorted(by_start)]
            self.publish(f"candles:{key}", {"type": "candles", "data": changed})
        tickers, self._tickers = self._tickers, set()
        for symbol in sorted(tickers):
            ticker = self.state.view(symbol).ticker_wire()
            self.publish(f"ticker:{symbol}", {"type": "ticker", "data": ticker})
        return self.published - before

    def _flush_book(self, symbol: str) -> None:
        pending = self._books.pop(symbol, None)
        if pending is None:
            return
        message: dict[str, Any] = {
            "type": "diff",
            "symbol": symbol,
            "first_seq": pending.first_seq,
            "last_seq": pending.last_seq,
            "bids": _levels(pending.bids, descending=True),
            "asks": _levels(pending.asks, descending=False),
        }
        if pending.ts is not None:
            message["ts"] = pending.ts
        self.publish(f"book:{symbol}", message)

    def publish(self, channel: str, message: dict[str, Any]) -> int:
        """Serialize once, queue for every subscriber of `channel`; returns how many got it."""
        members = self.channels.get(channel)
        if not members:
            return 0
        text = dumps({"channel": channel, **message})
        delivered = 0
        for subscriber in list(members):
            delivered += self._deliver(subscriber, text)
        self.published += 1
        WS_PUBLISHED.labels(channel.split(":", 1)[0]).inc()
        WS_MESSAGES_QUEUED.inc(delivered)
        return delivered

    def _deliver(self, subscriber: Subscriber, text: str) -> int:
        if subscriber.offer(text):
            return 1
        # Dropped: stop feeding it at once; its connection closes and calls disconnect().
        WS_DROPPED.labels(subscriber.dropped or "closed").inc()
        for channel in list(subscriber.channels):
            self.unsubscribe(subscriber, channel)
        self.set_account(subscriber, None)
        return 0

    def cut_stalled(self, timeout_s: float, now: float) -> int:
        """Drop connections whose current send has been blocked longer than `timeout_s` (the
        peer stopped reading and the socket buffer is full); returns how many."""
        cut = 0
        for subscriber in list(self.subscribers):
            started = subscriber.send_started
            if started is not None and now - started > timeout_s:
                subscriber.drop("slow_consumer", f"A send was blocked for over {timeout_s:g} s.")
                WS_DROPPED.labels("send_timeout").inc()
                if subscriber.sender is not None:
                    subscriber.sender.cancel()
                cut += 1
        return cut

    def broadcast(self, message: dict[str, Any]) -> None:
        """Queue one message (e.g. a heartbeat) for every connection."""
        text = dumps(message)
        for subscriber in list(self.subscribers):
            self._deliver(subscriber, text)

    def drop_all(self, code: str, message: str) -> None:
        for subscriber in list(self.subscribers):
            subscriber.drop(code, message)


def _levels(levels: dict[str, Decimal], *, descending: bool) -> list[Level]:
    ordered: Iterable[tuple[str, Decimal]] = sorted(
        levels.items(), key=lambda item: Decimal(item[0]), reverse=descending
    )
    return [[price, decimal_text(qty)] for price, qty in ordered]

"""`/ws`: the WebSocket protocol (subscribe, unsubscribe, auth, ping) of one connection.

Requests are JSON text frames `{"op": ..., "id"?: ...}`; a reply echoes `id`. Public channels:
`book:<SYMBOL>`, `trades:<SYMBOL>`, `ticker:<SYMBOL>`, `candles:<SYMBOL>:<INTERVAL>`; private ones
(`orders`, `fills`, `balances`) after `{"op":"auth","token":...}`. The server sends a heartbeat
every few seconds, drops a connection whose send queue overflows (close code 1008) and closes one
whose token expires (4001) after telling it why. See docs/marketdata.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketState

from services.common.errors import TradestackError
from services.marketdata.candles import INTERVALS
from services.marketdata.hub import PRIVATE_CHANNELS, Subscriber, dumps
from services.marketdata.service import MarketDataService

log = logging.getLogger(__name__)

router = APIRouter()

CLOSE_CODES = {"slow_consumer": 1008, "token_expired": 4001, "going_away": 1001}
MAX_CHANNELS_PER_REQUEST = 100


class RequestError(Exception):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    service: MarketDataService = websocket.app.state.marketdata
    await Connection(websocket, service).serve()


def channel_problem(channel: str) -> str | None:
    """Why a channel name is malformed (None if well-formed; the symbol is checked later)."""
    if channel in PRIVATE_CHANNELS:
        return None
    parts = channel.split(":")
    kind = parts[0]
    if kind in ("book", "trades", "ticker"):
        if len(parts) != 2 or not parts[1]:
            return f"use {kind}:<SYMBOL>"
    elif kind == "candles":
        if len(parts) != 3 or not parts[1]:
            return "use candles:<SYMBOL>:<INTERVAL>"
        if parts[2] not in INTERVALS:
            return f"unknown interval {parts[2]!r}; use one of {', '.join(INTERVALS)}"
    else:
        return (
            "unknown channel; public: book:<SYMBOL>, trades:<SYMBOL>, ticker:<SYMBOL>, "
            "candles:<SYMBOL>:<INTERVAL>; private (after auth): orders, fills, balances"
        )
    return None


class Connection:
    """One client: a receive loop answering requests and a send loop draining its queue."""

    def __init__(self, websocket: WebSocket, service: MarketDataService) -> None:
        self.websocket = websocket
        self.service = service
        self.settings = service.settings
        self.hub = service.hub
        self.subscriber: Subscriber | None = None
        self._expiry: asyncio.TimerHandle | None = None

    async def serve(self) -> None:
        await self.websocket.accept()
        subscriber = self.subscriber = self.hub.connect()
        sender = subscriber.sender = asyncio.create_task(self._send_loop(subscriber))
        receiver = asyncio.create_task(self._receive_loop(subscriber))
        try:
            await asyncio.wait((sender, receiver), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            self.hub.disconnect(subscriber)
            for task in (sender, receiver):
                task.cancel()
            for task in (sender, receiver):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.websocket.close(), self.settings.ws_send_timeout_s)

    async def _send_loop(self, subscriber: Subscriber) -> None:
        queue = subscriber.queue
        send = self.websocket.send_text
        clock = time.monotonic
        while True:
            text = await queue.get()
            if text is None:
                code = CLOSE_CODES.get(subscriber.dropped or "", 1008)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.websocket.close(code=code, reason=subscriber.dropped or ""),
                        self.settings.ws_send_timeout_s,
                    )
                return
            # No timeout per send (a task per message would cost more than the send): the
            # service's watchdog cancels this task if a send stays blocked too long.
            subscriber.send_started = clock()
            await send(text)
            subscriber.send_started = None

    async def _receive_loop(self, subscriber: Subscriber) -> None:
        limit = self.settings.ws_max_message_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            request_id: Any = None
            try:
                if text is None:
                    raise RequestError("bad_request", "Send JSON requests as text frames.")
                if len(text) > limit:
                    raise RequestError("message_too_large", f"Requests are at most {limit} bytes.")
                try:
                    request = orjson.loads(text)
                except orjson.JSONDecodeError:
                    raise RequestError("malformed_json", "The request is not valid JSON.") from None
                if not isinstance(request, dict):
                    raise RequestError(
                        "bad_request", 'A request is a JSON object like {"op": ...}.'
                    )
                request_id = request.get("id")
                if request_id is not None and not isinstance(request_id, str | int):
                    request_id = None
                    raise RequestError("bad_request", "`id` must be a string or an integer.")
                await self._dispatch(subscriber, request, request_id)
            except RequestError as exc:
                self._reply(subscriber, request_id, _error(exc.code, exc.message, exc.details))

    async def _dispatch(
        self, subscriber: Subscriber, request: dict[str, Any], request_id: Any
    ) -> None:
        op = request.get("op")
        if op == "subscribe":
            channels = await self._subscribe(subscriber, request)
            self._reply(subscriber, request_id, {"type": "subscribed", "channels": channels})
            for channel in channels:
                self.hub.subscribe(subscriber, channel)
        elif op == "unsubscribe":
            channels = _channel_list(request)
            for channel in channels:
                self.hub.unsubscribe(subscriber, channel)
            self._reply(subscriber, request_id, {"type": "unsubscribed", "channels": channels})
        elif op == "auth":
            await self._auth(subscriber, request, request_id)
        elif op == "ping":
            self._reply(subscriber, request_id, {"type": "pong", "ts": int(time.time() * 1000)})
        else:
            raise RequestError(
                "unknown_op", f"Unknown op {op!r}; use subscribe, unsubscribe, auth or ping."
            )

    async def _subscribe(self, subscriber: Subscriber, request: dict[str, Any]) -> list[str]:
        """The requested channels, validated as a whole: all are added, or none is."""
        channels = _channel_list(request)
        problems: dict[str, str] = {}
        for channel in channels:
            problem = channel_problem(channel)
            if problem is None and channel in PRIVATE_CHANNELS and subscriber.account is None:
                problem = 'private channel: send {"op":"auth","token":...} first'
            if problem is None and channel not in PRIVATE_CHANNELS:
                symbol = channel.split(":")[1]
                if not await self.service.is_known(symbol):
                    problem = f"unknown market {symbol!r}"
            if problem is not None:
                problems[channel] = problem
        if problems:
            first = next(iter(problems.items()))
            raise RequestError(
                "bad_channel", f"Cannot subscribe to {first[0]!r}: {first[1]}.", channels=problems
            )
        added = [c for c in channels if c not in subscriber.channels]
        cap = self.settings.ws_max_subscriptions
        if len(subscriber.channels) + len(added) > cap:
            raise RequestError(
                "too_many_subscriptions",
                f"At most {cap} subscriptions per connection; you have {len(subscriber.channels)}.",
            )
        return channels

    async def _auth(self, subscriber: Subscriber, request: dict[str, Any], request_id: Any) -> None:
        token = request.get("token")
        if not isinstance(token, str) or not token:
            raise RequestError("bad_request", 'auth needs {"token": "<access token>"}.')
        if self.service.tokens is None:
            raise RequestError("auth_unavailable", "This server cannot verify tokens.")
        try:
            account, expires_at = await self.service.tokens.check(token)
        except TradestackError as exc:
            raise RequestError(exc.code, exc.message) from None
        remaining = expires_at - time.time()
        if remaining <= 0:
            raise RequestError("token_expired", "The token has expired.")
        self.hub.set_account(subscriber, account)  # another account's private channels go
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = asyncio.get_running_loop().call_later(
            remaining,
            subscriber.drop,
            "token_expired",
            "Your access token expired; reconnect and authenticate with a fresh token.",
        )
        self._reply(
            subscriber,
            request_id,
            {"type": "authenticated", "account": account, "expires_at": int(expires_at)},
        )

    def _reply(self, subscriber: Subscriber, request_id: Any, message: dict[str, Any]) -> None:
        if request_id is not None:
            message = {**message, "id": request_id}
        subscriber.offer(dumps(message))


def _channel_list(request: dict[str, Any]) -> list[str]:
    channels = request.get("channels")
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(c, str) and c for c in channels)
    ):
        raise RequestError(
            "bad_request", '`channels` must be a non-empty list like ["book:BTC-USD"].'
        )
    if len(channels) > MAX_CHANNELS_PER_REQUEST:
        raise RequestError(
            "bad_request", f"At most {MAX_CHANNELS_PER_REQUEST} channels in one request."
        )
    return list(dict.fromkeys(channels))


def _error(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, **details}
    return {"type": "error", "error": error}

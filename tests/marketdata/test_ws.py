"""The WebSocket protocol against a served app: book sync, requests, errors, private channels."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import websockets

from services.marketdata.client import BookFollower
from services.matching.engine import MatchingEngine
from tests.marketdata.conftest import (
    RunningMarketData,
    connect,
    md_settings,
    receive,
    request,
    serve,
)
from tests.marketdata.scenario import KNOWN_COMMANDS, replay
from tests.marketdata.test_state import random_commands


async def test_book_snapshot_then_diffs_end_at_the_engine_book(
    marketdata: RunningMarketData,
) -> None:
    import random

    engine = MatchingEngine()
    commands = random_commands(random.Random(21), 1200)
    marketdata.service.apply_executions(replay(commands[:400], engine))
    async with connect(marketdata.ws_url) as ws:
        reply = await request(ws, {"op": "subscribe", "channels": ["book:BTC-USD"], "id": 1})
        assert reply == {"type": "subscribed", "channels": ["book:BTC-USD"], "id": 1}
        follower = BookFollower()
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot" and snapshot["seq"] == engine.sequence("BTC-USD")
        follower.on_message(snapshot)
        for start in range(400, 1200, 100):
            marketdata.service.apply_executions(replay(commands[start : start + 100], engine))
            await asyncio.sleep(0.015)
        target = engine.sequence("BTC-USD")
        while follower.seq != target:
            message = await receive(ws)
            assert message["channel"] == "book:BTC-USD" and message["type"] == "diff"
            assert message["first_seq"] == follower.seq + 1
            follower.on_message(message)
    bids, asks = engine.l2("BTC-USD")
    assert follower.levels() == ([list(b) for b in bids], [list(a) for a in asks])


async def test_trades_ticker_and_candles_channels(marketdata: RunningMarketData) -> None:
    async with connect(marketdata.ws_url) as ws:
        channels = ["trades:BTC-USD", "ticker:BTC-USD", "candles:BTC-USD:1d"]
        assert (await request(ws, {"op": "subscribe", "channels": channels}))[
            "type"
        ] == "subscribed"
        initial = await receive(ws)
        assert initial["channel"] == "ticker:BTC-USD" and initial["data"]["last"] is None
        marketdata.service.apply_executions(replay(KNOWN_COMMANDS))
        seen = {}
        while len(seen) < 3:
            message = await receive(ws)
            seen[message["channel"]] = message
        assert len(seen["trades:BTC-USD"]["data"]) == 4
        assert seen["ticker:BTC-USD"]["data"]["volume"] == "3.1000"
        assert seen["candles:BTC-USD:1d"]["data"][0]["close"] == "100.00"


async def test_unsubscribe_stops_the_channel(marketdata: RunningMarketData) -> None:
    async with connect(marketdata.ws_url) as ws:
        await request(ws, {"op": "subscribe", "channels": ["trades:BTC-USD"]})
        reply = await request(ws, {"op": "unsubscribe", "channels": ["trades:BTC-USD"]})
        assert reply == {"type": "unsubscribed", "channels": ["trades:BTC-USD"]}
        marketdata.service.apply_executions(replay(KNOWN_COMMANDS))
        await asyncio.sleep(0.05)
        pong = await request(ws, {"op": "ping", "id": "p"})
        assert pong["type"] == "pong" and pong["id"] == "p"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_json"),
        ("[1, 2]", "bad_request"),
        ('{"op": "dance"}', "unknown_op"),
        ('{"op": "subscribe"}', "bad_request"),
        ('{"op": "subscribe", "channels": "book:BTC-USD"}', "bad_request"),
        ('{"op": "subscribe", "channels": []}', "bad_request"),
        ('{"op": "subscribe", "channels": ["weather:BTC-USD"]}', "bad_channel"),
        ('{"op": "subscribe", "channels": ["book:DOGE-USD"]}', "bad_channel"),
        ('{"op": "subscribe", "channels": ["book"]}', "bad_channel"),
        ('{"op": "subscribe", "channels": ["candles:BTC-USD:2m"]}', "bad_channel"),
        ('{"op": "subscribe", "channels": ["orders"]}', "bad_channel"),
        ('{"op": "auth"}', "bad_request"),
        ('{"op": "auth", "token": "forged"}', "invalid_token"),
        ('{"op": "ping", "id": {"x": 1}}', "bad_request"),
    ],
)
async def test_bad_requests_get_clear_errors_and_the_connection_stays(
    marketdata: RunningMarketData, frame: str, code: str
) -> None:
    async with connect(marketdata.ws_url) as ws:
        await ws.send(frame)
        reply = await receive(ws)
        assert reply["type"] == "error"
        assert reply["error"]["code"] == code
        assert reply["error"]["message"]
        assert (await request(ws, {"op": "ping"}))["type"] == "pong"


async def test_a_bad_channel_fails_the_whole_subscribe(marketdata: RunningMarketData) -> None:
    async with connect(marketdata.ws_url) as ws:
        reply = await request(
            ws, {"op": "subscribe", "channels": ["trades:BTC-USD", "book:NOPE"], "id": 7}
        )
        assert reply["error"]["code"] == "bad_channel" and reply["id"] == 7
        assert reply["error"]["channels"] == {"book:NOPE": "unknown market 'NOPE'"}
        assert marketdata.service.hub.channels == {}


async def test_binary_and_oversized_frames(marketdata: RunningMarketData) -> None:
    async with connect(marketdata.ws_url) as ws:
        await ws.send(b"\x00\x01")
        assert (await receive(ws))["error"]["code"] == "bad_request"
        await ws.send('{"op":"ping","pad":"' + "x" * 20_000 + '"}')
        assert (await receive(ws))["error"]["code"] == "message_too_large"


async def test_subscriptions_are_capped(marketdata: RunningMarketData) -> None:
    channels = [f"candles:BTC-USD:{i}" for i in ("1m", "5m", "15m", "1h", "1d")]
    async with connect(marketdata.ws_url) as ws:
        await request(ws, {"op": "subscribe", "channels": channels})
        more = ["book:BTC-USD", "trades:BTC-USD", "ticker:BTC-USD", "book:ETH-USD"]
        reply = await request(ws, {"op": "subscribe", "channels": more})
        assert reply["error"]["code"] == "too_many_subscriptions"
        assert "At most 8" in reply["error"]["message"]


async def test_private_channels_deliver_only_the_owners_data(marketdata: RunningMarketData) -> None:
    far = time.time() + 3600
    marketdata.tokens.tokens.update({"tok-alice": ("alice", far), "tok-carol": ("carol", far)})
    async with connect(marketdata.ws_url) as alice, connect(marketdata.ws_url) as carol:
        for ws, token, account in ((alice, "tok-alice", "alice"), (carol, "tok-carol", "carol")):
            reply = await request(ws, {"op": "auth", "token": token})
            assert reply == {"type": "authenticated", "account": account, "expires_at": int(far)}
            reply = await request(
                ws, {"op": "subscribe", "channels": ["orders", "fills", "balances"]}
            )
            assert reply["type"] == "subscribed"
        marketdata.service.apply_executions(replay(KNOWN_COMMANDS))
        marketdata.service.apply_account_message(
            {
                "kind": "ledger",
                "account": "alice",
                "id": "l1",
                "asset": "USD",
                "available_delta": "202",
                "held_delta": "0",
                "balance": {"available": "202", "held": "0"},
                "cause": "trade",
                "ref": "BTC-USD:8",
            }
        )
        marketdata.service.apply_account_message(
            {
                "kind": "order_rejected",
                "account": "carol",
                "id": "r1",
                "order_id": "c9",
                "reason": "insufficient_funds",
            }
        )
        alice_messages = [await receive(alice) for _ in range(9)]
        carol_messages = [await receive(carol) for _ in range(8)]
        assert not await _more(alice) and not await _more(carol)

    def summary(messages: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(m["channel"], m["type"], m.get("order_id")) for m in messages]

    assert summary(alice_messages) == [
        ("orders", "accepted", "s1"),
        ("orders", "rested", "s1"),
        ("orders", "accepted", "s2"),
        ("orders", "rested", "s2"),
        ("orders", "trade", "s1"),
        ("fills", "fill", "s1"),
        ("orders", "filled", "s1"),
        ("orders", "cancelled", "s2"),
        ("balances", "ledger", None),
    ]
    assert summary(carol_messages) == [
        ("orders", "accepted", "b2"),
        ("orders", "trade", "b2"),
        ("fills", "fill", "b2"),
        ("orders", "rested", "b2"),
        ("orders", "trade", "b2"),
        ("fills", "fill", "b2"),
        ("orders", "filled", "b2"),
        ("orders", "order_rejected", "c9"),
    ]
    assert alice_messages[5] == {
        "channel": "fills",
        "type": "fill",
        "trade_id": "BTC-USD:8",
        "symbol": "BTC-USD",
        "seq": 8,
        "ts": KNOWN_COMMANDS[3]["ts"],
        "order_id": "s1",
        "side": "sell",
        "role": "maker",
        "price": "101.00",
        "qty": "2.0000",
    }
    assert carol_messages[1]["role"] == "taker" and carol_messages[1]["filled"] == "2.0000"
    assert carol_messages[4]["remaining"] == "0.0000"
    assert alice_messages[8]["ref"] == "BTC-USD:8" and "kind" not in alice_messages[8]


async def test_private_channels_need_auth_and_a_new_account_loses_the_old_ones(
    marketdata: RunningMarketData,
) -> None:
    far = time.time() + 3600
    marketdata.tokens.tokens.update({"a": ("alice", far), "b": ("bob", far)})
    async with connect(marketdata.ws_url) as ws:
        await request(ws, {"op": "auth", "token": "a"})
        await request(ws, {"op": "subscribe", "channels": ["orders"]})
        await request(ws, {"op": "auth", "token": "b"})
        marketdata.service.apply_executions(replay(KNOWN_COMMANDS[:1]))  # alice's order
        assert not await _more(ws)


async def test_an_expired_token_is_told_and_closed() -> None:
    async for running in serve(md_settings()):
        running.tokens.tokens["short"] = ("alice", time.time() + 0.3)
        running.tokens.tokens["stale"] = ("alice", time.time() - 1)
        async with connect(running.ws_url) as ws:
            assert (await request(ws, {"op": "auth", "token": "stale"}))["error"][
                "code"
            ] == "token_expired"
            assert (await request(ws, {"op": "auth", "token": "short"}))["type"] == "authenticated"
            await request(ws, {"op": "subscribe", "channels": ["orders", "book:BTC-USD"]})
            await receive(ws)  # the book snapshot
            message = await receive(ws, timeout=3)
            assert message["type"] == "error" and message["error"]["code"] == "token_expired"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await receive(ws, timeout=3)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_heartbeats_arrive_on_an_idle_connection() -> None:
    async for running in serve(md_settings(ws_heartbeat_s=0.1)):
        async with connect(running.ws_url) as ws:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 2))
            assert message["type"] == "heartbeat" and isinstance(message["ts"], int)


async def _more(ws: websockets.ClientConnection) -> bool:
    try:
        await receive(ws, timeout=0.2)
    except TimeoutError:
        return False
    return True


async def test_a_client_that_falls_behind_is_dropped_with_a_reason() -> None:
    async for running in serve(md_settings(ws_send_queue=8)):
        async with connect(running.ws_url) as ws:
            await request(ws, {"op": "subscribe", "channels": ["trades:BTC-USD"]})
            for _ in range(50):  # all at once: the queue overflows before the sender runs
                running.service.hub.publish("trades:BTC-USD", {"type": "trades", "data": []})
            message = await receive(ws)
            assert message["type"] == "error" and message["error"]["code"] == "slow_consumer"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await receive(ws, timeout=3)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await asyncio.sleep(0.05)
        assert running.service.hub.subscribers == set()

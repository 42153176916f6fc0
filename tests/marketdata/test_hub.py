"""The fan-out: snapshot + coalesced diffs reproduce the engine's book; bounded queues."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from services.marketdata.client import BookFollower, SequenceGap
from services.marketdata.hub import Hub, Subscriber
from services.marketdata.state import MarketDataState
from services.matching.engine import MatchingEngine
from tests.marketdata.scenario import KNOWN_COMMANDS, replay
from tests.marketdata.test_state import random_commands


def drain(subscriber: Subscriber) -> list[dict[str, Any]]:
    messages = []
    while not subscriber.queue.empty():
        text = subscriber.queue.get_nowait()
        assert text is not None
        messages.append(orjson.loads(text))
    return messages


def apply_all(state: MarketDataState, hub: Hub, events: list[dict[str, Any]]) -> None:
    for event in events:
        update = state.apply(event)
        if update is not None:
            hub.on_update(update)


def test_snapshot_then_diffs_follow_the_engine_exactly() -> None:
    rng = random.Random(3)
    engine = MatchingEngine()
    state = MarketDataState()
    hub = Hub(state, max_queue=100_000)
    early = hub.connect()
    hub.subscribe(early, "book:BTC-USD")
    late: Subscriber | None = None
    followers = {"early": BookFollower(), "late": BookFollower()}
    last_seen = {"early": None, "late": None}
    for n, command in enumerate(random_commands(rng, 3000)):
        apply_all(state, hub, replay([command], engine))
        if n == 1200:  # joins mid-stream, with a diff pending for the others
            late = hub.connect()
            hub.subscribe(late, "book:BTC-USD")
        if rng.random() < 0.2:
            hub.flush()
        for name, subscriber in (("early", early), ("late", late)):
            if subscriber is None:
                continue
            for message in drain(subscriber):
                if message["type"] == "diff":
                    # the contract: every diff starts right after the previous one
                    assert message["first_seq"] == last_seen[name] + 1
                    assert message["last_seq"] >= message["first_seq"]
                    last_seen[name] = message["last_seq"]
                else:
                    last_seen[name] = message["seq"]
                assert followers[name].on_message(message)
    hub.flush()
    bids, asks = engine.l2("BTC-USD")
    expected = ([list(b) for b in bids], [list(a) for a in asks])
    for name, subscriber in (("early", early), ("late", late)):
        assert subscriber is not None
        for message in drain(subscriber):
            followers[name].on_message(message)
        assert followers[name].levels() == expected
        assert followers[name].seq == engine.sequence("BTC-USD")


def test_events_that_move_no_level_still_advance_the_range() -> None:
    state = MarketDataState()
    hub = Hub(state)
    subscriber = hub.connect()
    hub.subscribe(subscriber, "book:BTC-USD")
    apply_all(state, hub, replay(KNOWN_COMMANDS[:1]))  # accepted (no level) + rested
    hub.flush()
    snapshot, diff = drain(subscriber)
    assert snapshot == {
        "channel": "book:BTC-USD",
        "type": "snapshot",
        "seq": 0,
        "bids": [],
        "asks": [],
    }
    assert diff["first_seq"] == 1 and diff["last_seq"] == 2
    assert diff["asks"] == [["101.00", "2.0000"]] and diff["bids"] == []
    assert diff["ts"] == KNOWN_COMMANDS[0]["ts"]


def test_a_level_that_empties_is_sent_with_qty_zero() -> None:
    state = MarketDataState()
    hub = Hub(state)
    apply_all(state, hub, replay(KNOWN_COMMANDS[:3]))
    subscriber = hub.connect()
    hub.subscribe(subscriber, "book:BTC-USD")
    apply_all(state, hub, replay(KNOWN_COMMANDS[:4])[-4:])  # b2 takes all of 101.00
    hub.flush()
    snapshot, diff = drain(subscriber)
    assert snapshot["seq"] == 6
    assert (diff["first_seq"], diff["last_seq"]) == (7, 10)
    assert diff["asks"] == [["101.00", "0"]]
    assert diff["bids"] == [["101.50", "0.5000"]]


def test_a_missed_diff_is_detected_as_a_gap() -> None:
    follower = BookFollower()
    follower.on_message({"type": "snapshot", "seq": 10, "bids": [["1.00", "1"]], "asks": []})
    assert not follower.on_message(
        {"type": "diff", "first_seq": 9, "last_seq": 10, "bids": [], "asks": []}
    )
    follower.on_message(
        {"type": "diff", "first_seq": 11, "last_seq": 12, "bids": [["1.00", "0"]], "asks": []}
    )
    assert follower.levels() == ([], [])
    with pytest.raises(SequenceGap) as gap:
        follower.on_message(
            {"type": "diff", "first_seq": 14, "last_seq": 15, "bids": [], "asks": []}
        )
    assert (gap.value.expected, gap.value.first_seq) == (13, 14)


def test_trades_candles_and_ticker_channels() -> None:
    state = MarketDataState()
    hub = Hub(state)
    subscriber = hub.connect()
    for channel in ("trades:BTC-USD", "ticker:BTC-USD", "candles:BTC-USD:1h"):
        hub.subscribe(subscriber, channel)
    first_ticker = drain(subscriber)
    assert [m["type"] for m in first_ticker] == ["ticker"]  # no candles yet, trades start empty
    apply_all(state, hub, replay(KNOWN_COMMANDS))
    hub.flush()
    by_channel = {m["channel"]: m for m in drain(subscriber)}
    assert [t["id"] for t in by_channel["trades:BTC-USD"]["data"]] == [
        "BTC-USD:8",
        "BTC-USD:12",
        "BTC-USD:14",
        "BTC-USD:22",
    ]
    assert [c["trades"] for c in by_channel["candles:BTC-USD:1h"]["data"]] == [3, 1]
    assert by_channel["ticker:BTC-USD"]["data"]["last"] == "100.00"


def test_each_message_is_serialized_once_for_all_subscribers() -> None:
    state = MarketDataState()
    hub = Hub(state)
    subscribers = [hub.connect() for _ in range(50)]
    for subscriber in subscribers:
        hub.subscribe(subscriber, "trades:BTC-USD")
    apply_all(state, hub, replay(KNOWN_COMMANDS[:4]))
    hub.flush()
    texts = [s.queue.get_nowait() for s in subscribers]
    assert all(text is texts[0] for text in texts)


def test_a_slow_consumer_is_dropped_and_forgotten() -> None:
    state = MarketDataState()
    hub = Hub(state, max_queue=8)
    slow, fast = hub.connect(), hub.connect()
    for subscriber in (slow, fast):
        hub.subscribe(subscriber, "book:BTC-USD")
    engine = MatchingEngine()
    for command in random_commands(random.Random(5), 400):
        apply_all(state, hub, replay([command], engine))
        hub.flush()
        drain(fast)
    assert slow.dropped == "slow_consumer"
    assert fast.dropped is None
    assert hub.channels["book:BTC-USD"] == {fast}
    error = orjson.loads(slow.queue.get_nowait())
    assert error["error"]["code"] == "slow_consumer"
    assert slow.queue.get_nowait() is None and slow.queue.empty()


async def test_a_send_blocked_too_long_cuts_the_connection() -> None:
    import asyncio

    hub = Hub(MarketDataState())
    stuck, fine = hub.connect(), hub.connect()
    stuck.sender = asyncio.create_task(asyncio.sleep(60))
    stuck.send_started = 100.0
    fine.send_started = 109.5
    assert hub.cut_stalled(timeout_s=5, now=110.0) == 1
    await asyncio.sleep(0)
    assert stuck.dropped == "slow_consumer" and stuck.sender.cancelled()
    assert fine.dropped is None

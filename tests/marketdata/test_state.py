"""The state machine against hand-computed values for a known command stream."""

from __future__ import annotations

import random

from services.marketdata.state import MarketDataState
from services.matching.engine import MatchingEngine
from tests.marketdata.scenario import KNOWN_COMMANDS, T0, new, replay

MIN = 60_000


def known_state() -> MarketDataState:
    state = MarketDataState()
    for event in replay(KNOWN_COMMANDS):
        state.apply(event)
    return state


def test_book_after_the_known_stream() -> None:
    book = known_state().symbols["BTC-USD"].book
    assert book.depth() == {
        "seq": 23,
        "bids": [["100.00", "0.2000"], ["99.00", "1.0000"]],
        "asks": [],
    }
    assert book.depth(1)["bids"] == [["100.00", "0.2000"]]


def test_trades_newest_last_with_taker_side() -> None:
    trades = list(known_state().symbols["BTC-USD"].trades)
    assert [(t["id"], t["price"], t["qty"], t["side"], t["ts"]) for t in trades] == [
        ("BTC-USD:8", "101.00", "2.0000", "buy", T0 + 61_000),
        ("BTC-USD:12", "101.50", "0.5000", "sell", T0 + 301_000),
        ("BTC-USD:14", "99.00", "0.5000", "sell", T0 + 301_000),
        ("BTC-USD:22", "100.00", "0.1000", "sell", T0 + 3_601_000),
    ]


def test_trades_keep_only_the_most_recent() -> None:
    state = MarketDataState(trades_kept=2)
    for event in replay(KNOWN_COMMANDS):
        state.apply(event)
    assert [t["id"] for t in state.symbols["BTC-USD"].trades] == ["BTC-USD:14", "BTC-USD:22"]


def candle(
    start: int, o: str, h: str, lo: str, c: str, v: str, qv: str, n: int
) -> dict[str, object]:
    return {
        "start": start,
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": v,
        "quote_volume": qv,
        "trades": n,
    }


def wire(series_name: str, state: MarketDataState) -> list[dict[str, object]]:
    return [c.to_wire() for c in state.symbols["BTC-USD"].candles[series_name].candles]


def test_candles_of_every_interval() -> None:
    state = known_state()
    minute1 = candle(T0 + MIN, "101.00", "101.00", "101.00", "101.00", "2.0000", "202.000000", 1)
    minute5 = candle(T0 + 5 * MIN, "101.50", "101.50", "99.00", "99.00", "1.0000", "100.250000", 2)
    hour1 = candle(T0 + 60 * MIN, "100.00", "100.00", "100.00", "100.00", "0.1000", "10.000000", 1)
    assert wire("1m", state) == [minute1, minute5, hour1]
    assert wire("5m", state) == [{**minute1, "start": T0}, minute5, hour1]
    first_quarter = candle(T0, "101.00", "101.50", "99.00", "99.00", "3.0000", "302.250000", 3)
    assert wire("15m", state) == [first_quarter, hour1]
    assert wire("1h", state) == [first_quarter, hour1]
    assert wire("1d", state) == [
        candle(T0, "101.00", "101.50", "99.00", "100.00", "3.1000", "312.250000", 4)
    ]


def test_candle_query_range_and_limit() -> None:
    series = known_state().symbols["BTC-USD"].candles["1m"]
    assert [c.start for c in series.query(None, None, 500)] == [
        T0 + MIN,
        T0 + 5 * MIN,
        T0 + 60 * MIN,
    ]
    assert [c.start for c in series.query(None, None, 2)] == [T0 + 5 * MIN, T0 + 60 * MIN]
    assert [c.start for c in series.query(T0 + 2 * MIN, T0 + 5 * MIN, 500)] == [T0 + 5 * MIN]
    assert series.query(T0 + 61 * MIN, None, 500) == []


def test_candles_keep_a_bounded_number() -> None:
    state = MarketDataState(candles_kept=2)
    for event in replay(KNOWN_COMMANDS):
        state.apply(event)
    assert [c["start"] for c in wire("1m", state)] == [T0 + 5 * MIN, T0 + 60 * MIN]


def test_ticker_over_the_rolling_day() -> None:
    state = known_state()
    symbol = state.symbols["BTC-USD"]
    assert symbol.ticker_wire() == {
        "symbol": "BTC-USD",
        "seq": 23,
        "open": "101.00",
        "high": "101.50",
        "low": "99.00",
        "last": "100.00",
        "volume": "3.1000",
        "quote_volume": "312.250000",
        "change": "-1.00",
        "change_percent": "-0.99",
        "trades": 4,
        "window_start": T0 + 60 * MIN - 1439 * MIN,
        "as_of": T0 + 3_601_000,
    }
    # A day and two minutes later an order rests (no trade): minute 1 leaves the window.
    later = T0 + 24 * 60 * MIN + 2 * MIN
    engine = MatchingEngine()
    events = replay([*KNOWN_COMMANDS, new("b4", "gina", "buy", "90.00", "1", later)], engine)
    for event in events[-2:]:
        state.apply(event)
    ticker = symbol.ticker_wire()
    assert (ticker["open"], ticker["high"], ticker["low"], ticker["last"]) == (
        "101.50",
        "101.50",
        "99.00",
        "100.00",
    )
    assert (ticker["volume"], ticker["quote_volume"], ticker["trades"]) == (
        "1.1000",
        "110.250000",
        3,
    )
    assert (ticker["change"], ticker["change_percent"]) == ("-1.50", "-1.48")
    # Two days on nothing traded in the window: prices stay at the last trade, volume is 0.
    events = replay([new("b5", "gina", "buy", "90.00", "1", T0 + 3 * 24 * 60 * MIN)], engine)
    for event in events:
        state.apply(event)
    ticker = symbol.ticker_wire()
    assert (ticker["open"], ticker["high"], ticker["low"], ticker["last"]) == ("100.00",) * 4
    assert (ticker["volume"], ticker["quote_volume"], ticker["change"], ticker["trades"]) == (
        "0",
        "0",
        "0.00",
        0,
    )


def test_ticker_before_any_trade_has_null_prices() -> None:
    state = MarketDataState()
    for event in replay(KNOWN_COMMANDS[:1]):
        state.apply(event)
    ticker = state.symbols["BTC-USD"].ticker_wire()
    assert ticker["open"] is None and ticker["last"] is None and ticker["change"] is None
    assert ticker["volume"] == "0" and ticker["as_of"] == T0 + 1_000


def test_duplicates_are_ignored() -> None:
    events = replay(KNOWN_COMMANDS)
    state = MarketDataState()
    for event in events:
        assert state.apply(event) is not None
    before = state.to_snapshot()
    for event in events:  # a replay after a crash re-emits everything
        assert state.apply(event) is None
    assert state.to_snapshot() == before
    assert state.counters.duplicates == len(events)


def test_a_gap_in_the_input_is_counted_and_applied() -> None:
    events = replay(KNOWN_COMMANDS[:3])
    state = MarketDataState()
    for event in events[:2] + events[3:]:
        state.apply(event)
    assert (state.counters.gaps, state.counters.missing_events) == (1, 1)
    assert state.symbols["BTC-USD"].book.seq == events[-1]["seq"]


def test_an_engine_book_event_heals_the_book() -> None:
    events = replay(
        [*KNOWN_COMMANDS, {"op": "snapshot", "symbol": "BTC-USD", "ts": T0 + 3_700_000}]
    )
    state = MarketDataState()
    for event in events:
        if event["type"] != "rested" or event["seq"] != 20:  # lose b3's rest: a gap
            state.apply(event)
    assert state.symbols["BTC-USD"].book.inconsistencies == 1
    assert state.symbols["BTC-USD"].book.depth()["bids"] == [
        ["100.00", "0.2000"],
        ["99.00", "1.0000"],
    ]


def test_snapshot_round_trip_then_replay_matches_one_pass() -> None:
    events = replay(random_commands(random.Random(7), 800))
    whole = MarketDataState()
    for event in events:
        whole.apply(event)
    half = MarketDataState()
    for event in events[:400]:
        half.apply(event)
    restored = MarketDataState.from_snapshot(half.to_snapshot())
    for event in events[300:]:  # replay overlaps the snapshot: duplicates are skipped
        restored.apply(event)
    assert restored.to_snapshot() == whole.to_snapshot()


def test_book_equals_the_engine_l2_after_every_command() -> None:
    rng = random.Random(11)
    engine = MatchingEngine()
    state = MarketDataState()
    for command in random_commands(rng, 1500):
        for event in replay([command], engine):
            state.apply(event)
        for symbol in ("BTC-USD", "ETH-USD"):
            bids, asks = engine.l2(symbol)
            book = state.symbol(symbol).book
            assert book.depth() == {
                "seq": engine.sequence(symbol),
                "bids": [list(level) for level in bids],
                "asks": [list(level) for level in asks],
            }


def random_commands(rng: random.Random, count: int) -> list[dict[str, object]]:
    """Seeded random traffic on two symbols: limits around a mid, markets, IOC, cancels, amends."""
    commands: list[dict[str, object]] = []
    open_ids: list[tuple[str, str, str]] = []
    ts = T0
    for n in range(count):
        ts += rng.randint(0, 40_000)
        symbol = rng.choice(("BTC-USD", "ETH-USD"))
        account = f"acct{rng.randint(1, 6)}"
        roll = rng.random()
        if roll < 0.15 and open_ids:
            order_id, owner, sym = open_ids.pop(rng.randrange(len(open_ids)))
            commands.append(
                {"op": "cancel", "id": order_id, "account": owner, "symbol": sym, "ts": ts}
            )
        elif roll < 0.25 and open_ids:
            order_id, owner, sym = rng.choice(open_ids)
            price = f"{rng.randint(95, 105)}.{rng.choice(('00', '50'))}"
            qty = str(rng.randint(1, 5))
            commands.append(
                {
                    "op": "amend",
                    "id": order_id,
                    "account": owner,
                    "symbol": sym,
                    "price": price,
                    "qty": qty,
                    "ts": ts,
                }
            )
        elif roll < 0.35:
            side = rng.choice(("buy", "sell"))
            command = {
                "op": "new",
                "id": f"o{n}",
                "account": account,
                "symbol": symbol,
                "side": side,
                "type": "market",
                "qty": str(rng.randint(1, 4)),
                "ts": ts,
            }
            commands.append(command)
        else:
            side = rng.choice(("buy", "sell"))
            price = f"{rng.randint(95, 105)}.{rng.choice(('00', '25', '50'))}"
            tif = rng.choice(("GTC", "GTC", "GTC", "IOC", "FOK"))
            commands.append(
                {
                    "op": "new",
                    "id": f"o{n}",
                    "account": account,
                    "symbol": symbol,
                    "side": side,
                    "type": "limit",
                    "price": price,
                    "qty": str(rng.randint(1, 5)),
                    "tif": tif,
                    "ts": ts,
                }
            )
            if tif == "GTC":
                open_ids.append((f"o{n}", account, symbol))
    return commands

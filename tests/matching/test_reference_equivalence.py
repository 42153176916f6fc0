"""The fast engine and the naive reference book must emit identical events on random streams."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.engine import MatchingEngine, encode_event
from tests.matching.reference_book import ReferenceEngine
from tests.matching.streams import TEST_MARKETS, StreamGenerator, commands, engine_markets


def _comparable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A reject's message is free text; every other field must match exactly (key order too).
    return [{key: value for key, value in event.items() if key != "message"} for event in events]


def _run_both(stream: list[Any]) -> tuple[MatchingEngine, ReferenceEngine]:
    engine = MatchingEngine(engine_markets())
    reference = ReferenceEngine(TEST_MARKETS)
    for index, command in enumerate(stream):
        fast = _comparable([encode_event(event) for event in engine.apply(command)])
        slow = _comparable(reference.apply(command))
        assert fast == slow, f"command #{index} {command!r}"
        for symbol, ref_symbol in reference.symbols.items():
            bids, asks = engine.l2(symbol)
            ref_bids, ref_asks = reference.levels(ref_symbol)
            assert [list(level) for level in bids] == ref_bids, f"bids after #{index}"
            assert [list(level) for level in asks] == ref_asks, f"asks after #{index}"
            assert engine.sequence(symbol) == ref_symbol.seq
    return engine, reference


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(commands(), max_size=60))
def test_engine_matches_reference_on_hypothesis_streams(stream: list[Any]) -> None:
    _run_both(stream)


def test_engine_matches_reference_on_long_seeded_streams() -> None:
    for seed in range(16):
        _run_both(StreamGenerator(seed).stream(1000))


def test_engine_matches_reference_on_wide_books_with_sweeps() -> None:
    for seed in range(8):
        _run_both(StreamGenerator(1000 + seed, wide=True).stream(1500))


def test_seeded_streams_exercise_every_event_type_and_reason() -> None:
    """Guards the generators: the equivalence tests above only mean something if the streams
    reach every event type and most reasons."""
    engine = MatchingEngine(engine_markets())
    types: set[str] = set()
    reasons: set[str] = set()
    for seed in range(12):
        engine = MatchingEngine(engine_markets())
        for command in StreamGenerator(seed).stream(600):
            for event in engine.apply(command):
                wire = encode_event(event)
                types.add(wire["type"])
                if "reason" in wire:
                    reasons.add(f"{wire['type']}:{wire['reason']}")
    assert types == {
        "accepted",
        "trade",
        "rested",
        "amended",
        "filled",
        "cancelled",
        "expired",
        "rejected",
        "book",
        "market",
    }
    expected = {
        "expired:ioc",
        "expired:fok",
        "expired:self_trade",
        "expired:protection_price",
        "expired:no_liquidity",
        "expired:quote_remainder",
        "cancelled:user",
        "cancelled:self_trade",
        "rejected:unknown_order",
        "rejected:not_order_owner",
        "rejected:duplicate_order_id",
        "rejected:post_only_would_take",
        "rejected:malformed_command",
        "rejected:notional_below_minimum",
        "rejected:market_halted",
    }
    assert expected <= reasons, expected - reasons

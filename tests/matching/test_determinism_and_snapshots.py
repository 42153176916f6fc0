"""Same commands, same bytes; and a restored snapshot behaves exactly like the original."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from services.matching.engine import MatchingEngine
from services.matching.replay import encode_events_jsonl
from tests.matching.streams import StreamGenerator, engine_markets


def _replay(stream: list[Any], engine: MatchingEngine | None = None) -> bytes:
    engine = engine or MatchingEngine(engine_markets())
    return b"".join(encode_events_jsonl(engine.apply(command)) for command in stream)


def test_same_stream_gives_byte_identical_events() -> None:
    stream = StreamGenerator(11).stream(2000)
    first = _replay(stream)
    # A deep copy through JSON: equal commands in fresh objects, as another process would see.
    again = _replay(orjson.loads(orjson.dumps(stream)))
    assert first == again
    assert first.count(b"\n") > 2000


def test_snapshot_is_deterministic() -> None:
    stream = StreamGenerator(12).stream(500)
    engines = [MatchingEngine(engine_markets()) for _ in range(2)]
    for engine in engines:
        _replay(stream, engine)
    assert engines[0].snapshot() == engines[1].snapshot()


@pytest.mark.parametrize("seed", range(8))
def test_restored_snapshot_continues_exactly_like_the_original(seed: int) -> None:
    stream = StreamGenerator(100 + seed).stream(800)
    cut = random.Random(seed).randrange(len(stream))
    original = MatchingEngine(engine_markets())
    _replay(stream[:cut], original)
    data = original.snapshot()
    restored = MatchingEngine.restore(data)
    assert restored.snapshot() == data
    assert _replay(stream[cut:], restored) == _replay(stream[cut:], original)
    assert restored.snapshot() == original.snapshot()


def test_snapshot_keeps_time_priority_seen_ids_status_and_added_markets() -> None:
    engine = MatchingEngine()
    engine.apply({"op": "new", "id": "a", "account": "x", "symbol": "BTC-USD", "side": "sell",
                  "type": "limit", "price": "100", "qty": "1"})  # fmt: skip
    engine.apply({"op": "new", "id": "b", "account": "y", "symbol": "BTC-USD", "side": "sell",
                  "type": "limit", "price": "100", "qty": "1"})  # fmt: skip
    engine.apply({"op": "market", "symbol": "NEW-USD", "base": "NEW", "quote": "USD",
                  "tick_size": "1", "lot_size": "1", "min_notional": "0", "status": "halted"})  # fmt: skip
    restored = MatchingEngine.restore(engine.snapshot())
    taker = {"op": "new", "id": "t", "account": "z", "symbol": "BTC-USD", "side": "buy",
             "type": "market", "qty": "1"}  # fmt: skip
    assert restored.apply(taker)[1][5] == "a"  # the first trade's maker is the older order
    dup = {**taker, "id": "a"}
    assert restored.apply(dup)[0][7].value == "duplicate_order_id"
    assert restored.market("NEW-USD").status.value == "halted"
    assert restored.sequence("NEW-USD") == 1


def test_restore_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError):
        MatchingEngine.restore(b'{"format": 99, "books": []}')

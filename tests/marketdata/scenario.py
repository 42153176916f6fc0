"""A known command stream and the engine events it gives (via the replay tool's code path)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from services.matching.engine import MatchingEngine
from services.matching.replay import replay_lines

T0 = 1_700_006_400_000
"""2023-11-15T00:00:00Z: a day, hour and minute boundary."""


def new(
    order_id: str, account: str, side: str, price: str | None, qty: str, ts: int, **extra: Any
) -> dict[str, Any]:
    command: dict[str, Any] = {
        "op": "new",
        "id": order_id,
        "account": account,
        "symbol": "BTC-USD",
        "side": side,
        "type": "limit" if price is not None else "market",
        "qty": qty,
        "ts": ts,
    }
    if price is not None:
        command["price"] = price
        command["tif"] = "GTC"
    command.update(extra)
    return command


KNOWN_COMMANDS: list[dict[str, Any]] = [
    new("s1", "alice", "sell", "101.00", "2", T0 + 1_000),
    new("s2", "alice", "sell", "102.00", "1", T0 + 2_000),
    new("b1", "bob", "buy", "99.00", "3", T0 + 3_000),
    # minute 1: takes all of s1 at 101.00, rests 0.5 at 101.50
    new("b2", "carol", "buy", "101.50", "2.5", T0 + 61_000),
    # minute 5: a market sell sweeps 0.5 @ 101.50 then 0.5 @ 99.00
    new("m1", "dave", "sell", None, "1", T0 + 301_000),
    # bob lowers b1 from 2.5 open to 1 (keeps priority)
    {
        "op": "amend",
        "id": "b1",
        "account": "bob",
        "symbol": "BTC-USD",
        "price": "99.00",
        "qty": "1",
        "ts": T0 + 302_000,
    },
    # hour 1
    {"op": "cancel", "id": "s2", "account": "alice", "symbol": "BTC-USD", "ts": T0 + 3_600_000},
    new("b3", "erin", "buy", "100.00", "0.3", T0 + 3_600_500),
    new("s3", "frank", "sell", "100.00", "0.1", T0 + 3_601_000, tif="IOC"),
]


def replay(
    commands: Iterable[dict[str, Any]], engine: MatchingEngine | None = None
) -> list[dict[str, Any]]:
    """The events `tradestack replay` prints for these commands, parsed."""
    engine = engine or MatchingEngine()
    lines = (orjson.dumps(c) for c in commands)
    out = b"".join(replay_lines(engine, lines))
    return [orjson.loads(line) for line in out.splitlines()]

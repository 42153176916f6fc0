"""`tradestack replay` end to end, as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]

COMMANDS = b"""\
{"op":"new","id":"o1","account":"a1","symbol":"BTC-USD","side":"buy","type":"limit","price":"100.5","qty":"2","tif":"GTC","ts":1}
{"op":"new","id":"o2","account":"a2","symbol":"BTC-USD","side":"sell","type":"market","qty":"1","ts":2}

{"op":"amend","id":"o1","account":"a1","symbol":"BTC-USD","price":"101","qty":"0.5"}
this is not json
{"op":"cancel","id":"o1","account":"a1","symbol":"BTC-USD"}
{"op":"snapshot","symbol":"BTC-USD"}
"""

EXPECTED = b"""\
{"type":"accepted","symbol":"BTC-USD","seq":1,"id":"BTC-USD:1","ts":1,"order_id":"o1","account":"a1","side":"buy","order_type":"limit","tif":"GTC","price":"100.50","qty":"2.0000","post_only":false,"stp":"none"}
{"type":"rested","symbol":"BTC-USD","seq":2,"id":"BTC-USD:2","ts":1,"order_id":"o1","account":"a1","side":"buy","price":"100.50","open_qty":"2.0000","filled":"0.0000"}
{"type":"accepted","symbol":"BTC-USD","seq":3,"id":"BTC-USD:3","ts":2,"order_id":"o2","account":"a2","side":"sell","order_type":"market","tif":"IOC","qty":"1.0000","post_only":false,"stp":"none"}
{"type":"trade","symbol":"BTC-USD","seq":4,"id":"BTC-USD:4","ts":2,"maker_order_id":"o1","taker_order_id":"o2","maker_account":"a1","taker_account":"a2","price":"100.50","qty":"1.0000","taker_side":"sell","maker_filled":"1.0000","taker_filled":"1.0000","maker_remaining":"1.0000"}
{"type":"filled","symbol":"BTC-USD","seq":5,"id":"BTC-USD:5","ts":2,"order_id":"o2","account":"a2","filled":"1.0000"}
{"type":"amended","symbol":"BTC-USD","seq":6,"id":"BTC-USD:6","order_id":"o1","account":"a1","side":"buy","old_price":"100.50","old_open_qty":"1.0000","price":"101.00","qty":"0.5000","priority":"lost"}
{"type":"rested","symbol":"BTC-USD","seq":7,"id":"BTC-USD:7","order_id":"o1","account":"a1","side":"buy","price":"101.00","open_qty":"0.5000","filled":"1.0000"}
{"type":"rejected","symbol":"","seq":0,"id":":0","reason":"malformed_command","message":"line 5 is not valid JSON"}
{"type":"cancelled","symbol":"BTC-USD","seq":8,"id":"BTC-USD:8","order_id":"o1","account":"a1","side":"buy","price":"101.00","open_qty":"0.5000","filled":"1.0000","reason":"user"}
{"type":"book","symbol":"BTC-USD","seq":9,"id":"BTC-USD:9","bids":[],"asks":[]}
"""


def replay(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "replay", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_replay_prints_the_expected_events_and_skips_past_a_bad_line() -> None:
    result = replay(COMMANDS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED


def test_replay_uses_a_markets_file(tmp_path: Path) -> None:
    markets = tmp_path / "markets.json"
    markets.write_bytes(
        orjson.dumps(
            [{"symbol": "SOL-USD", "base": "SOL", "quote": "USD", "tick_size": "0.001",
              "lot_size": "0.1", "min_notional": "5", "maker_fee_bps": "2"}]
        )
    )  # fmt: skip
    commands = b"\n".join(
        orjson.dumps(c)
        for c in (
            {"op": "new", "id": "s", "account": "a", "symbol": "SOL-USD", "side": "sell",
             "type": "limit", "price": "20.5", "qty": "1"},
            {"op": "new", "id": "b", "account": "a", "symbol": "BTC-USD", "side": "buy",
             "type": "limit", "price": "100", "qty": "1"},
        )
    )  # fmt: skip
    result = replay(commands, "--markets", str(markets))
    assert result.returncode == 0, result.stderr
    events = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["accepted", "rested", "rejected"]
    assert events[1]["price"] == "20.500"
    assert events[2]["reason"] == "unknown_symbol"


def test_replay_refuses_a_bad_markets_file(tmp_path: Path) -> None:
    markets = tmp_path / "markets.json"
    markets.write_text('[{"symbol": "X"}]')
    result = replay(b"", "--markets", str(markets))
    assert result.returncode == 2
    assert b"missing fields" in result.stderr

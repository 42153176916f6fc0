"""`tradestack replay`: JSON-lines commands on stdin, the engine's events on stdout.

Runs the pure engine in-process with no AWS. Output is deterministic: the same input gives
byte-identical output (orjson, fixed key order). A line that is not a JSON object, or not a valid
command, produces a ``rejected`` event and replay goes on; blank lines are skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from services.matching.engine import DEFAULT_MARKETS, Market, MatchingEngine, encode_event
from services.matching.engine.events import REJECTED, Event
from services.matching.engine.reasons import RejectReason

MARKET_FIELDS = ("symbol", "base", "quote", "tick_size", "lot_size", "min_notional", "status")
_FLUSH_BYTES = 1 << 16


class MarketsFileError(ValueError):
    """The ``--markets`` file is unreadable or does not describe a valid list of markets."""


def load_markets(path: Path) -> list[Market]:
    """Read a ``--markets`` file: a JSON list of objects with the ``market`` command's fields.

    ``status`` is optional (default ``trading``); other keys (``op``, fees, ...) are ignored, as
    the ``market`` command ignores them. Raises :class:`MarketsFileError`.
    """
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise MarketsFileError(f"cannot read markets file {path}: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise MarketsFileError("markets file must hold a non-empty JSON list of market objects")
    markets: list[Market] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise MarketsFileError(f"market #{index} is not an object")
        fields = {key: value for key, value in item.items() if key in MARKET_FIELDS}
        missing = [name for name in MARKET_FIELDS[:-1] if name not in fields]
        if missing:
            raise MarketsFileError(f"market #{index}: missing fields {missing}")
        if not all(isinstance(value, str) for value in fields.values()):
            raise MarketsFileError(f"market #{index}: every field must be a string")
        try:
            market = Market(**fields)
        except ValueError as exc:
            raise MarketsFileError(f"market #{index}: {exc}") from exc
        if market.symbol in seen:
            raise MarketsFileError(f"market #{index}: duplicate symbol {market.symbol}")
        seen.add(market.symbol)
        markets.append(market)
    return markets


def encode_events_jsonl(events: Iterable[Event]) -> bytes:
    """Encode events as JSON lines (one compact object per line, fixed key order)."""
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    return b"".join(dumps(encode_event(event), option=newline) for event in events)


def _invalid_json(message: str) -> Event:
    """The reject for a line that is not JSON: no symbol, so sequence 0."""
    return (REJECTED, "", 0, None, None, None, None, RejectReason.MALFORMED_COMMAND, message)


def replay_lines(engine: MatchingEngine, lines: Iterable[bytes]) -> Iterable[bytes]:
    """Apply each JSON line to ``engine`` and yield the encoded events of each line."""
    loads = orjson.loads
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            command: Any = loads(line)
        except orjson.JSONDecodeError:
            events = [_invalid_json(f"line {number} is not valid JSON")]
        else:
            events = engine.apply(command)
        yield encode_events_jsonl(events)


def run_replay(markets_path: Path | None, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Run the engine over JSON-lines commands from ``stdin``; write events to ``stdout``.

    Returns the process exit code: 0, or 2 if the markets file is invalid.
    """
    try:
        markets = load_markets(markets_path) if markets_path is not None else DEFAULT_MARKETS
    except MarketsFileError as exc:
        print(f"tradestack replay: {exc}", file=sys.stderr)
        return 2
    engine = MatchingEngine(markets)
    pending: list[bytes] = []
    size = 0
    write = stdout.write
    for chunk in replay_lines(engine, stdin):
        pending.append(chunk)
        size += len(chunk)
        if size >= _FLUSH_BYTES:
            write(b"".join(pending))
            pending.clear()
            size = 0
    write(b"".join(pending))
    stdout.flush()
    return 0

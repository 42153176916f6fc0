"""The matching engine on Kinesis: consumes `matching` (by symbol), publishes to `executions`.

The engine is pure; this adapter only turns its events into wire dicts addressed to the
`executions` stream with the symbol as partition key. Markets reach the engine through the stream
itself (`{"op": "market", ...}` commands), so its state is a function of its input alone.
"""

from __future__ import annotations

from typing import Any

from services.common.streams import ConsumerGroup, Output, RecordPosition
from services.matching.engine import MatchingEngine, encode_event
from services.matching.settings import MatchingSettings

INPUT_STREAM = "matching"
OUTPUT_STREAM = "executions"
GROUP = "matching"


class MatchingMachine:
    """The runtime's `StateMachine` for one shard of the `matching` stream."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine

    def apply(self, message: dict[str, Any], position: RecordPosition) -> list[Output]:
        return [
            Output(OUTPUT_STREAM, wire["symbol"], wire)
            for wire in map(encode_event, self.engine.apply(message))
        ]

    def snapshot(self) -> bytes:
        return self.engine.snapshot()


class MatchingFactory:
    """Fresh engines start with no markets: `market` commands on the stream define them."""

    def initial(self) -> MatchingMachine:
        return MatchingMachine(MatchingEngine(()))

    def restore(self, data: bytes) -> MatchingMachine:
        return MatchingMachine(MatchingEngine.restore(data))


def build_consumer_group(settings: MatchingSettings, *, owner: str | None = None) -> ConsumerGroup:
    return ConsumerGroup(
        group=GROUP,
        stream=INPUT_STREAM,
        factory=MatchingFactory(),
        prefix=settings.resource_prefix,
        owner=owner,
        config=settings.runtime_config(),
    )

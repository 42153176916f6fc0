"""The interface between the stream runtime and a deterministic engine (matching, accounts,
market data): messages in, outputs out, state to bytes and back.

The runtime feeds one shard's messages, in stream order, to one `StateMachine`; publishes what
`apply` returns; and snapshots it now and then. Replaying the same messages into a machine restored
from a snapshot must give byte-identical outputs (DESIGN.md, rule 2): take time from the messages,
never from the wall clock.

An adapter for the matching engine is a few lines:

    class MatchingMachine:
        def __init__(self, engine: MatchingEngine) -> None:
            self.engine = engine

        def apply(self, message: dict, position: RecordPosition) -> list[Output]:
            events = (encode_event(e) for e in self.engine.apply(message))
            return [Output("executions", e["symbol"], e) for e in events]

        def snapshot(self) -> bytes:
            return self.engine.snapshot()

    class MatchingFactory:
        def initial(self) -> MatchingMachine:
            return MatchingMachine(MatchingEngine())

        def restore(self, data: bytes) -> MatchingMachine:
            return MatchingMachine(MatchingEngine.restore(data))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


@dataclass(frozen=True, slots=True)
class RecordPosition:
    """Where a message sits in the stream: shard, the Kinesis record's sequence number, and the
    message's index inside that record (a record may pack several messages).

    `arrival_ms` is the record's ApproximateArrivalTimestamp (epoch ms). It is stored with the
    record, so a replay sees the same value; still, engines should prefer times carried in the
    messages themselves."""

    shard_id: str
    sequence_number: str
    index: int = 0
    arrival_ms: int | None = None


class Output(NamedTuple):
    """A message to publish: logical stream name (see `resources.STREAMS`), partition key, body.
    A plain 3-tuple works too."""

    stream: str
    partition_key: str
    message: dict[str, Any]


class StateMachine(Protocol):
    """A deterministic engine the runtime can drive."""

    def apply(
        self, message: dict[str, Any], position: RecordPosition
    ) -> Iterable[Output | tuple[str, str, dict[str, Any]]]:
        """Apply one input message; return the messages to publish, in order."""
        ...

    def snapshot(self) -> bytes:
        """The whole state as bytes; `StateMachineFactory.restore` must rebuild it exactly."""
        ...


class StateMachineFactory(Protocol):
    """Makes a fresh machine, or one restored from `StateMachine.snapshot()` bytes."""

    def initial(self) -> StateMachine:
        """The machine before any message."""
        ...

    def restore(self, data: bytes) -> StateMachine:
        """The machine a snapshot was taken of."""
        ...

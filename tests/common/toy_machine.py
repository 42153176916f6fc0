"""A deterministic toy state machine for runtime tests: a running sum per key.

Input  {"id": "i7", "key": "k1", "value": 3}
Output {"id": "k1:4", "key": "k1", "n": 4, "sum": 42, "input": "i7"} on `executions`, keyed by key,
`fanout` copies (ids "k1:4", "k1:4/1", ...) to make output-heavy runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from services.common.streams import Output, RecordPosition

OUTPUT_STREAM = "executions"


class RunningSum:
    def __init__(
        self,
        sums: dict[str, int] | None = None,
        counts: dict[str, int] | None = None,
        fanout: int = 1,
    ) -> None:
        self.sums = sums or {}
        self.counts = counts or {}
        self.fanout = fanout

    def apply(self, message: dict[str, Any], position: RecordPosition) -> list[Output]:
        key = message["key"]
        n = self.counts.get(key, 0) + 1
        total = self.sums.get(key, 0) + int(message["value"])
        self.counts[key] = n
        self.sums[key] = total
        out = {"id": f"{key}:{n}", "key": key, "n": n, "sum": total, "input": message["id"]}
        outputs = [Output(OUTPUT_STREAM, key, out)]
        for copy in range(1, self.fanout):
            outputs.append(Output(OUTPUT_STREAM, key, {**out, "id": f"{key}:{n}/{copy}"}))
        return outputs

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(
            {"sums": self.sums, "counts": self.counts, "fanout": self.fanout}, order="sorted"
        )


class RunningSumFactory:
    def __init__(self, fanout: int = 1) -> None:
        self.fanout = fanout

    def initial(self) -> RunningSum:
        return RunningSum(fanout=self.fanout)

    def restore(self, data: bytes) -> RunningSum:
        state = msgspec.msgpack.decode(data)
        return RunningSum(state["sums"], state["counts"], state["fanout"])


def run_uninterrupted(inputs: Iterable[dict[str, Any]], fanout: int = 1) -> list[dict[str, Any]]:
    """The outputs of one machine fed `inputs` in order (the reference for every recovery test)."""
    machine = RunningSum(fanout=fanout)
    position = RecordPosition("shardId-000000000000", "0")
    return [out.message for message in inputs for out in machine.apply(message, position)]

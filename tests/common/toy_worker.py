"""A consumer-group member running the toy machine, as a real process the tests can SIGKILL,
SIGSTOP and SIGCONT: `python -m tests.common.toy_worker --prefix P --owner A ...`.

Crash injection (the process dies with os._exit, like a kill, at a chosen point):
  --crash-before-checkpoint N   on the N-th checkpoint write, after its outputs were published
  --crash-after-messages N      after applying N messages (mid-batch, outputs partly published)
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from services.common.logging import configure_logging
from services.common.streams import ConsumerGroup, LeaseConfig, RuntimeConfig, ShardLease
from services.common.streams.state_machine import RecordPosition
from tests.common.toy_machine import RunningSum, RunningSumFactory


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--group", default="toy")
    parser.add_argument("--lease-duration", type=float, default=3.0)
    parser.add_argument("--scan-interval", type=float, default=0.5)
    parser.add_argument("--checkpoint-interval", type=float, default=0.2)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--snapshot-every", type=int, default=200)
    parser.add_argument("--fanout", type=int, default=1)
    parser.add_argument("--get-limit", type=int, default=20)
    parser.add_argument("--crash-before-checkpoint", type=int, default=0)
    parser.add_argument("--crash-after-messages", type=int, default=0)
    return parser.parse_args()


def _install_crashes(args: argparse.Namespace) -> None:
    if args.crash_before_checkpoint:
        original_checkpoint = ShardLease.checkpoint
        calls = 0

        async def checkpoint(self: ShardLease, *a: Any, **kw: Any) -> None:
            nonlocal calls
            calls += 1
            if calls >= args.crash_before_checkpoint:
                os._exit(70)
            await original_checkpoint(self, *a, **kw)

        ShardLease.checkpoint = checkpoint  # type: ignore[method-assign]

    if args.crash_after_messages:
        original_apply = RunningSum.apply
        applied = 0

        def apply(self: RunningSum, message: dict[str, Any], position: RecordPosition) -> Any:
            nonlocal applied
            applied += 1
            if applied > args.crash_after_messages:
                os._exit(71)
            return original_apply(self, message, position)

        RunningSum.apply = apply  # type: ignore[method-assign]


def main() -> None:
    args = _parse()
    configure_logging(f"toy-worker-{args.owner}", "INFO", "json")
    _install_crashes(args)
    config = RuntimeConfig(
        lease=LeaseConfig(duration_s=args.lease_duration),
        scan_interval_s=args.scan_interval,
        checkpoint_interval_s=args.checkpoint_interval,
        checkpoint_every_records=args.checkpoint_every,
        snapshot_every_records=args.snapshot_every,
        snapshot_interval_s=3600,
        shutdown_timeout_s=5,
        get_records_limit=args.get_limit,
        idle_poll_max_s=0.1,
    )
    group = ConsumerGroup(
        group=args.group,
        stream="matching",
        factory=RunningSumFactory(fanout=args.fanout),
        prefix=args.prefix,
        owner=args.owner,
        config=config,
    )
    asyncio.run(group.run(handle_signals=True))


if __name__ == "__main__":
    main()

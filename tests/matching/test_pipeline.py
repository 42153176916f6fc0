"""The matching service on Kinesis: commands on `matching` come out on `executions` exactly as
`tradestack replay` would print them — also across a kill -9 and restart of the worker."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from services.matching.engine import MatchingEngine, encode_event
from services.matching.pipeline_bench import MIDS
from services.matching.pipeline_bench import mixed_commands as command_stream
from tests.support.processes import ServiceProcess
from tests.support.streams import put_messages, read_stream, wait_for_messages

pytestmark = pytest.mark.aws


def replay_by_symbol(commands: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    engine = MatchingEngine(())
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for command in commands:
        for event in engine.apply(command):
            wire = encode_event(event)
            by_symbol[wire["symbol"]].append(wire)
    return by_symbol


def first_occurrences_by_symbol(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    seen: set[str] = set()
    by_symbol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        if message["id"] in seen:
            continue
        seen.add(message["id"])
        by_symbol[message["symbol"]].append(message)
    return by_symbol


def total(by_symbol: dict[str, list[dict[str, Any]]]) -> int:
    return sum(len(v) for v in by_symbol.values())


def matching_service(prefix: str, tmp_path: Path, **env: str) -> ServiceProcess:
    return ServiceProcess(
        "services.matching.app:app",
        prefix=prefix,
        env={"TRADESTACK_LEASE_SECONDS": "3", **env},
        log=tmp_path / "matching.log",
    )


def test_commands_on_matching_come_out_on_executions_as_replay_prints_them(
    aws_prefix: str, tmp_path: Path
) -> None:
    commands = command_stream(600, seed=7)
    expected = replay_by_symbol(commands)
    service = matching_service(aws_prefix, tmp_path).start()
    try:
        put_messages(aws_prefix, "matching", ((c["symbol"], c) for c in commands))
        messages = wait_for_messages(
            aws_prefix, "executions", lambda m: len(m) >= total(expected), timeout_s=60
        )
    finally:
        service.stop()
    assert len(messages) == total(expected), "an uninterrupted run publishes each event once"
    assert first_occurrences_by_symbol(messages) == expected


def test_kill_9_and_restart_loses_nothing_and_dedupes_to_the_uninterrupted_output(
    aws_prefix: str, tmp_path: Path
) -> None:
    commands = command_stream(1_500, seed=11)
    expected = replay_by_symbol(commands)
    # Small checkpoint and snapshot cadences so the kill lands between them.
    service = matching_service(
        aws_prefix,
        tmp_path,
        TRADESTACK_CHECKPOINT_EVERY_RECORDS="3",
        TRADESTACK_SNAPSHOT_EVERY_RECORDS="7",
    ).start()
    put_messages(aws_prefix, "matching", ((c["symbol"], c) for c in commands[:900]))
    wait_for_messages(aws_prefix, "executions", lambda m: len(m) > 200, timeout_s=60)
    service.kill()
    put_messages(aws_prefix, "matching", ((c["symbol"], c) for c in commands[900:]))
    time.sleep(3.5)  # let the dead owner's lease expire
    restarted = matching_service(aws_prefix, tmp_path).start()
    try:
        messages = wait_for_messages(
            aws_prefix,
            "executions",
            lambda m: total(first_occurrences_by_symbol(m)) >= total(expected),
            timeout_s=90,
        )
    finally:
        restarted.stop()
    assert first_occurrences_by_symbol(messages) == expected
    # The stream after dedup equals the uninterrupted run; duplicates are only re-emissions.
    by_id = {m["id"]: m for m in messages}
    assert all(by_id[m["id"]] == m for m in messages), "a re-emitted event is byte-identical"


def test_snapshot_and_replay_restore_the_identical_book(aws_prefix: str, tmp_path: Path) -> None:
    commands = command_stream(400, seed=3)
    engine = MatchingEngine(())
    for command in commands:
        engine.apply(command)
    service = matching_service(aws_prefix, tmp_path, TRADESTACK_SNAPSHOT_EVERY_RECORDS="50").start()
    put_messages(aws_prefix, "matching", ((c["symbol"], c) for c in commands))
    expected_count = total(replay_by_symbol(commands))
    wait_for_messages(aws_prefix, "executions", lambda m: len(m) >= expected_count)
    service.stop()  # graceful: final checkpoint and snapshot, lease released
    restarted = matching_service(aws_prefix, tmp_path).start()
    try:
        import httpx

        for symbol in MIDS:
            deadline = time.monotonic() + 30
            while True:
                response = httpx.get(
                    f"{restarted.url}/admin/symbols/{symbol}/book", params={"depth": 1000}
                )
                if response.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            body = response.json()
            bids, asks = engine.l2(symbol, 1000)
            assert body["seq"] == engine.sequence(symbol)
            assert [tuple(x) for x in body["bids"]] == [tuple(x) for x in bids]
            assert [tuple(x) for x in body["asks"]] == [tuple(x) for x in asks]
    finally:
        restarted.stop()
    assert len(read_stream(aws_prefix, "executions")) == expected_count, (
        "restart re-published nothing"
    )

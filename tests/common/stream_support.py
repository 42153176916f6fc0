"""Helpers for stream runtime tests: write inputs, read a whole stream, wait for a condition."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3

from services.common.aws import client_config
from services.common.resources import physical_name
from services.common.serialization import decode_record, encode_record
from services.common.streams.scan import iter_records


def kinesis() -> Any:
    return boto3.client("kinesis", config=client_config())


def make_inputs(count: int, keys: int = 5, start: int = 0, run: int = 1) -> list[dict[str, Any]]:
    """Deterministic input messages i<start>..i<start+count-1> over `keys` keys, in runs of `run`
    consecutive messages of one key (so `put_inputs` can pack a run into one record)."""
    return [
        {"id": f"i{i}", "key": f"k{(i // run) % keys}", "value": (i * 7) % 11}
        for i in range(start, start + count)
    ]


def put_inputs(
    prefix: str,
    messages: Sequence[dict[str, Any]],
    *,
    stream: str = "matching",
    per_record: int = 1,
) -> dict[str, str]:
    """Write messages in order, up to `per_record` consecutive messages of one key per record.
    Returns the last sequence number written to each shard."""
    client = kinesis()
    name = physical_name(prefix, stream)
    chunk: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for message in messages:
        if chunk and (len(chunk) >= per_record or chunk[-1]["key"] != message["key"]):
            records.append({"Data": encode_record(chunk), "PartitionKey": chunk[0]["key"]})
            chunk = []
        chunk.append(message)
    if chunk:
        records.append({"Data": encode_record(chunk), "PartitionKey": chunk[0]["key"]})
    tips: dict[str, str] = {}
    for start in range(0, len(records), 500):
        response = client.put_records(StreamName=name, Records=records[start : start + 500])
        assert response["FailedRecordCount"] == 0
        for result in response["Records"]:
            shard, seq = result["ShardId"], result["SequenceNumber"]
            if shard not in tips or int(seq) > int(tips[shard]):
                tips[shard] = seq
    return tips


def read_stream(
    prefix: str, stream: str = "executions"
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every message of a stream: (shard, sequence number, partition key, message), shard by shard."""
    client = kinesis()
    name = physical_name(prefix, stream)
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    for shard_id, record in iter_records(client, name):
        for message in decode_record(record["Data"]):
            out.append((shard_id, record["SequenceNumber"], record["PartitionKey"], message))
    return out


def by_key(
    messages: Sequence[dict[str, Any]], field: str = "key"
) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        grouped[message[field]].append(message)
    return dict(grouped)


def dedupe(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """First occurrence of each output id, in order."""
    seen: set[str] = set()
    out = []
    for message in messages:
        if message["id"] not in seen:
            seen.add(message["id"])
            out.append(message)
    return out


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def lease_items(prefix: str, group: str, stream: str = "matching") -> dict[str, dict[str, Any]]:
    """The raw lease items of a group, by shard id."""
    client = boto3.client("dynamodb", config=client_config())
    response = client.query(
        TableName=physical_name(prefix, "leases"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LEASE#{group}#{stream}"}},
        ConsistentRead=True,
    )
    items: dict[str, dict[str, Any]] = {}
    for item in response["Items"]:
        flat: dict[str, Any] = {k: next(iter(v.values())) for k, v in item.items()}
        items[str(flat["sk"]).removeprefix("SHARD#")] = flat
    return items


REPO_ROOT = Path(__file__).resolve().parents[2]


class ToyWorkers:
    """Starts `tests.common.toy_worker` processes (they inherit AWS_ENDPOINT_URL) and kills any
    still running on exit. Each writes its JSON log to `<log_dir>/<owner>.log`."""

    def __init__(self, prefix: str, log_dir: Path) -> None:
        self.prefix = prefix
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, owner: str, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{owner}.log", "ab")  # noqa: SIM115 (the child keeps it open)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.common.toy_worker",
                "--prefix",
                self.prefix,
                "--owner",
                owner,
                *extra,
            ],
            stdout=log,
            stderr=log,
            cwd=REPO_ROOT,
            env=dict(os.environ),
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, owner: str) -> list[dict[str, Any]]:
        """The JSON log lines a worker wrote."""
        events = []
        for line in (self.log_dir / f"{owner}.log").read_text().splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events

    def __enter__(self) -> ToyWorkers:
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(10)


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15.0
) -> int:
    """Send `sig` (continuing a stopped process first) and wait for the exit status."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.send_signal(sig)
    return process.wait(timeout)


def checkpoint_reached(prefix: str, tips: dict[str, str], group: str = "toy") -> bool:
    """True once every shard's checkpoint is at its tip."""
    items = lease_items(prefix, group)
    return all(
        shard in items
        and int(items[shard].get("checkpoint", "0").replace("SHARD_END", "0")) >= int(tip)
        for shard, tip in tips.items()
    )

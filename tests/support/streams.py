"""Test support: put messages on a stream and read a whole stream back, through real Kinesis
calls against the moto server of the `local_aws` fixture."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import boto3

from services.common.aws import aio_session, client_config
from services.common.resources import physical_name
from services.common.serialization import decode_record
from services.common.streams import StreamProducer
from services.common.streams.scan import iter_records


def put_messages(prefix: str, stream: str, keyed: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Publish (partition key, message) pairs in order with the runtime's producer."""

    async def _put() -> None:
        async with aio_session().client("kinesis", config=client_config()) as kinesis:
            producer = StreamProducer(kinesis, physical_name(prefix, stream))
            for key, message in keyed:
                await producer.put(key, message)
            await producer.close()

    asyncio.run(_put())


def read_stream(prefix: str, stream: str) -> list[dict[str, Any]]:
    """Every message on every shard of the stream, shard by shard, in stream order."""
    kinesis = boto3.client("kinesis", config=client_config())
    name = physical_name(prefix, stream)
    messages: list[dict[str, Any]] = []
    for _shard, record in iter_records(kinesis, name):
        messages.extend(decode_record(record["Data"]))
    return messages


def wait_for_messages(
    prefix: str,
    stream: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout_s: float = 60.0,
) -> list[dict[str, Any]]:
    """Read the stream until `done(messages)` holds; fail with what was seen after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        messages = read_stream(prefix, stream)
        if done(messages):
            return messages
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{stream}: condition not met after {timeout_s:.0f}s ({len(messages)} messages)"
            )
        time.sleep(0.3)

"""Proof, at start-up, that the local AWS endpoint's patches leave moto's answers unchanged.

`verify(patches)` holds a conversation with moto in-process: the Kinesis and DynamoDB calls the
venue makes (binary record data, every attribute type, conditional writes that fail, pages,
items near the size limit, reads at the tip), made by real botocore clients whose HTTP send is
handed to moto's WSGI application. Each call is made twice, in two regions (moto keeps a backend
per region): once with the patches off (moto's own code) and once with them on. The parsed
answers must be equal, up to the region name and the times of day; a read is also repeated with
the patches on against the first region's state, where even the times must match. A Kinesis
shard is also read through both `get_records` implementations, record for record.

A patch whose conversation differs, or that cannot be installed at all (moto renamed what it
replaces), is not used: `verify` reports it with the first difference, and the endpoint serves
with moto's own code in its place.
"""

from __future__ import annotations

import datetime
import functools
import random
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.common.moto_patches import Patch, Swap, fast_get_records

Call = Callable[[], Any]
Conversation = Generator[tuple[str, bool, Call], Any, None]

_TIMES = frozenset(
    {
        "ApproximateArrivalTimestamp",
        "CreationDateTime",
        "StreamCreationTimestamp",
        "MillisBehindLatest",
        "LastIncreaseDateTime",
        "LastDecreaseDateTime",
        "ConsumerCreationTimestamp",
    }
)
"""Fields that depend on when a call was made: compared by type across the two regions."""


@dataclass
class Verdict:
    """Which patches passed, and why the others were refused."""

    installed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    swaps: list[Swap] = field(default_factory=list, repr=False)

    def undo(self) -> None:
        """Take the installed patches out again (tests)."""
        for swap in reversed(self.swaps):
            swap.undo()
        self.swaps.clear()
        self.installed.clear()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _in_process_client(service: str, region: str, app: Any) -> Any:
    """A botocore client whose requests go to the WSGI `app` instead of a socket."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from werkzeug.test import EnvironBuilder

    client: Any = boto3.session.Session().client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        builder = EnvironBuilder(
            path=request.url.split("4566", 1)[1] or "/",
            method=request.method,
            headers={
                name: value.decode() if isinstance(value, bytes) else value
                for name, value in request.headers.items()
            },
            data=body or b"",
        )
        environ = builder.get_environ()
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started[:] = [int(status.split(" ", 1)[0]), headers]

        chunks = b"".join(app(environ, start_response))
        status, headers = started
        return AWSResponse(request.url, status, dict(headers), _Raw(chunks))  # type: ignore[arg-type]

    client.meta.events.register("before-send", send)
    return client


def _outcome(call: Call) -> Any:
    from botocore.exceptions import ClientError

    try:
        answer = call()
    except ClientError as exc:
        return {
            "error": exc.response["Error"].get("Code"),
            "status": exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        }
    if isinstance(answer, dict):
        answer = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
    return answer


def _normalize(value: Any, region: str, *, times: bool) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                type(item).__name__
                if times and key in _TIMES
                else _normalize(item, region, times=times)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_normalize(item, region, times=times) for item in value]
    if isinstance(value, str):
        return value.replace(region, "<region>")
    return value


def conversation(kinesis: Any, dynamodb: Any) -> Conversation:
    """The calls, as (label, read-only, call); each answer is sent back into the generator."""
    rng = random.Random(7)
    blobs = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 90))) for _ in range(9)]
    yield "CreateStream", False, lambda: kinesis.create_stream(StreamName="selftest", ShardCount=2)
    shards = yield "ListShards", True, lambda: kinesis.list_shards(StreamName="selftest")
    shard_id = shards["Shards"][0]["ShardId"]
    yield (
        "DescribeStreamSummary",
        True,
        lambda: kinesis.describe_stream_summary(StreamName="selftest"),
    )
    yield (
        "PutRecords",
        False,
        lambda: kinesis.put_records(
            StreamName="selftest",
            Records=[
                {"Data": blob, "PartitionKey": f"key-{i % 4}"} for i, blob in enumerate(blobs)
            ],
        ),
    )
    yield (
        "PutRecord",
        False,
        lambda: kinesis.put_record(StreamName="selftest", Data=b"\x00\xff{}", PartitionKey="key-0"),
    )
    start = yield (
        "GetShardIterator",
        True,
        lambda: kinesis.get_shard_iterator(
            StreamName="selftest", ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        ),
    )
    iterator = start["ShardIterator"]
    while iterator:
        read_page: Call = functools.partial(kinesis.get_records, ShardIterator=iterator, Limit=3)
        page = yield "GetRecords", True, read_page
        iterator = page.get("NextShardIterator") if page.get("Records") else None
    yield "GetRecords(all)", True, lambda: kinesis.get_records(ShardIterator=start["ShardIterator"])
    tip = yield (
        "GetShardIterator(latest)",
        True,
        lambda: kinesis.get_shard_iterator(
            StreamName="selftest", ShardId=shard_id, ShardIteratorType="LATEST"
        ),
    )
    yield "GetRecords(tip)", True, lambda: kinesis.get_records(ShardIterator=tip["ShardIterator"])

    yield (
        "CreateTable",
        False,
        lambda: dynamodb.create_table(
            TableName="selftest",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "gsi", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-gsi",
                    "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        ),
    )
    every_type = {
        "pk": {"S": "a"},
        "sk": {"S": "0"},
        "gsi": {"S": "g"},
        "n": {"N": "-12.500"},
        "bin": {"B": b"\x00\x01\xfe"},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "strings": {"SS": ["x", "y"]},
        "numbers": {"NS": ["1", "2.5"]},
        "binaries": {"BS": [b"\x01", b"\x02"]},
        "nested": {"M": {"l": {"L": [{"S": "é"}, {"N": "3"}, {"M": {"z": {"BOOL": False}}}]}}},
    }
    yield "PutItem", False, lambda: dynamodb.put_item(TableName="selftest", Item=every_type)
    yield (
        "PutItem(condition fails)",
        False,
        lambda: dynamodb.put_item(
            TableName="selftest",
            Item={"pk": {"S": "a"}, "sk": {"S": "0"}},
            ConditionExpression="attribute_not_exists(pk)",
        ),
    )
    yield (
        "BatchWriteItem",
        False,
        lambda: dynamodb.batch_write_item(
            RequestItems={
                "selftest": [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": "b"},
                                "sk": {"S": f"{i:03d}"},
                                "gsi": {"S": "g" if i % 2 else "h"},
                                "v": {"N": str(i * 7)},
                                "doc": {"S": '{"price": "101.25", "qty": "0.0001"}'},
                            }
                        }
                    }
                    for i in range(12)
                ]
            }
        ),
    )
    yield (
        "UpdateItem",
        False,
        lambda: dynamodb.update_item(
            TableName="selftest",
            Key={"pk": {"S": "b"}, "sk": {"S": "001"}},
            UpdateExpression="SET v = v + :d, tag = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":d": {"N": "5"}, ":t": {"S": "t"}},
            ReturnValues="ALL_NEW",
        ),
    )
    yield (
        "TransactWriteItems",
        False,
        lambda: dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "selftest", "Item": {"pk": {"S": "c"}, "sk": {"S": "0"}}}},
                {
                    "Update": {
                        "TableName": "selftest",
                        "Key": {"pk": {"S": "b"}, "sk": {"S": "002"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "0"}},
                    }
                },
            ]
        ),
    )
    yield (
        "GetItem",
        True,
        lambda: dynamodb.get_item(TableName="selftest", Key={"pk": {"S": "a"}, "sk": {"S": "0"}}),
    )
    yield (
        "GetItem(missing)",
        True,
        lambda: dynamodb.get_item(TableName="selftest", Key={"pk": {"S": "zz"}, "sk": {"S": "0"}}),
    )
    yield (
        "BatchGetItem",
        True,
        lambda: dynamodb.batch_get_item(
            RequestItems={
                "selftest": {
                    "Keys": [
                        {"pk": {"S": "a"}, "sk": {"S": "0"}},
                        {"pk": {"S": "b"}, "sk": {"S": "003"}},
                    ]
                }
            }
        ),
    )
    page = yield (
        "Query(page)",
        True,
        lambda: dynamodb.query(
            TableName="selftest",
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues={":p": {"S": "b"}, ":s": {"S": "002"}},
            Limit=4,
        ),
    )
    yield (
        "Query(next page)",
        True,
        lambda: dynamodb.query(
            TableName="selftest",
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues={":p": {"S": "b"}, ":s": {"S": "002"}},
            ExclusiveStartKey=page["LastEvaluatedKey"],
        ),
    )
    yield (
        "Query(index)",
        True,
        lambda: dynamodb.query(
            TableName="selftest",
            IndexName="by-gsi",
            KeyConditionExpression="gsi = :g",
            ExpressionAttributeValues={":g": {"S": "g"}},
        ),
    )
    yield (
        "Scan(filter)",
        True,
        lambda: dynamodb.scan(
            TableName="selftest",
            FilterExpression="v >= :v",
            ExpressionAttributeValues={":v": {"N": "30"}},
        ),
    )
    yield (
        "PutItem(too large)",
        False,
        lambda: dynamodb.put_item(
            TableName="selftest",
            Item={"pk": {"S": "big"}, "sk": {"S": "0"}, "blob": {"S": "x" * 420_000}},
        ),
    )
    yield (
        "PutItem(large)",
        False,
        lambda: dynamodb.put_item(
            TableName="selftest",
            Item={"pk": {"S": "big"}, "sk": {"S": "1"}, "blob": {"S": "x" * 390_000}},
        ),
    )
    yield (
        "DeleteItem",
        False,
        lambda: dynamodb.delete_item(
            TableName="selftest", Key={"pk": {"S": "c"}, "sk": {"S": "0"}}, ReturnValues="ALL_OLD"
        ),
    )


def _first_difference(app: Any, patches: list[Patch]) -> str | None:
    """None if every answer of the conversation is the same with `patches` on and off, else a
    sentence naming the first call that differs."""
    regions = ("us-west-1", "us-west-2")
    off = conversation(*(_in_process_client(s, regions[0], app) for s in ("kinesis", "dynamodb")))
    on = conversation(*(_in_process_client(s, regions[1], app) for s in ("kinesis", "dynamodb")))
    sent_off: Any = None
    sent_on: Any = None
    while True:
        try:
            label, read_only, call_off = off.send(sent_off)
            _, _, call_on = on.send(sent_on)
        except StopIteration:
            return None
        sent_off = _outcome(call_off)
        swaps = [patch.install() for patch in patches]
        try:
            sent_on = _outcome(call_on)
            again = _outcome(call_off) if read_only else sent_off
        except Exception as exc:
            return f"{label} raised {type(exc).__name__}: {exc}"
        finally:
            for swap in reversed(swaps):
                swap.undo()
        expected = _normalize(sent_off, regions[0], times=True)
        if _normalize(sent_on, regions[1], times=True) != expected:
            return f"{label} answered differently"
        if again != sent_off:
            return f"{label} answered differently on the same state"


def _direct_reads_agree() -> str | None:
    """Read one shard through moto's `get_records` and through `fast_get_records`: the same
    records, positions and lag for every start and limit (arrival times spread over seconds)."""
    from moto.kinesis.models import Shard

    scan = Shard.get_records
    shard = Shard(0, 0, 2**128 - 1)
    for i in range(60):
        shard.put_record(f"k{i % 7}", b"data" if i % 2 else "ZGF0YQ==", "")  # type: ignore[arg-type]
    for i, record in enumerate(shard.records.values()):
        shift = i * 0.0137
        if isinstance(record.created_at, datetime.datetime):
            record.created_at = record.created_at + datetime.timedelta(seconds=shift)
        else:
            record.created_at = record.created_at + shift
    if shard.get_max_sequence_number() != 60:
        return "the shard's sequence numbers are not 1..n"
    rng = random.Random(3)
    for _ in range(120):
        after, limit = str(rng.randint(0, 65)), rng.choice([None, 1, 5, 100])
        fast = fast_get_records(scan, shard, after, limit)
        slow = scan(shard, after, limit)
        if [r.sequence_number for r in fast[0]] != [r.sequence_number for r in slow[0]]:
            return f"get_records after {after} (limit {limit}) returned other records"
        if fast[1:] != slow[1:]:
            return f"get_records after {after} (limit {limit}): {fast[1:]} != {slow[1:]}"
    return None


def _wsgi_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from services.common.moto_server import direct_json_dispatch

    return direct_json_dispatch(DomainDispatcherApplication(create_backend_app))


def _reset() -> None:
    from moto.moto_api import _internal

    _internal.moto_api_backend.reset()


def verify(patches: Sequence[Patch], app: Any = None) -> Verdict:
    """Install every patch of `patches` that leaves moto's answers unchanged; refuse the rest.

    Tries them all together first (one conversation in the usual case); if the answers differ,
    tries each on its own and keeps those that pass. moto's state is reset before and after."""
    app = app if app is not None else _wsgi_app()
    verdict = Verdict()
    candidates: list[Patch] = []
    for patch in patches:
        problem = _installable(patch)
        if problem:
            verdict.refused[patch.name] = problem
        else:
            candidates.append(patch)
    if any(p.name == "kinesis-direct-reads" for p in candidates):
        problem = _direct_reads_agree()
        if problem:
            verdict.refused["kinesis-direct-reads"] = problem
            candidates = [p for p in candidates if p.name != "kinesis-direct-reads"]
    try:
        _reset()
        together = _first_difference(app, candidates)
        if together is None:
            kept = candidates
        else:
            kept = []
            for patch in candidates:
                _reset()
                problem = _first_difference(app, [patch])
                if problem is None:
                    kept.append(patch)
                else:
                    verdict.refused[patch.name] = problem
    finally:
        _reset()
    for patch in kept:
        verdict.swaps.append(patch.install())
        verdict.installed.append(patch.name)
    return verdict


def _installable(patch: Patch) -> str | None:
    try:
        swap: Swap = patch.install()
    except (AttributeError, ImportError, TypeError) as exc:
        return f"cannot be installed: {type(exc).__name__}: {exc}"
    swap.undo()
    return None

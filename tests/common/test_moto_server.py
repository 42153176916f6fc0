"""The patched moto used locally: no lost records under concurrent writes, and reads that return
exactly what moto's own code returns."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from services.common.aws import aio_session, client_config
from services.common.local_aws import free_port, local_aws_environment, wait_until_up
from services.common.moto_patches import SPEEDUPS, Patch, Swap, fast_get_records
from services.common.moto_selftest import verify


def _reference_read(shard: Any, after: str, limit: int | None) -> tuple[list[int], int, int]:
    """What GetRecords means, written out: the records after `after`, at most `limit`, the last
    position read, and how far (ms) the last record read is behind the shard's newest."""
    import datetime

    numbers = [n for n in shard.records if n > int(after)][:limit]
    if not numbers:
        return [], int(after), 0
    behind = shard.records[max(shard.records)].created_at - shard.records[numbers[-1]].created_at
    seconds = behind.total_seconds() if isinstance(behind, datetime.timedelta) else behind
    return numbers, numbers[-1], int(seconds * 1000)


@pytest.mark.parametrize("arrival", ["datetime", "float"])
def test_fast_reads_return_what_moto_returns(arrival: str) -> None:
    """moto <= 5.2.5 keeps a record's arrival as epoch seconds, 5.2.6 as a datetime: the direct
    look-up reads both correctly, lag included, and agrees with moto's own scan where moto's
    scan knows the type."""
    import datetime

    from moto.kinesis.models import Shard

    scan = Shard.get_records
    while hasattr(scan, "__wrapped__"):  # the endpoint's wrappers, if a test installed them
        scan = scan.__wrapped__
    shard = Shard(0, 0, 2**128 - 1)
    for i in range(300):
        shard.put_record(f"k{i % 7}", f"data{i}".encode(), "")
    mototype = type(next(iter(shard.records.values())).created_at)
    base = datetime.datetime(2026, 1, 1, 12, 0, 0, 123456)
    for i, record in enumerate(shard.records.values()):
        moment = base + datetime.timedelta(milliseconds=7 * i + i % 3)
        record.created_at = moment if arrival == "datetime" else moment.timestamp()
    rng = random.Random(3)
    for _ in range(300):
        after = str(rng.randint(0, 320))
        limit = rng.choice([None, 1, 5, 100, 1000])
        fast = fast_get_records(scan, shard, after, limit)
        assert ([r.sequence_number for r in fast[0]], *fast[1:]) == _reference_read(
            shard, after, limit
        ), (after, limit)
        if isinstance(next(iter(shard.records.values())).created_at, mototype):
            slow = scan(shard, after, limit)
            assert [r.sequence_number for r in fast[0]] == [r.sequence_number for r in slow[0]]
            assert fast[1:] == slow[1:], (after, limit)


def test_every_patch_passes_the_self_test_with_the_locked_moto() -> None:
    """With the moto of requirements/dev.lock, no patch may be refused: a refusal means a patch
    and moto's own code disagree, and the endpoint would quietly lose its speed."""
    verdict = verify(SPEEDUPS)
    try:
        assert verdict.refused == {}
        assert verdict.installed == [patch.name for patch in SPEEDUPS]
    finally:
        verdict.undo()


def test_a_patch_that_changes_an_answer_is_refused_and_moto_answers() -> None:
    from moto.dynamodb.responses import DynamoHandler

    def install_wrong_get_item() -> Swap:
        swap = Swap()
        original = DynamoHandler.get_item

        def get_item(self: Any) -> Any:
            answer = original(self)
            answer.result.get("Item", {}).pop("n", None)  # drops an attribute
            return answer

        swap.set(DynamoHandler, "get_item", get_item)
        return swap

    def install_missing() -> Swap:
        swap = Swap()
        swap.set(DynamoHandler, "no_such_method_in_moto", None)
        return swap

    wrong = Patch("wrong-get-item", "a patch that loses an attribute", install_wrong_get_item)
    missing = Patch("renamed", "a patch of something moto no longer has", install_missing)
    verdict = verify([*SPEEDUPS, wrong, missing])
    try:
        assert verdict.refused.keys() == {"wrong-get-item", "renamed"}
        assert "GetItem answered differently" in verdict.refused["wrong-get-item"]
        assert "cannot be installed" in verdict.refused["renamed"]
        assert verdict.installed == [patch.name for patch in SPEEDUPS]
        assert DynamoHandler.get_item.__name__ == "get_item"
        assert getattr(DynamoHandler.get_item, "__qualname__", "").startswith("DynamoHandler")
    finally:
        verdict.undo()


@pytest.fixture
def patched_moto() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.common.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_until_up(endpoint)
        yield endpoint
    finally:
        process.kill()
        process.wait()


async def test_concurrent_writes_to_one_shard_lose_nothing(
    patched_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in local_aws_environment(patched_moto).items():
        monkeypatch.setenv(key, value)
    kinesis = boto3.client("kinesis", config=client_config())
    kinesis.create_stream(StreamName="race", ShardCount=1)
    for _ in range(10):  # a long shard makes moto's unpatched critical section long
        kinesis.put_records(
            StreamName="race", Records=[{"Data": b"x", "PartitionKey": f"p{j}"} for j in range(500)]
        )
    async with aio_session().client("kinesis", config=client_config()) as client:

        async def put(i: int) -> list[str]:
            records = [{"Data": f"{i}-{j}".encode(), "PartitionKey": f"p{j}"} for j in range(20)]
            response: dict[str, Any] = await client.put_records(StreamName="race", Records=records)
            return [r["SequenceNumber"] for r in response["Records"]]

        acked = [
            seq for batch in await asyncio.gather(*(put(i) for i in range(40))) for seq in batch
        ]
    assert len(set(acked)) == len(acked) == 800
    iterator = kinesis.get_shard_iterator(
        StreamName="race", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    stored = kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    assert len(stored) == 5800


def _moto(speedups: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "TRADESTACK_MOTO_SPEEDUPS": "true" if speedups else "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.common.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_until_up(endpoint)
    return process, endpoint


def _same_calls(endpoint: str) -> list[Any]:
    """Kinesis and DynamoDB calls of the kinds the venue makes, their parsed answers."""
    kwargs: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    kinesis = boto3.client("kinesis", **kwargs)
    dynamodb = boto3.client("dynamodb", **kwargs)
    answers: list[Any] = []
    kinesis.create_stream(StreamName="s", ShardCount=1)
    put = kinesis.put_records(
        StreamName="s",
        Records=[
            {"Data": bytes([i, 0, 255, i]) * 9, "PartitionKey": f"k{i % 3}"} for i in range(7)
        ],
    )
    answers.append({k: v for k, v in put.items() if k != "ResponseMetadata"})
    iterator = kinesis.get_shard_iterator(
        StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for limit in (3, 10, 10):
        got = kinesis.get_records(ShardIterator=iterator, Limit=limit)
        iterator = got["NextShardIterator"]
        answers.append(
            [
                (
                    r["Data"],
                    r["PartitionKey"],
                    r["SequenceNumber"],
                    type(r["ApproximateArrivalTimestamp"]),
                )
                for r in got["Records"]
            ]
        )
        answers.append(got["MillisBehindLatest"] >= 0)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.put_records(StreamName="missing", Records=[{"Data": b"x", "PartitionKey": "k"}])

    dynamodb.create_table(
        TableName="t",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "account", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_account",
                "KeySchema": [{"AttributeName": "account", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {
        "pk": {"S": "ORDER#1"},
        "sk": {"S": "ORDER"},
        "account": {"S": "a1"},
        "qty": {"S": "1.5000"},
        "version": {"N": "3"},
        "done": {"BOOL": False},
        "reason": {"NULL": True},
        "positions": {"M": {"shard-0": {"S": "42"}}},
        "tags": {"L": [{"S": "x"}, {"N": "1"}]},
        "names": {"SS": ["b", "a"]},
        "raw": {"B": b"\x00\x01binary"},
    }
    answers.append(
        _without_metadata(
            dynamodb.put_item(
                TableName="t",
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnConsumedCapacity="TOTAL",
            )
        )
    )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(pk)")
    batch = dynamodb.batch_write_item(
        ReturnConsumedCapacity="INDEXES",
        RequestItems={
            "t": [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": f"L#{i}"},
                            "sk": {"S": f"{i:012d}"},
                            "account": {"S": "a1"},
                            "n": {"N": str(i)},
                        }
                    }
                }
                for i in range(25)
            ]
        },
    )
    answers.append(_without_metadata(batch))
    updated = dynamodb.update_item(
        TableName="t",
        Key={"pk": {"S": "ORDER#1"}, "sk": {"S": "ORDER"}},
        UpdateExpression="SET version = :v, positions.#s = :p",
        ConditionExpression="version = :old",
        ExpressionAttributeNames={"#s": "shard-1"},
        ExpressionAttributeValues={":v": {"N": "4"}, ":old": {"N": "3"}, ":p": {"S": "7"}},
        ReturnValues="ALL_NEW",
    )
    answers.append(_without_metadata(updated))
    answers.append(
        _without_metadata(
            dynamodb.get_item(TableName="t", Key={"pk": {"S": "nothing"}, "sk": {"S": "here"}})
        )
    )
    answers.append(
        dynamodb.get_item(TableName="t", Key={"pk": {"S": "ORDER#1"}, "sk": {"S": "ORDER"}})["Item"]
    )
    query = dynamodb.query(
        TableName="t",
        IndexName="by_account",
        KeyConditionExpression="account = :a",
        ExpressionAttributeValues={":a": {"S": "a1"}},
    )
    answers.append(sorted((i["pk"]["S"], i["sk"]["S"]) for i in query["Items"]))
    answers.append(
        _without_metadata(
            dynamodb.query(
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "L#3"}},
                ReturnConsumedCapacity="TOTAL",
            )
        )
    )
    scanned = dynamodb.scan(TableName="t", Limit=5)
    answers.append((len(scanned["Items"]), "LastEvaluatedKey" in scanned, scanned["Count"]))

    s3 = boto3.client("s3", **kwargs)
    s3.create_bucket(Bucket="snaps")
    body = bytes(range(256)) * 300
    s3.put_object(
        Bucket="snaps", Key="a/b c+d.bin", Body=body, Metadata={"seq": "42", "under_score": "x"}
    )
    got = s3.get_object(Bucket="snaps", Key="a/b c+d.bin")
    answers.append((got["Body"].read() == body, got["Metadata"], got["ContentLength"]))
    head = s3.head_object(Bucket="snaps", Key="a/b c+d.bin")
    answers.append((head["ContentLength"], head["Metadata"]))
    answers.append([o["Key"] for o in s3.list_objects_v2(Bucket="snaps", Prefix="a/")["Contents"]])
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="snaps", Key="missing")
    s3.delete_object(Bucket="snaps", Key="a/b c+d.bin")
    answers.append(s3.list_objects_v2(Bucket="snaps").get("KeyCount"))
    return answers


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_the_endpoint_reports_its_verified_patches(patched_moto: str) -> None:
    from importlib.metadata import version

    from services.common.local_aws import endpoint_patches

    patches = endpoint_patches(patched_moto)
    assert patches is not None
    assert patches["moto"] == version("moto")
    assert patches["refused"] == {}
    assert patches["installed"] == ["kinesis-serialized-writes", *(p.name for p in SPEEDUPS)]


def test_speedups_answer_exactly_what_moto_answers() -> None:
    plain, plain_endpoint = _moto(speedups=False)
    fast, fast_endpoint = _moto(speedups=True)
    try:
        assert _same_calls(fast_endpoint) == _same_calls(plain_endpoint)
    finally:
        for process in (plain, fast):
            process.kill()
            process.wait()


def test_connections_are_kept_alive_across_calls(patched_moto: str) -> None:
    """moto's own server closes every connection; the local endpoint answers many requests,
    pipelined ones too, on one connection, in order."""
    import http.client
    import json

    host, port = patched_moto.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request",
    }
    for _ in range(3):
        connection.request("POST", "/", body=b"{}", headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") == "keep-alive"
        assert "TableNames" in json.loads(response.read())
    sock = connection.sock
    assert sock is not None
    request = (
        b"GET /moto-api/ HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /moto-api/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(request)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert received.count(b"Connection: keep-alive") == 1
    assert received.count(b"Connection: close") == 1  # and the server closed it: recv gave b""

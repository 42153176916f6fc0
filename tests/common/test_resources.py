from __future__ import annotations

import uuid

import boto3

from services.common.resources import BUCKETS, STREAMS, TABLES, init_aws, physical_name


def test_init_aws_creates_every_resource_and_is_idempotent(local_aws: str) -> None:
    prefix = "idem" + uuid.uuid4().hex[:6]
    first = init_aws(prefix)
    assert len(first.created) == len(TABLES) + len(STREAMS) + len(BUCKETS)
    second = init_aws(prefix)
    assert second.created == []
    assert len(second.existing) == len(first.created)
    dynamodb = boto3.client("dynamodb")
    for table_def in TABLES:
        described = dynamodb.describe_table(TableName=physical_name(prefix, table_def.name))
        assert described["Table"]["TableStatus"] == "ACTIVE"


def test_tables_with_ttl_have_ttl_enabled(aws_prefix: str) -> None:
    dynamodb = boto3.client("dynamodb")
    for table_def in TABLES:
        if table_def.ttl_attribute:
            ttl = dynamodb.describe_time_to_live(
                TableName=physical_name(aws_prefix, table_def.name)
            )
            assert ttl["TimeToLiveDescription"]["AttributeName"] == table_def.ttl_attribute

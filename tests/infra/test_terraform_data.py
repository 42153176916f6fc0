"""Terraform declares exactly the streams, tables and buckets of services/common/resources.py."""

from __future__ import annotations

from typing import Any

from services.common.resources import BUCKETS, STREAMS, TABLES
from tests.infra.conftest import data_sources, module_locals, resources, variables

Modules = dict[str, dict[str, list[Any]]]


def test_streams_are_those_of_resources_py(modules: Modules) -> None:
    declared = module_locals(modules["data"])["streams"]
    assert declared == {s.name: {"partition_key": s.partition_key} for s in STREAMS}


def test_tables_have_the_keys_indexes_and_ttl_of_resources_py(modules: Modules) -> None:
    declared = module_locals(modules["data"])["tables"]
    expected = {
        t.name: {
            "hash_key": t.hash_key,
            "range_key": t.range_key,
            "ttl": t.ttl_attribute,
            "indexes": [
                {"name": i.name, "hash_key": i.hash_key, "range_key": i.range_key}
                for i in t.indexes
            ],
        }
        for t in TABLES
    }
    assert declared == expected


def test_buckets_are_those_of_resources_py(modules: Modules) -> None:
    declared = module_locals(modules["data"])["buckets"]
    assert set(declared) == {b.name for b in BUCKETS}
    assert all(b.versioned for b in BUCKETS), "Terraform versions every bucket"


def test_physical_names_follow_physical_name(modules: Modules) -> None:
    names = module_locals(modules["data"])
    for kind in ("stream_names", "table_names", "bucket_names"):
        # `<prefix>-<name>` with `_` turned into `-`, like resources.physical_name().
        assert 'replace("${var.prefix}-${name}", "_", "-")' in names[kind], kind


def test_streams_are_on_demand_and_encrypted(modules: Modules) -> None:
    data = modules["data"]
    streams = resources(data, "aws_kinesis_stream")
    assert list(streams) == ["this"]
    stream = streams["this"]
    assert stream["for_each"] == "${local.streams}"
    assert stream["encryption_type"] == "KMS"
    assert stream["stream_mode_details"][0]["stream_mode"] == "${var.stream_mode}"
    assert variables(data)["stream_mode"]["default"] == "ON_DEMAND"


def test_tables_are_on_demand_with_recovery_encryption_and_ttl(modules: Modules) -> None:
    tables = resources(modules["data"], "aws_dynamodb_table")
    assert list(tables) == ["this"]
    table = tables["this"]
    assert table["for_each"] == "${local.tables}"
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["server_side_encryption"][0]["enabled"] is True
    dynamic = {name: body for block in table["dynamic"] for name, body in block.items()}
    assert set(dynamic) == {"attribute", "global_secondary_index", "ttl"}
    assert dynamic["global_secondary_index"]["content"][0]["projection_type"] == "ALL"
    assert dynamic["ttl"]["content"][0]["enabled"] is True
    assert dynamic["attribute"]["content"][0]["type"] == "S"


def test_every_catalog_bucket_is_versioned_encrypted_private_logged_and_tiered(
    modules: Modules,
) -> None:
    data = modules["data"]
    buckets = resources(data, "aws_s3_bucket")
    # The catalog's buckets plus the access-log bucket, which only the infrastructure uses.
    assert set(buckets) == {"this", "logs"}
    assert buckets["this"]["for_each"] == "${local.buckets}"
    for kind in (
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_logging",
        "aws_s3_bucket_ownership_controls",
    ):
        assert resources(data, kind)["this"]["for_each"] == "${local.buckets}", kind
    for kind in (
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_lifecycle_configuration",
    ):
        assert "logs" in resources(data, kind), f"{kind} of the logs bucket"
    block = resources(data, "aws_s3_bucket_public_access_block")["this"]
    assert all(
        block[flag] is True
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    rule = resources(data, "aws_s3_bucket_server_side_encryption_configuration")["this"]["rule"][0]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"


def test_executions_are_archived_to_the_archive_bucket_by_firehose(modules: Modules) -> None:
    firehose = resources(modules["data"], "aws_kinesis_firehose_delivery_stream")["archive"]
    source = firehose["kinesis_source_configuration"][0]
    destination = firehose["extended_s3_configuration"][0]
    assert source["kinesis_stream_arn"] == '${aws_kinesis_stream.this["executions"].arn}'
    assert destination["bucket_arn"] == '${aws_s3_bucket.this["archive"].arn}'
    assert data_sources(modules["data"], "aws_iam_policy_document")["firehose"]


def test_no_other_module_declares_streams_tables_or_buckets(modules: Modules) -> None:
    for name, module in modules.items():
        if name == "data":
            continue
        for kind in ("aws_kinesis_stream", "aws_dynamodb_table", "aws_s3_bucket"):
            assert not resources(module, kind), f"{name} declares {kind}"

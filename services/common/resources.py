"""The one definition of every stream, table and bucket of Tradestack.

Terraform (`infra/terraform`), the LocalStack init hook and `tradestack init-aws` are all checked
against these definitions by tests, so a resource is added here first and nowhere else by hand.
Physical names are `<resource_prefix>-<name>` so several stacks can share one AWS account.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError


@dataclass(frozen=True, slots=True)
class StreamDef:
    """A Kinesis stream: what flows on it and what its partition key means."""

    name: str
    partition_key: str
    description: str
    local_shards: int = 1


@dataclass(frozen=True, slots=True)
class IndexDef:
    """A global secondary index (projection ALL)."""

    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True, slots=True)
class TableDef:
    """A DynamoDB table. All key attributes are strings; billing is on-demand everywhere."""

    name: str
    hash_key: str
    range_key: str | None
    description: str
    indexes: tuple[IndexDef, ...] = ()
    ttl_attribute: str | None = None

    def key_attributes(self) -> list[str]:
        names = [self.hash_key] + ([self.range_key] if self.range_key else [])
        for index in self.indexes:
            names.append(index.hash_key)
            if index.range_key:
                names.append(index.range_key)
        return list(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class BucketDef:
    """An S3 bucket (name is prefixed; in AWS Terraform may add an account suffix)."""

    name: str
    description: str
    versioned: bool = True


STREAMS: tuple[StreamDef, ...] = (
    StreamDef(
        "orders",
        "account",
        "Commands per account (new, cancel, amend, deposit, withdraw) and settlements relayed "
        "from executions; consumed by the accounts engine.",
    ),
    StreamDef(
        "matching",
        "symbol",
        "Risk-checked commands per symbol; consumed by the matching engine.",
    ),
    StreamDef(
        "accounts",
        "account",
        "Accounts engine output: order rejections (e.g. insufficient funds), hold changes and "
        "ledger entries; consumed by the projector and market data's private channels.",
    ),
    StreamDef(
        "executions",
        "symbol",
        "Matching engine events per symbol (accepted, trade, rested, cancelled, ...); consumed "
        "by the projector, market data and the settlement relay.",
    ),
)

TABLES: tuple[TableDef, ...] = (
    TableDef(
        "users",
        "pk",
        "sk",
        "Auth: users (by id and by e-mail), signing keys, refresh-token families.",
        ttl_attribute="expires_at",
    ),
    TableDef(
        "api_keys",
        "pk",
        "sk",
        "Auth: API keys of programs; the secret is stored encrypted.",
        indexes=(IndexDef("by_user", "user_id", "sk"),),
    ),
    TableDef(
        "orders",
        "pk",
        "sk",
        "Query side: orders with status, filled quantity and average price; client order ids.",
        indexes=(IndexDef("by_account", "account", "created"),),
        ttl_attribute="expires_at",
    ),
    TableDef(
        "trades",
        "pk",
        "sk",
        "Query side: trades by symbol (pk SYMBOL#...) and fills by account (pk ACCOUNT#...).",
    ),
    TableDef("balances", "pk", "sk", "Query side: balances per account and asset."),
    TableDef("ledger", "pk", "sk", "Immutable entry for every balance change, with its cause."),
    TableDef(
        "leases",
        "pk",
        "sk",
        "Stream runtime: shard leases (owner, expiry, fencing counter) and checkpoints.",
    ),
    TableDef("markets", "pk", "sk", "Markets: symbol, assets, tick, lot, min notional, status."),
)

BUCKETS: tuple[BucketDef, ...] = (
    BucketDef("snapshots", "Engine and projection snapshots (state machine + stream position)."),
    BucketDef("archive", "Archive of the executions stream (Firehose in AWS)."),
    BucketDef("web", "Static trading UI served by CloudFront in AWS."),
    BucketDef("backups", "Operator backups and exports."),
)


_R = TypeVar("_R", StreamDef, TableDef, BucketDef)


def physical_name(prefix: str, name: str) -> str:
    """`<prefix>-<name>` with underscores turned into dashes (valid for streams, tables, S3)."""
    return f"{prefix}-{name}".replace("_", "-")


def stream(name: str) -> StreamDef:
    return _by_name(STREAMS, name)


def table(name: str) -> TableDef:
    return _by_name(TABLES, name)


def bucket(name: str) -> BucketDef:
    return _by_name(BUCKETS, name)


def _by_name(items: tuple[_R, ...], name: str) -> _R:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"no resource named {name!r}")


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def table_create_arguments(prefix: str, table_def: TableDef) -> dict[str, Any]:
    """The CreateTable request for a table definition (on-demand billing)."""
    key_schema = [{"AttributeName": table_def.hash_key, "KeyType": "HASH"}]
    if table_def.range_key:
        key_schema.append({"AttributeName": table_def.range_key, "KeyType": "RANGE"})
    args: dict[str, Any] = {
        "TableName": physical_name(prefix, table_def.name),
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in table_def.key_attributes()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table_def.indexes:
        indexes = []
        for index in table_def.indexes:
            schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
            if index.range_key:
                schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
            indexes.append(
                {
                    "IndexName": index.name,
                    "KeySchema": schema,
                    "Projection": {"ProjectionType": "ALL"},
                }
            )
        args["GlobalSecondaryIndexes"] = indexes
    return args


def init_aws(prefix: str, *, session: Any = None, shards: int | None = None) -> InitReport:
    """Create every stream, table and bucket that does not exist yet; safe to run repeatedly.

    Used by `tradestack up`, the test fixtures and the LocalStack init hook. In AWS, Terraform owns
    these resources instead.
    """
    import boto3

    from services.common.aws import client_config

    session = session or boto3.session.Session()
    config = client_config()
    dynamodb = session.client("dynamodb", config=config)
    kinesis = session.client("kinesis", config=config)
    s3 = session.client("s3", config=config)
    report = InitReport()

    for table_def in TABLES:
        name = physical_name(prefix, table_def.name)
        try:
            dynamodb.create_table(**table_create_arguments(prefix, table_def))
            report.created.append(f"table {name}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            report.existing.append(f"table {name}")
        if table_def.ttl_attribute:
            _enable_ttl(dynamodb, name, table_def.ttl_attribute)

    for stream_def in STREAMS:
        name = physical_name(prefix, stream_def.name)
        try:
            kinesis.create_stream(StreamName=name, ShardCount=shards or stream_def.local_shards)
            report.created.append(f"stream {name}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            report.existing.append(f"stream {name}")

    for bucket_def in BUCKETS:
        name = physical_name(prefix, bucket_def.name)
        # us-east-1 answers 200 to CreateBucket on a bucket we own, so look before creating.
        try:
            s3.head_bucket(Bucket=name)
            report.existing.append(f"bucket {name}")
            continue
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
        s3.create_bucket(Bucket=name)
        report.created.append(f"bucket {name}")

    for stream_def in STREAMS:
        _wait_stream_active(kinesis, physical_name(prefix, stream_def.name))
    return report


def _enable_ttl(dynamodb: Any, table_name: str, attribute: str) -> None:
    current = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
    )


def _wait_stream_active(kinesis: Any, name: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"
        ]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {name} is still {status} after {timeout_s:.0f}s")
        time.sleep(0.2)

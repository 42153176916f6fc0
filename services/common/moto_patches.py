"""The local AWS endpoint's patches of moto's internals, each one named and undoable.

`services.common.moto_server` installs them when the endpoint starts, but only those that pass
`services.common.moto_selftest` against the moto that is installed: a patch written for one
moto release may meet another (moto 5.2.6 changed a Kinesis record's `data` from base64 text to
bytes and its `created_at` from a float to a datetime), and then moto's own code is used instead
of the patch, with one warning, never a 500 per call.

Why each patch exists (measured under `tradestack bench e2e`; docs/runtime.md):

- `kinesis-serialized-writes` (correctness): moto's Kinesis `put_record` is not thread-safe: two
  PutRecords on one shard at the same moment can both take sequence number n + 1, and the second
  record silently replaces the first although both were acknowledged (1-2 of 800 records lost
  with 40 concurrent calls). Shard writes and reads are serialized.
- `kinesis-direct-reads`: moto finds a shard's last sequence number by listing every key (writing
  n records costs O(n^2)) and scans a shard from its first record on every GetRecords. Sequence
  numbers of a moto shard are consecutive integers, so both become direct look-ups (moto's code
  is kept for any shard where that does not hold).
- `kinesis-fast-responses`: GetRecords and PutRecords answers built directly instead of through
  moto's generic shape serializer.
- `dynamodb-json-body`: a DynamoDB request body is taken as it is unless it holds a binary
  attribute (the only type the shape parser changes: base64 text to bytes).
- `dynamodb-json-results`: the results of DynamoDB's data calls (already DynamoDB JSON) written
  with `json.dumps` when they hold nothing the shape serializer would change.
- `dynamodb-item-size-once`: an item's size checked once instead of in O(attributes^2).
- `routing-cache`: moto lists its own package directory (a `stat` per service) to route each
  request and inspects the handler class for its methods on each call; both are remembered.
- `quiet-request-log`: werkzeug's log line per request (moto's own server only).
- `direct-dispatch` lives in `moto_server.direct_json_dispatch` (Kinesis and DynamoDB calls
  straight to moto's handlers, past Flask) and is switched with `DIRECT_DISPATCH`.

Nothing here runs against real AWS.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_LOCK = threading.RLock()

_MISSING = object()

_DYNAMODB_DATA_ACTIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactWriteItems",
    }
)
"""DynamoDB calls whose results `dynamodb-json-results` writes without moto's shape serializer."""


class Swap:
    """Attributes replaced on classes or modules, restorable in reverse order."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        if not hasattr(owner, name):
            raise AttributeError(f"{getattr(owner, '__name__', owner)!s} has no {name!r}")
        self._saved.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, old in reversed(self._saved):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
        self._saved.clear()


@dataclass(frozen=True)
class Patch:
    """One named change of moto's behaviour: `install()` applies it and returns its `Swap`."""

    name: str
    summary: str
    install: Callable[[], Swap]


# --------------------------------------------------------------------------- record fields
# moto <= 5.2.5 keeps a record's data as base64 text and `created_at` as epoch seconds (float);
# moto 5.2.6 keeps bytes and a datetime. The patches read both.


def record_data_base64(record: Any) -> str:
    """A Kinesis record's data as the base64 text of the wire format."""
    data = record.data
    return base64.b64encode(data).decode() if isinstance(data, bytes | bytearray) else str(data)


def _arrival(record: Any) -> Any:
    return getattr(record, "created_at_datetime", record.created_at)


def epoch_millis_timestamp(value: Any) -> int | float:
    """A record's arrival time as moto's JSON serializer writes a `unixtimestamp`: whole seconds,
    plus milliseconds when there are any (truncated, not rounded)."""
    if isinstance(value, datetime.datetime):
        base = calendar.timegm(value.utctimetuple())
        return base + (value.microsecond // 1000) / 1000.0 if value.microsecond else base
    return round(float(value), 3)


def seconds_between(later: Any, earlier: Any) -> float:
    """`later - earlier` in seconds, for float and datetime `created_at` alike."""
    delta = later - earlier
    return delta.total_seconds() if isinstance(delta, datetime.timedelta) else float(delta)


# --------------------------------------------------------------------------- kinesis


def fast_get_records(
    original: Any, self: Any, last_sequence_id: str, limit: int | None
) -> tuple[list[Any], int, int]:
    """`Shard.get_records` by direct look-up where the shard's sequence numbers are consecutive;
    `original` (moto's scan) otherwise."""
    records = self.records
    if not records:
        return original(self, last_sequence_id, limit)
    first, last = next(iter(records)), next(reversed(records))
    if last - first + 1 != len(records):
        return original(self, last_sequence_id, limit)
    after = int(last_sequence_id)
    start = max(after + 1, first)
    end = last if limit is None else min(last, start + limit - 1)
    results = [records[n] for n in range(start, end + 1)]
    if not results:
        return [], after, 0
    behind = seconds_between(records[last].created_at, results[-1].created_at)
    return results, results[-1].sequence_number, int(behind * 1000)


def _max_sequence_number(self: Any) -> int:
    return next(reversed(self.records)) if self.records else 0


def install_serialized_writes() -> Swap:
    from moto.kinesis import models

    swap = Swap()
    original_put = models.Stream.put_record
    original_get = models.Shard.get_records

    @functools.wraps(original_put)
    def put_record(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original_put(self, *args, **kwargs)

    @functools.wraps(original_get)
    def get_records(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original_get(self, *args, **kwargs)

    swap.set(models.Stream, "put_record", put_record)
    swap.set(models.Shard, "get_records", get_records)
    return swap


def install_direct_reads() -> Swap:
    from moto.kinesis import models

    swap = Swap()
    scan = models.Shard.get_records

    @functools.wraps(scan)
    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> Any:
        with _LOCK:
            return fast_get_records(scan, self, last_sequence_id, limit)

    swap.set(models.Shard, "get_records", get_records)
    swap.set(models.Shard, "get_max_sequence_number", _max_sequence_number)
    return swap


def install_fast_kinesis_responses() -> Swap:
    from moto.kinesis.responses import KinesisResponse

    swap = Swap()
    json_headers = {"Content-Type": "application/x-amz-json-1.1"}

    def get_records(self: Any) -> tuple[str, dict[str, str]]:
        iterator, records, behind = self.kinesis_backend.get_records(
            self._get_param("StreamARN"), self._get_param("ShardIterator"), self._get_param("Limit")
        )
        body = {
            "NextShardIterator": iterator,
            "MillisBehindLatest": behind,
            "Records": [
                {
                    "Data": record_data_base64(record),
                    "PartitionKey": record.partition_key,
                    "SequenceNumber": str(record.sequence_number),
                    "ApproximateArrivalTimestamp": epoch_millis_timestamp(_arrival(record)),
                }
                for record in records
            ],
        }
        return json.dumps(body), dict(json_headers)

    def put_records(self: Any) -> tuple[str, dict[str, str]]:
        result = self.kinesis_backend.put_records(
            self._get_param("StreamARN"), self._get_param("StreamName"), self._get_param("Records")
        )
        return json.dumps(result), dict(json_headers)

    swap.set(KinesisResponse, "get_records", get_records)
    swap.set(KinesisResponse, "put_records", put_records)
    return swap


# --------------------------------------------------------------------------- dynamodb


def install_dynamodb_json_body() -> Swap:
    from moto.dynamodb.responses import DynamoHandler

    swap = Swap()
    parse_by_shape = DynamoHandler.parse_parameters

    def parse_parameters(self: Any, request: Any) -> None:
        body = request.data
        if b'"B"' in body or b'"BS"' in body:
            parse_by_shape(self, request)  # binary attributes: base64 text becomes bytes
        else:
            self.params = json.loads(body) if body else {}

    swap.set(DynamoHandler, "parse_parameters", parse_parameters)
    return swap


def install_dynamodb_json_results() -> Swap:
    from moto.dynamodb.responses import DynamoHandler

    swap = Swap()
    serialize_by_shape = DynamoHandler.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        # The data calls' results are already DynamoDB JSON: dump them as they are unless they
        # hold what the shape serializer would change (bytes, None members, timestamps, ...).
        result = action_result.result
        if isinstance(result, dict) and self._get_action() in _DYNAMODB_DATA_ACTIONS:
            try:
                body = json.dumps(result)
            except TypeError:
                return serialize_by_shape(self, action_result)
            if "null" not in body and "NaN" not in body and "Infinity" not in body:
                headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
                return 200, headers, body
        return serialize_by_shape(self, action_result)

    swap.set(DynamoHandler, "serialized", serialized)
    return swap


def install_item_size_once() -> Swap:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    swap = Swap()

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, converted)

    swap.set(Item, "__init__", item_init)
    return swap


# --------------------------------------------------------------------------- routing


def install_routing_cache() -> Swap:
    from moto.core import responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    swap = Swap()
    backends: dict[Any, Any] = {}
    find_backend = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        # Routing depends only on the host name; moto lists its package directory every time.
        if host not in backends:
            backends[host] = find_backend(self, host)
        return backends[host]

    swap.set(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)
    swap.set(
        responses, "method_names_from_class", functools.cache(responses.method_names_from_class)
    )
    return swap


def install_quiet_request_log() -> Swap:
    from werkzeug.serving import WSGIRequestHandler

    def no_request_log(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    swap = Swap()
    swap.set(WSGIRequestHandler, "log_request", no_request_log)
    return swap


def install_direct_dispatch() -> Swap:
    from services.common import moto_server

    swap = Swap()
    swap.set(moto_server, "DIRECT_DISPATCH", True)
    return swap


CORRECTNESS = Patch(
    "kinesis-serialized-writes",
    "shard writes and reads serialized (no acknowledged record lost)",
    install_serialized_writes,
)

SPEEDUPS: tuple[Patch, ...] = (
    Patch("kinesis-direct-reads", "GetRecords by sequence number", install_direct_reads),
    Patch(
        "kinesis-fast-responses",
        "GetRecords/PutRecords answers built directly",
        install_fast_kinesis_responses,
    ),
    Patch("dynamodb-json-body", "DynamoDB bodies taken as JSON", install_dynamodb_json_body),
    Patch(
        "dynamodb-json-results",
        "DynamoDB data results as JSON",
        install_dynamodb_json_results,
    ),
    Patch("dynamodb-item-size-once", "item size checked once", install_item_size_once),
    Patch("routing-cache", "request routing remembered", install_routing_cache),
    Patch("quiet-request-log", "no log line per request", install_quiet_request_log),
    Patch("direct-dispatch", "JSON calls straight to moto's handlers", install_direct_dispatch),
)
"""The speed patches, in the order they are installed. Each must leave every answer unchanged;
`moto_selftest` proves that for the installed moto before the endpoint serves."""

"""moto's server with the fixes the local stack needs: `python -m services.common.moto_server`.

1. Lost records. moto's server is threaded and its Kinesis `put_record` is not thread-safe: two
   PutRecords calls on one shard at the same moment can both take sequence number n + 1, and the
   second record silently replaces the first, although both were acknowledged. Measured: 1-2 of
   800 records lost with 40 concurrent calls on a shard of 5,000 records. Shard writes and reads
   are serialized here.
2. Speed. moto finds a shard's last sequence number by listing every key (so writing n records
   costs O(n^2)) and scans a shard from its first record on every GetRecords. Sequence numbers of a
   moto shard are consecutive integers, so both become direct look-ups (with moto's own code kept
   for any shard where that does not hold).
3. Per-call overhead (`patch_speed`, server only). Every call of the venue's services costs moto
   ~2-3 ms of CPU before any work (measured with py-spy under `tradestack bench e2e`): it lists
   its own package directory (a `stat` per service) to route each request, inspects the handler
   class for its methods, parses DynamoDB request bodies through the generic botocore-shape
   parser (half the cost of a BatchWriteItem), serializes Kinesis and DynamoDB responses through
   the generic shape serializer, checks an item's size in O(attributes^2) and logs every request.
   The patches cache the first two, build GetRecords/PutRecords responses directly, take a
   DynamoDB JSON body as it is when it holds no binary attribute (the only type the shape parser
   changes: base64 to bytes), write the results of DynamoDB's data calls (already DynamoDB JSON)
   with `json.dumps` when they hold nothing the serializer would change, check an item's size
   once, and drop the request log. Responses are unchanged (tests compare them with moto's own).
   `TRADESTACK_MOTO_SPEEDUPS=false` turns them off.

4. Keep-alive. moto's werkzeug server closes every connection after one response; `main` serves
   moto's WSGI application with `services.common.moto_http` instead (keep-alive, httptools, one
   event loop), Kinesis and DynamoDB calls going straight to moto's handlers
   (`direct_json_dispatch`).

Command line: `-H HOST -p PORT`, as `python -m moto.server`. Nothing here runs against real AWS.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import threading
from typing import Any

_LOCK = threading.RLock()

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
"""DynamoDB calls whose results `patch_speed` writes without moto's shape serializer."""


def _max_sequence_number(self: Any) -> int:
    return next(reversed(self.records)) if self.records else 0


def _get_records(
    original: Any, self: Any, last_sequence_id: str, limit: int | None
) -> tuple[list[Any], int, int]:
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
    behind = records[last].created_at - results[-1].created_at
    return results, results[-1].sequence_number, int(behind * 1000)


def patch_moto() -> None:
    """Apply the fixes to moto's Kinesis models (idempotent)."""
    from moto.kinesis import models

    if getattr(models.Stream, "_tradestack_patched", False):
        return
    # Monkeypatching moto's classes is the point of this module.
    original_put = models.Stream.put_record
    original_get = models.Shard.get_records

    @functools.wraps(original_put)
    def put_record(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original_put(self, *args, **kwargs)

    @functools.wraps(original_get)
    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> Any:
        with _LOCK:
            return _get_records(original_get, self, last_sequence_id, limit)

    models.Stream.put_record = put_record  # type: ignore[method-assign]
    models.Shard.get_records = get_records  # type: ignore[method-assign]
    models.Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign]
    setattr(models.Stream, "_tradestack_patched", True)  # noqa: B010


def patch_speed() -> None:
    """Cut moto's per-call overhead (point 3 of the module docstring); idempotent."""
    from moto.core import responses
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.responses import DynamoHandler
    from moto.kinesis.responses import KinesisResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from werkzeug.serving import WSGIRequestHandler

    if getattr(KinesisResponse, "_tradestack_fast", False):
        return
    json_headers = {"Content-Type": "application/x-amz-json-1.1"}

    def no_request_log(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    backends: dict[Any, Any] = {}
    find_backend = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        # Routing depends only on the host name; moto lists its package directory every time.
        if host not in backends:
            backends[host] = find_backend(self, host)
        return backends[host]

    def get_records(self: Any) -> tuple[str, dict[str, str]]:
        iterator, records, behind = self.kinesis_backend.get_records(
            self._get_param("StreamARN"), self._get_param("ShardIterator"), self._get_param("Limit")
        )
        body = {
            "NextShardIterator": iterator,
            "MillisBehindLatest": behind,
            "Records": [
                {
                    "Data": record.data,  # stored as received: base64 text
                    "PartitionKey": record.partition_key,
                    "SequenceNumber": str(record.sequence_number),
                    "ApproximateArrivalTimestamp": round(record.created_at, 3),
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

    parse_by_shape = DynamoHandler.parse_parameters

    def parse_parameters(self: Any, request: Any) -> None:
        body = request.data
        if b'"B"' in body or b'"BS"' in body:
            parse_by_shape(self, request)  # binary attributes: base64 text becomes bytes
        else:
            self.params = json.loads(body) if body else {}

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, converted)

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

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    WSGIRequestHandler.log_request = no_request_log  # type: ignore[method-assign]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    KinesisResponse.get_records = get_records  # type: ignore[assignment,method-assign]
    KinesisResponse.put_records = put_records  # type: ignore[assignment,method-assign]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
    Item.__init__ = item_init  # type: ignore[method-assign]
    setattr(KinesisResponse, "_tradestack_fast", True)  # noqa: B010


def main(argv: list[str] | None = None) -> None:
    """Run moto with the fixes applied: on the keep-alive server of `services.common.moto_http`,
    or, with `TRADESTACK_MOTO_SPEEDUPS=false`, on moto's own werkzeug server."""
    patch_moto()
    if os.environ.get("TRADESTACK_MOTO_SPEEDUPS", "true").lower() in ("0", "false", "no"):
        from moto.server import main as moto_main

        moto_main(argv)
        return
    patch_speed()
    parser = argparse.ArgumentParser(description="moto's server with Tradestack's fixes")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from services.common import moto_http

    app = direct_json_dispatch(DomainDispatcherApplication(create_backend_app))
    moto_http.run(app, args.host, args.port)


def direct_json_dispatch(app: Any) -> Any:
    """moto's WSGI `app`, with Kinesis and DynamoDB calls handed straight to moto's handlers.

    Those are POSTs to `/` named by `X-Amz-Target`. moto's Flask app routes them through a
    request context, URL matching and a werkzeug `Response` to the same handler; skipping that
    saves ~10% of moto's CPU under `tradestack bench e2e`. The request and the answer are what
    the Flask route builds (moto's `Request`, `convert_to_flask_response`'s error mapping, the
    default content type and Flask-CORS's header); everything else still goes through `app`.
    """
    from botocore.exceptions import ClientError
    from moto.core.request import Request
    from moto.dynamodb.responses import DynamoHandler
    from moto.kinesis.responses import KinesisResponse
    from moto.moto_api import recorder

    class ServerRequest(Request):
        from_wsgi_server = True

    handlers = {
        "DynamoDB_20120810": DynamoHandler.dispatch,
        "Kinesis_20131202": KinesisResponse.dispatch,
    }

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        handler = handlers.get(environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0])
        if (
            handler is None
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != "/"
            or "HTTP_ORIGIN" in environ
        ):
            return app(environ, start_response)
        request = ServerRequest(environ)
        recorder._record_request(request)
        try:
            result = handler(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        body = content.encode() if isinstance(content, str) else bytes(content or b"")
        header_list = [(str(name), str(value)) for name, value in headers.items()]
        names = {name.lower() for name, _ in header_list}
        if "content-type" not in names:
            header_list.append(("Content-Type", "text/html; charset=utf-8"))
        header_list.append(("Access-Control-Allow-Origin", "*"))
        start_response(f"{int(status)} {_reason(int(status))}", header_list)
        return [body]

    return wsgi


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


if __name__ == "__main__":
    main()

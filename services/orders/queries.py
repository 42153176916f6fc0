"""Reads of the query tables the projector writes: orders, fills, balances, transfers.

Key layout (every key is a string):

| table | pk | sk |
|---|---|---|
| orders | `ORDER#<id>` | `ORDER` (GSI `by_account`: `account`, `created` = 13-digit ms; other fields packed, `projection.unpack`) |
| orders | `CLIENT#<account>#<client_order_id>` | `CLIENT` (idempotency guard, TTL) |
| trades | `ACCOUNT#<account>` | `<13-digit ms>#<trade id>#<maker or taker>` (own fills; packed like orders) |
| trades | `SYMBOL#<symbol>` | `<20-digit seq>` (public tape) |
| balances | `ACCOUNT#<account>` | `<asset>` |
| ledger | `ACCOUNT#<account>#<asset>` | `<12-digit first seq>`: the entries of one projector batch, packed (`entries`, see projection.py) |
| ledger | `TRANSFER#<id>` | `TRANSFER` (a deposit's or withdrawal's outcome) |
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
from boto3.dynamodb.conditions import Attr, Key

from services.common.errors import BadRequest
from services.orders.projection import unpack

ORDER_FIELDS = (
    "id",
    "client_order_id",
    "account",
    "symbol",
    "side",
    "type",
    "tif",
    "price",
    "qty",
    "quote_qty",
    "post_only",
    "stp",
    "status",
    "reason",
    "filled",
    "open",
    "filled_quote",
    "avg_price",
    "fees",
    "fee_asset",
)
OPEN_STATUSES = ("pending", "open", "partially_filled")
MAX_PAGES = 10


def order_key(order_id: str) -> dict[str, str]:
    return {"pk": f"ORDER#{order_id}", "sk": "ORDER"}


def client_key(account: str, client_order_id: str) -> dict[str, str]:
    return {"pk": f"CLIENT#{account}#{client_order_id}", "sk": "CLIENT"}


def order_from_item(item: dict[str, Any]) -> dict[str, Any]:
    item = unpack(item)
    order = {name: item.get(name) for name in ORDER_FIELDS}
    order["created"] = _int(item.get("created_ms"))
    order["updated"] = _int(item.get("updated"))
    return order


def freshness(item: dict[str, Any]) -> dict[str, int | None]:
    item = unpack(item)
    projected_at = _int(item.get("projected_at"))
    now = int(time.time() * 1000)
    return {
        "as_of": _int(item.get("updated")),
        "projected_at": projected_at,
        "age_ms": None if projected_at is None else max(0, now - projected_at),
    }


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
            raise ValueError
        return key
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest("The cursor is not one this API returned.", code="invalid_cursor") from exc


async def list_orders(
    orders_table: Any,
    account: str,
    *,
    status: str,
    symbol: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """An account's orders, newest first, filtered by status (`open` or `all`) and symbol."""
    filters: Any = None
    if status == "open":
        filters = Attr("status").is_in(list(OPEN_STATUSES))
    if symbol:
        condition = Attr("symbol").eq(symbol)
        filters = condition if filters is None else filters & condition
    return await _query_pages(
        orders_table,
        {"IndexName": "by_account", "KeyConditionExpression": Key("account").eq(account)},
        filters,
        limit,
        cursor,
        ("pk", "sk", "account", "created"),
        order_from_item,
        {"account": account},
    )


async def list_fills(
    trades_table: Any, account: str, *, symbol: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """An account's own fills, newest first."""
    filters = Attr("symbol").eq(symbol) if symbol else None
    return await _query_pages(
        trades_table,
        {"KeyConditionExpression": Key("pk").eq(f"ACCOUNT#{account}")},
        filters,
        limit,
        cursor,
        ("pk", "sk"),
        fill_from_item,
        {"pk": f"ACCOUNT#{account}"},
    )


def fill_from_item(item: dict[str, Any]) -> dict[str, Any]:
    item = unpack(item)
    return {
        "id": item["trade_id"],
        "order_id": item["order_id"],
        "symbol": item["symbol"],
        "side": item["side"],
        "price": item["price"],
        "qty": item["qty"],
        "fee": item["fee"],
        "fee_asset": item["fee_asset"],
        "liquidity": item["liquidity"],
        "time": _int(item.get("ts")),
    }


async def list_balances(balances_table: Any, account: str) -> list[dict[str, str]]:
    response = await balances_table.query(KeyConditionExpression=Key("pk").eq(f"ACCOUNT#{account}"))
    return [
        {"asset": item["sk"], "available": item["available"], "held": item["held"]}
        for item in sorted(response.get("Items", []), key=lambda i: i["sk"])
    ]


async def get_balance(balances_table: Any, account: str, asset: str) -> tuple[str, str]:
    response = await balances_table.get_item(Key={"pk": f"ACCOUNT#{account}", "sk": asset})
    item = response.get("Item") or {}
    return str(item.get("available", "0")), str(item.get("held", "0"))


async def get_transfer(ledger_table: Any, transfer_id: str) -> dict[str, Any] | None:
    response = await ledger_table.get_item(Key={"pk": f"TRANSFER#{transfer_id}", "sk": "TRANSFER"})
    return response.get("Item")


async def _query_pages(
    table: Any,
    query: dict[str, Any],
    filters: Any,
    limit: int,
    cursor: str | None,
    key_names: tuple[str, ...],
    convert: Any,
    cursor_must_have: dict[str, str],
) -> tuple[list[dict[str, Any]], str | None]:
    """Query newest first until `limit` items pass the filter (at most MAX_PAGES reads)."""
    kwargs: dict[str, Any] = {**query, "ScanIndexForward": False, "Limit": max(limit, 25)}
    if filters is not None:
        kwargs["FilterExpression"] = filters
    start = decode_cursor(cursor)
    if start:
        # Only a key of this query's own partition (DynamoDB refuses any other start key with a
        # ValidationException, which would be a 500; moto does not check).
        if set(start) != set(key_names) or any(start[k] != v for k, v in cursor_must_have.items()):
            raise BadRequest("The cursor is not one this API returned.", code="invalid_cursor")
        kwargs["ExclusiveStartKey"] = start
    results: list[dict[str, Any]] = []
    last_item: dict[str, Any] | None = None
    for _ in range(MAX_PAGES):
        page = await table.query(**kwargs)
        for item in page.get("Items", []):
            if len(results) == limit:
                return results, encode_cursor({k: str(last_item[k]) for k in key_names})  # type: ignore[index]
            results.append(convert(item))
            last_item = item
        if "LastEvaluatedKey" not in page:
            return results, None
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if len(results) == limit:
            return results, encode_cursor({k: str(v) for k, v in page["LastEvaluatedKey"].items()})
    next_key = kwargs["ExclusiveStartKey"]
    return results, encode_cursor({k: str(v) for k, v in next_key.items()})


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

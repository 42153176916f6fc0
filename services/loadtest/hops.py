"""Per-hop latency of a bench run, read back from the streams after it.

Every Kinesis record carries the time it arrived (`ApproximateArrivalTimestamp`; moto stamps it
with the wall clock of this machine, as the bench does). For each new order of the measurement
window the bench knows when it sent the `POST`, when the `202` came back and when the first event
of the order reached its private WebSocket; the streams say when the order landed on `orders`,
when the accounts engine forwarded it to `matching`, and when the matching engine's `accepted`
landed on `executions`. For trades: when the relay put the taker's `execution` back on `orders`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3

from services.common.resources import physical_name
from services.common.serialization import RecordFormatError, decode_record
from services.common.streams.scan import iter_records
from services.loadtest.measure import LatencySummary
from services.loadtest.traders import Tally, Trader


def _messages(kinesis: Any, stream: str) -> Iterator[tuple[float, dict[str, Any]]]:
    """(arrival epoch seconds, message) of every message on every shard of `stream`."""
    for _shard, record in iter_records(kinesis, stream):
        arrival = record["ApproximateArrivalTimestamp"].timestamp()
        try:
            for message in decode_record(record["Data"]):
                yield arrival, message
        except RecordFormatError:
            continue


def hop_latencies(prefix: str, traders: list[Trader], tally: Tally) -> dict[str, Any]:
    """Latency summaries per hop, for the orders placed in the measurement window."""
    to_wall = time.time() - time.monotonic()
    tracks = {o.id: o for t in traders for o in t.orders.values() if o.in_window}
    kinesis = boto3.client("kinesis")
    on_orders: dict[str, float] = {}
    relayed: dict[str, float] = {}  # trade id -> the taker's execution back on `orders`
    for arrival, message in _messages(kinesis, physical_name(prefix, "orders")):
        kind = message.get("kind")
        if kind == "new":
            order_id = message["order"]["id"]
            if order_id in tracks:
                on_orders.setdefault(order_id, arrival)
        elif kind == "execution" and message.get("role") == "taker":
            event = message["event"]
            if event.get("taker_order_id") in tracks:
                relayed.setdefault(event["id"], arrival)
    on_matching: dict[str, float] = {}
    for arrival, message in _messages(kinesis, physical_name(prefix, "matching")):
        if message.get("op") == "new" and message.get("id") in tracks:
            on_matching.setdefault(message["id"], arrival)
    accepted: dict[str, float] = {}
    trades: dict[str, float] = {}
    for arrival, message in _messages(kinesis, physical_name(prefix, "executions")):
        kind = message.get("type")
        if kind == "accepted" and message.get("order_id") in tracks:
            accepted.setdefault(message["order_id"], arrival)
        elif kind == "trade" and message["id"] in relayed:
            trades.setdefault(message["id"], arrival)

    hops: dict[str, list[float]] = {
        "submit → on `orders` (gateway, orders API, PutRecords)": [],
        "on `orders` → 202 back at the client": [],
        "`orders` → `matching` (accounts engine)": [],
        "`matching` → `executions` (matching engine)": [],
        "`executions` → private WebSocket (market data, gateway)": [],
        "`executions` → `orders` (settlement relay)": [],
    }
    names = list(hops)
    for order_id, track in tracks.items():
        a = on_orders.get(order_id)
        b = on_matching.get(order_id)
        c = accepted.get(order_id)
        if a is not None:
            hops[names[0]].append((a - (track.sent_at + to_wall)) * 1000)
            hops[names[1]].append((track.acked_at + to_wall - a) * 1000)
        if a is not None and b is not None:
            hops[names[2]].append((b - a) * 1000)
        if b is not None and c is not None:
            hops[names[3]].append((c - b) * 1000)
        if c is not None and track.first_event_at is not None:
            hops[names[4]].append((track.first_event_at + to_wall - c) * 1000)
    for trade_id, back in relayed.items():
        made = trades.get(trade_id)
        if made is not None:
            hops[names[5]].append((back - made) * 1000)
    return {
        name: {
            "count": summary.count,
            "p50_ms": summary.p50_ms,
            "p99_ms": summary.p99_ms,
            "max_ms": summary.max_ms,
        }
        for name, values in hops.items()
        for summary in [LatencySummary.of(values)]
    }

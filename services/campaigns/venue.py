"""Venue-side checks of the campaigns, read straight from the stream and tables (the campaign
runs the stack itself, so it has the endpoint): the `executions` stream is the truth of which
trades happened; the trades table must hold each of them exactly once on the public tape and
once per side in the accounts' fills."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import orjson

from services.campaigns.ledger import Check
from services.common.aws import client_config
from services.common.resources import physical_name
from services.common.serialization import decode_record
from services.common.streams.scan import iter_records
from services.orders.audit import AuditReport, check_tables, scan_all
from services.orders.projection import unpack

# Reads of whole tables and streams from moto on a busy machine: be patient.
PATIENT = {"read_timeout": 120.0}


def read_stream(prefix: str, stream: str) -> list[dict[str, Any]]:
    """Every message of a stream, shard by shard, from the oldest record to the tip."""
    import boto3

    kinesis = boto3.client("kinesis", config=client_config(**PATIENT))
    name = physical_name(prefix, stream)
    messages: list[dict[str, Any]] = []
    for _shard, record in iter_records(kinesis, name):
        messages.extend(decode_record(record["Data"]))
    return messages


def check_trades(prefix: str) -> Check:
    """Trades in `executions` (deduplicated by id; copies must be identical: replays after a
    crash re-emit the same bytes) = the public tape (`SYMBOL#` items) = half the accounts' fills
    (`ACCOUNT#` items: one maker and one taker fill per trade, same price and quantity)."""
    import boto3

    problems: list[str] = []
    trades: dict[str, dict[str, Any]] = {}
    copies = 0
    for event in read_stream(prefix, "executions"):
        if event.get("type") != "trade":
            continue
        known = trades.get(event["id"])
        if known is None:
            trades[event["id"]] = event
        else:
            copies += 1
            if orjson.dumps(known, option=orjson.OPT_SORT_KEYS) != orjson.dumps(
                event, option=orjson.OPT_SORT_KEYS
            ):
                problems.append(f"{event['id']}: two different events with one id")
    table = boto3.resource("dynamodb", config=client_config(**PATIENT)).Table(
        physical_name(prefix, "trades")
    )
    tape: Counter[str] = Counter()
    fills: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in map(unpack, scan_all(table)):
        if str(item["pk"]).startswith("SYMBOL#"):
            tape[str(item["id"])] += 1
        elif str(item["pk"]).startswith("ACCOUNT#"):
            fills[str(item["trade_id"])].append(item)
    for trade_id, event in trades.items():
        if tape[trade_id] != 1:
            problems.append(f"{trade_id}: {tape[trade_id]} times on the tape")
        sides = fills.get(trade_id, [])
        roles = sorted(str(f["liquidity"]) for f in sides)
        if roles != ["maker", "taker"]:
            problems.append(f"{trade_id}: fills {roles or 'none'}")
        for fill in sides:
            if (str(fill["price"]), str(fill["qty"])) != (str(event["price"]), str(event["qty"])):
                problems.append(
                    f"{trade_id}: fill {fill['price']}x{fill['qty']} vs {event['price']}x{event['qty']}"
                )
    for trade_id in (set(tape) | set(fills)) - set(trades):
        problems.append(f"{trade_id}: in the table, not in executions")
    detail = f"{len(trades)} trades in executions ({copies} replayed copies), {sum(tape.values())} on the tape, {sum(len(f) for f in fills.values())} fills"
    if problems:
        shown = ", ".join(problems[:3]) + (
            f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        return Check(
            "executions = tape = fills (each trade once)",
            False,
            f"{len(problems)}: {shown}; {detail}",
        )
    return Check("executions = tape = fills (each trade once)", bool(trades), detail)


def audit(prefix: str, settle_s: float) -> AuditReport:
    """`tradestack audit` (services/orders/audit.py) with patient reads, retried for up to
    `settle_s` while it fails (a fee credit may still be on its way to the fees account)."""
    import time

    import boto3

    dynamodb = boto3.resource("dynamodb", config=client_config(**PATIENT))
    deadline = time.monotonic() + settle_s
    while True:
        read = {
            name: scan_all(dynamodb.Table(physical_name(prefix, name)))
            for name in ("orders", "trades", "balances", "ledger")
        }
        report = check_tables(read["orders"], read["trades"], read["balances"], read["ledger"])
        if report.ok or time.monotonic() >= deadline:
            return report
        time.sleep(1.0)

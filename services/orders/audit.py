"""`tradestack audit`: check the venue's books balance, from the query tables alone.

Checks (run them on a quiet venue: the projection may lag the engines by a moment):
1. conservation: per asset, the sum of every balance (available + held, the fees account
   included) equals deposits minus withdrawals (both read from the ledger);
2. no balance, and no balance after any ledger entry, is negative;
3. fills: every order's filled quantity equals the sum of its fills, and a `filled` order's
   equals its quantity;
4. ledger replay: per account and asset the entries are numbered 1..n without gaps, each one's
   balance is the previous plus its deltas, and the last equals the balances table.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from services.common.aws import client_config
from services.common.resources import physical_name
from services.orders.accounts.money import format_units, parse_units
from services.orders.projection import ledger_entries, unpack


@dataclass
class Check:
    name: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class AuditReport:
    checks: list[Check]
    totals: dict[str, dict[str, int]]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def scan_all(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def audit(prefix: str) -> AuditReport:
    """Read the orders, trades, balances and ledger tables and run every check."""
    import boto3

    dynamodb = boto3.resource("dynamodb", config=client_config())
    read = {
        name: scan_all(dynamodb.Table(physical_name(prefix, name)))
        for name in ("orders", "trades", "balances", "ledger")
    }
    return check_tables(read["orders"], read["trades"], read["balances"], read["ledger"])


def check_tables(
    orders: list[dict[str, Any]],
    trades: list[dict[str, Any]],
    balances: list[dict[str, Any]],
    ledger: list[dict[str, Any]],
) -> AuditReport:
    """The checks on already-read table items (tests call this directly)."""
    conservation = Check("per asset: balances = deposits - withdrawals")
    negative = Check("no negative balance")
    fills = Check("filled quantities = sum of fills")
    replay = Check("ledger replays to the balances")

    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: {"balances": 0, "deposits": 0, "withdrawals": 0}
    )
    balance_rows: dict[tuple[str, str], tuple[int, int]] = {}
    for item in balances:
        account, asset = str(item["pk"]).removeprefix("ACCOUNT#"), str(item["sk"])
        available, held = _units(item["available"]), _units(item["held"])
        balance_rows[(account, asset)] = (available, held)
        totals[asset]["balances"] += available + held
        negative.checked += 1
        if available < 0 or held < 0:
            negative.problems.append(
                f"{account} {asset}: available {item['available']}, held {item['held']}"
            )

    entries = ledger_entries(ledger)  # packed items unpacked, each entry once, in seq order
    for (account, asset), items in sorted(entries.items()):
        replay.checked += 1
        available = held = 0
        for expected_seq, entry in enumerate(items, start=1):
            if int(entry["seq"]) != expected_seq:
                replay.problems.append(
                    f"{account} {asset}: entry {expected_seq} missing (found {entry['seq']})"
                )
                break
            available += _units(entry["available_delta"])
            held += _units(entry["held_delta"])
            if (available, held) != (_units(entry["available"]), _units(entry["held"])):
                replay.problems.append(
                    f"{account} {asset}: entry {expected_seq} does not follow from the ones before"
                )
                break
            if available < 0 or held < 0:
                negative.problems.append(
                    f"{account} {asset}: negative after ledger entry {expected_seq}"
                )
            if entry["cause"] == "deposit":
                totals[asset]["deposits"] += _units(entry["available_delta"])
            elif entry["cause"] == "withdraw":
                totals[asset]["withdrawals"] -= _units(entry["available_delta"])
        if balance_rows.get((account, asset)) != (available, held):
            row = balance_rows.get((account, asset))
            shown = f"{format_units(row[0])}/{format_units(row[1])}" if row else "missing"
            replay.problems.append(
                f"{account} {asset}: ledger gives {format_units(available)}/{format_units(held)}, balances table {shown}"
            )
    for key in sorted(set(balance_rows) - set(entries)):
        replay.problems.append(f"{key[0]} {key[1]}: a balance with no ledger entry")

    for asset, total in sorted(totals.items()):
        conservation.checked += 1
        if total["balances"] != total["deposits"] - total["withdrawals"]:
            conservation.problems.append(
                f"{asset}: balances {format_units(total['balances'])} != deposits "
                f"{format_units(total['deposits'])} - withdrawals {format_units(total['withdrawals'])}"
            )

    orders = [unpack(item) for item in orders]
    trades = [unpack(item) for item in trades]
    filled_by_order: dict[str, int] = defaultdict(int)
    for item in trades:
        if str(item["pk"]).startswith("ACCOUNT#"):
            filled_by_order[str(item["order_id"])] += _units(item["qty"])
    for item in orders:
        if item.get("sk") != "ORDER":
            continue
        fills.checked += 1
        order_id, filled = str(item["id"]), _units(item.get("filled") or "0")
        if filled != filled_by_order.get(order_id, 0):
            fills.problems.append(
                f"order {order_id}: filled {item.get('filled')} but its fills add up to "
                f"{format_units(filled_by_order.get(order_id, 0))}"
            )
        elif item.get("status") == "filled" and item.get("qty") and filled != _units(item["qty"]):
            fills.problems.append(
                f"order {order_id}: status filled but {item.get('filled')} of {item['qty']}"
            )
    return AuditReport(
        [conservation, negative, fills, replay], {k: dict(v) for k, v in totals.items()}
    )


def audit_until_ok(prefix: str, settle_s: float) -> AuditReport:
    """Audit, retrying for up to `settle_s` while it fails (the projection may still be catching up)."""
    deadline = time.monotonic() + settle_s
    while True:
        report = audit(prefix)
        if report.ok or time.monotonic() >= deadline:
            return report
        time.sleep(0.5)


def print_report(report: AuditReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Tradestack audit")
    table.add_column("check")
    table.add_column("checked", justify="right")
    table.add_column("result")
    for check in report.checks:
        result = (
            "[green]ok[/green]" if check.ok else f"[red]{len(check.problems)} violation(s)[/red]"
        )
        table.add_row(check.name, str(check.checked), result)
    console.print(table)
    assets = Table(title="Per asset")
    for column in ("asset", "balances", "deposits", "withdrawals"):
        assets.add_column(column, justify="right" if column != "asset" else "left")
    for asset, total in sorted(report.totals.items()):
        assets.add_row(
            asset, *(format_units(total[k]) for k in ("balances", "deposits", "withdrawals"))
        )
    console.print(assets)
    for check in report.checks:
        for problem in check.problems[:20]:
            console.print(f"[red]✗[/red] {check.name}: {problem}")
    console.print(
        "[bold green]audit passed[/bold green]"
        if report.ok
        else "[bold red]audit FAILED[/bold red]"
    )


def _units(value: Any) -> int:
    text = str(value)
    negative = text.startswith("-")
    units = parse_units(text.lstrip("-"), allow_zero=True)
    return -units if negative else units

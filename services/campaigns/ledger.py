"""The client-side ledger of a load bot, and the rules that reconcile it with the venue.

A bot writes down what the venue *told it*: every order answered 202 (or 200 for a repeated
`client_order_id`), every fill and terminal order event pushed on its private WebSocket, and when
its socket was subscribed. At the end it reads back what the venue *recorded* (its orders, its
fills from `GET /api/trades`, its balances), and the functions below compare the two. They are
pure, so the rules are unit-tested without a venue (tests/campaigns/test_ledger_rules.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

TERMINAL = frozenset({"filled", "cancelled", "expired", "rejected"})
# Engine events on the private `orders` channel that end an order, and the status each means.
TERMINAL_EVENTS = {
    "filled": "filled",
    "cancelled": "cancelled",
    "expired": "expired",
    "rejected": "rejected",
    "order_rejected": "rejected",
}
# The engine answers a refused cancel or amend with a `rejected` event naming the *target* order
# ("a refused cancel or amend leaves its order as it was", docs/engine.md). Such a `rejected`
# ends nothing: it is one for an order whose `accepted` was seen, or one with a reason only a
# request on an existing order can have.
REQUEST_REFUSALS = frozenset({"unknown_order", "not_order_owner", "duplicate_order_id"})


@dataclass
class Check:
    """One line of a campaign's report."""

    name: str
    ok: bool
    detail: str


@dataclass
class SubmittedOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    submitted_ms: int


@dataclass
class WsFill:
    trade_id: str
    order_id: str
    symbol: str
    side: str
    role: str
    price: str
    qty: str
    ts: int | None
    received_ms: int
    connection: int


@dataclass
class Window:
    """A time the private socket was subscribed: from the `subscribed` reply to the close."""

    opened_ms: int
    closed_ms: int | None = None


@dataclass
class BotLedger:
    name: str
    account: str = ""
    # the venue's answers while the load ran
    orders: dict[str, SubmittedOrder] = field(default_factory=dict)
    unresolved: set[str] = field(default_factory=set)  # client order ids without a definite answer
    refused: Counter[str] = field(default_factory=Counter)  # 4xx codes of definite refusals
    ws_windows: list[Window] = field(default_factory=list)
    ws_fills: dict[tuple[str, str], WsFill] = field(default_factory=dict)
    ws_fill_connections: dict[tuple[str, str], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )
    ws_duplicates_same_connection: list[str] = field(default_factory=list)
    ws_duplicates_across_connections: int = 0
    ws_terminal: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ws_terminal_reasons: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ws_accepted: set[str] = field(default_factory=set)
    ws_refused_requests: int = 0  # `rejected` events of refused cancels and amends
    # what the venue recorded, read at the end
    baseline: dict[str, Decimal] = field(default_factory=dict)  # balances after the deposits
    final_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    listed_orders: list[dict[str, Any]] = field(default_factory=list)
    table_fills: list[dict[str, Any]] = field(default_factory=list)
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def record_ws_fill(self, message: dict[str, Any], connection: int, now_ms: int) -> None:
        key = (str(message.get("trade_id")), str(message.get("order_id")))
        connections = self.ws_fill_connections[key]
        if key in self.ws_fills:
            if connection in connections:
                self.ws_duplicates_same_connection.append(key[0])
            else:
                self.ws_duplicates_across_connections += 1
            connections.add(connection)
            return
        connections.add(connection)
        self.ws_fills[key] = WsFill(
            trade_id=key[0],
            order_id=key[1],
            symbol=str(message.get("symbol")),
            side=str(message.get("side")),
            role=str(message.get("role")),
            price=str(message.get("price")),
            qty=str(message.get("qty")),
            ts=message.get("ts") if isinstance(message.get("ts"), int) else None,
            received_ms=now_ms,
            connection=connection,
        )

    def record_ws_order_event(self, message: dict[str, Any]) -> None:
        kind = str(message.get("type"))
        status = TERMINAL_EVENTS.get(kind)
        order_id = message.get("order_id")
        if not isinstance(order_id, str):
            return
        if kind == "accepted":
            self.ws_accepted.add(order_id)
        if kind == "rejected" and (
            order_id in self.ws_accepted or message.get("reason") in REQUEST_REFUSALS
        ):
            self.ws_refused_requests += 1
            return
        if status is not None:
            self.ws_terminal[order_id].add(status)
            self.ws_terminal_reasons[order_id].add(str(message.get("reason")))


def _sample(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def check_orders_terminal(bots: list[BotLedger]) -> Check:
    """Every order the venue accepted (202, or 200 for a repeated client order id) ended in
    exactly one terminal state, read back with `GET /api/orders/{id}`."""
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    total = 0
    for bot in bots:
        for order_id in bot.orders:
            total += 1
            final = bot.final_orders.get(order_id)
            status = final.get("status") if final else "not found"
            statuses[str(status)] += 1
            if status not in TERMINAL:
                problems.append(f"{bot.name} {order_id}: {status}")
    shown = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    if problems:
        return Check(
            "every accepted order is terminal",
            False,
            f"{len(problems)} of {total} not: {_sample(problems)}",
        )
    return Check("every accepted order is terminal", total > 0, f"{total} orders: {shown}")


def check_no_unknown_orders(bots: list[BotLedger]) -> Check:
    """The venue holds no order the bots did not place: every listed order was answered 202/200,
    or is the order of a submission whose answer was lost (a retried `client_order_id`)."""
    phantoms: list[str] = []
    adopted = 0
    for bot in bots:
        for order in bot.listed_orders:
            if order["id"] in bot.orders:
                continue
            if order.get("client_order_id") in bot.unresolved:
                adopted += 1
                if order.get("status") not in TERMINAL:
                    phantoms.append(
                        f"{bot.name} {order['id']}: unanswered order still {order.get('status')}"
                    )
                continue
            phantoms.append(f"{bot.name} {order['id']} ({order.get('client_order_id')})")
    unresolved = sum(len(b.unresolved) for b in bots)
    detail = f"{sum(len(b.listed_orders) for b in bots)} listed; {unresolved} submissions never answered, {adopted} of them found"
    if phantoms:
        return Check(
            "no order the bots did not place", False, f"{detail}; unknown: {_sample(phantoms)}"
        )
    return Check("no order the bots did not place", True, detail)


def check_ws_single_terminal(bots: list[BotLedger]) -> Check:
    """On the private `orders` channel no order ends twice, and the end it shows is the status
    the REST API reports."""
    problems: list[str] = []
    seen = 0
    for bot in bots:
        for order_id, kinds in bot.ws_terminal.items():
            seen += 1
            final = (bot.final_orders.get(order_id) or {}).get("status")
            reasons = "/".join(sorted(bot.ws_terminal_reasons.get(order_id, set())))
            if len(kinds) > 1:
                problems.append(f"{bot.name} {order_id}: {'+'.join(sorted(kinds))} ({reasons})")
            elif final is not None and final not in kinds:
                problems.append(
                    f"{bot.name} {order_id}: socket {'/'.join(kinds)} ({reasons}), REST {final}"
                )
    if problems:
        return Check(
            "one terminal event per order on the WebSocket",
            False,
            f"{len(problems)}: {_sample(problems)}",
        )
    refused = sum(b.ws_refused_requests for b in bots)
    return Check(
        "one terminal event per order on the WebSocket",
        True,
        f"{seen} orders ended on the socket; {refused} refused cancels (not an end)",
    )


def check_fill_table(bots: list[BotLedger]) -> Check:
    """`GET /api/trades` lists each of the bot's fills once, each for an order the bot knows, and
    an order's fills add up to its filled quantity."""
    problems: list[str] = []
    total = 0
    for bot in bots:
        known = set(bot.orders) | {o["id"] for o in bot.listed_orders}
        seen: set[tuple[str, str]] = set()
        filled: dict[str, Decimal] = defaultdict(Decimal)
        for fill in bot.table_fills:
            total += 1
            key = (fill["id"], fill["order_id"])
            if key in seen:
                problems.append(f"{bot.name}: fill {key[0]} of {key[1]} listed twice")
            seen.add(key)
            if fill["order_id"] not in known:
                problems.append(f"{bot.name}: fill {key[0]} for unknown order {key[1]}")
            filled[fill["order_id"]] += Decimal(fill["qty"])
        for order_id, order in bot.final_orders.items():
            if Decimal(order.get("filled") or "0") != filled.get(order_id, Decimal(0)):
                problems.append(
                    f"{bot.name} {order_id}: filled {order.get('filled')}, fills {filled.get(order_id, 0)}"
                )
    if problems:
        return Check(
            "trades table: each fill once, adds up", False, f"{len(problems)}: {_sample(problems)}"
        )
    return Check("trades table: each fill once, adds up", True, f"{total} fills of the bots")


def lag_bound_ms(bots: list[BotLedger], margin_ms: int = 2000) -> int:
    """The longest time from a trade (`ts`) to its fill arriving on a socket, plus a margin."""
    lags = [f.received_ms - f.ts for b in bots for f in b.ws_fills.values() if f.ts is not None]
    return (max(lags) if lags else 0) + margin_ms


def gaps(windows: list[Window], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """The times within [start, end] the socket was not subscribed."""
    result: list[tuple[int, int]] = []
    cursor = start_ms
    for window in sorted(windows, key=lambda w: w.opened_ms):
        if window.opened_ms > cursor:
            result.append((cursor, window.opened_ms))
        cursor = max(cursor, window.closed_ms if window.closed_ms is not None else end_ms)
    if cursor < end_ms:
        result.append((cursor, end_ms))
    return result


def check_ws_fills(bots: list[BotLedger], started_ms: int, ended_ms: int) -> Check:
    """The private `fills` channel against the trades table.

    - Every fill received is in the table, with the same symbol, side, price and quantity (no
      phantom fills), and none arrived twice on one connection.
    - Every fill in the table was received, unless the socket may have been down when it was
      pushed: a trade at time `ts` is pushed between `ts` and `ts + L`, where L is the longest
      delivery delay observed in the run (+2 s); if that interval overlaps a time the socket was
      not subscribed (marketdata or gateway killed, reconnecting), missing it is excused and
      counted. Private channels are live only (docs/marketdata.md): nothing is re-sent after a
      reconnect, so the client reconciles with `GET /api/trades`, as this check does.
    A fill received on two connections (a replay after a reconnect) is counted, not failed:
    clients dedupe by trade id.
    """
    bound = lag_bound_ms(bots)
    phantom: list[str] = []
    missing: list[str] = []
    excused = received = 0
    for bot in bots:
        table = {(f["id"], f["order_id"]): f for f in bot.table_fills}
        for key, fill in bot.ws_fills.items():
            received += 1
            row = table.get(key)
            if row is None:
                phantom.append(f"{bot.name} {key[0]}")
            elif (row["symbol"], row["side"], Decimal(row["price"]), Decimal(row["qty"])) != (
                fill.symbol,
                fill.side,
                Decimal(fill.price),
                Decimal(fill.qty),
            ):
                phantom.append(
                    f"{bot.name} {key[0]}: socket {fill.price}x{fill.qty}, table {row['price']}x{row['qty']}"
                )
        down = gaps(bot.ws_windows, started_ms, ended_ms)
        for key, row in table.items():
            if key in bot.ws_fills:
                continue
            ts = row.get("time") or 0
            if any(start <= ts + bound and ts <= end for start, end in down):
                excused += 1
            else:
                missing.append(f"{bot.name} {key[0]} at {ts}")
    duplicates = [d for b in bots for d in b.ws_duplicates_same_connection]
    across = sum(b.ws_duplicates_across_connections for b in bots)
    detail = (
        f"{received} received; {excused} missed while a socket was down (L = {bound} ms); "
        f"{across} re-sent after a reconnect"
    )
    problems = []
    if phantom:
        problems.append(f"{len(phantom)} not in the table: {_sample(phantom)}")
    if missing:
        problems.append(f"{len(missing)} missing while subscribed: {_sample(missing)}")
    if duplicates:
        problems.append(f"{len(duplicates)} twice on one connection: {_sample(duplicates)}")
    if problems:
        return Check("WebSocket fills = trades table", False, "; ".join(problems) + f" ({detail})")
    return Check("WebSocket fills = trades table", received > 0, detail)


def expected_balances(bot: BotLedger) -> dict[str, Decimal]:
    """Balances after the deposits, moved by each of the bot's fills and fees."""
    totals: dict[str, Decimal] = defaultdict(Decimal, bot.baseline)
    for fill in bot.table_fills:
        base, quote = str(fill["symbol"]).split("-", 1)
        qty, notional = Decimal(fill["qty"]), Decimal(fill["qty"]) * Decimal(fill["price"])
        sign = 1 if fill["side"] == "buy" else -1
        totals[base] += sign * qty
        totals[quote] -= sign * notional
        totals[fill["fee_asset"]] -= Decimal(fill["fee"])
    return dict(totals)


def check_bot_balances(bots: list[BotLedger]) -> Check:
    """Each bot's balance = deposits ± its fills - its fees, and nothing held once every order
    is terminal."""
    problems: list[str] = []
    for bot in bots:
        expected = expected_balances(bot)
        for asset in sorted(set(expected) | set(bot.balances)):
            available, held = bot.balances.get(asset, (Decimal(0), Decimal(0)))
            want = expected.get(asset, Decimal(0))
            if available + held != want:
                problems.append(f"{bot.name} {asset}: {available + held} != {want}")
            if held != 0:
                problems.append(f"{bot.name} {asset}: {held} still held")
    if problems:
        return Check(
            "bot balances = deposits ± fills - fees", False, f"{len(problems)}: {_sample(problems)}"
        )
    return Check(
        "bot balances = deposits ± fills - fees", bool(bots), f"{len(bots)} bots, every asset"
    )

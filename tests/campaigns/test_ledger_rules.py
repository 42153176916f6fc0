"""The reconciliation rules of the client-side ledger (services/campaigns/ledger.py), without a
venue."""

from __future__ import annotations

from decimal import Decimal

from services.campaigns.ledger import (
    BotLedger,
    SubmittedOrder,
    Window,
    check_bot_balances,
    check_no_unknown_orders,
    check_orders_terminal,
    check_ws_fills,
    check_ws_single_terminal,
    gaps,
)


def fill(
    trade: str, order: str, time: int, side: str = "buy", price: str = "100", qty: str = "1"
) -> dict[str, object]:
    return {
        "id": trade,
        "order_id": order,
        "symbol": "BTC-USD",
        "side": side,
        "price": price,
        "qty": qty,
        "fee": "0.2",
        "fee_asset": "USD",
        "liquidity": "taker",
        "time": time,
    }


def ws(
    trade: str, order: str, ts: int, side: str = "buy", price: str = "100", qty: str = "1"
) -> dict[str, object]:
    return {
        "trade_id": trade,
        "order_id": order,
        "symbol": "BTC-USD",
        "side": side,
        "price": price,
        "qty": qty,
        "ts": ts,
    }


def test_gaps_are_the_times_no_window_covers() -> None:
    windows = [Window(100, 200), Window(250, None)]
    assert gaps(windows, 0, 400) == [(0, 100), (200, 250)]
    assert gaps([], 0, 10) == [(0, 10)]


def test_a_fill_missed_while_subscribed_fails_one_missed_while_down_is_excused() -> None:
    bot = BotLedger("b", ws_windows=[Window(0, 10_000), Window(12_000, None)])
    bot.record_ws_fill(ws("T:1", "o1", 1_000), connection=1, now_ms=1_100)  # lag 100 ms
    bot.table_fills = [fill("T:1", "o1", 1_000), fill("T:2", "o2", 11_000)]
    assert check_ws_fills([bot], 0, 20_000).ok  # T:2 traded while the socket was down
    bot.table_fills.append(fill("T:3", "o3", 16_000))  # subscribed all along, never received
    check = check_ws_fills([bot], 0, 20_000)
    assert not check.ok and "T:3" in check.detail


def test_a_phantom_or_different_fill_on_the_socket_fails() -> None:
    bot = BotLedger("b", ws_windows=[Window(0, None)])
    bot.record_ws_fill(ws("T:1", "o1", 1_000, qty="2"), connection=1, now_ms=1_100)
    bot.table_fills = [fill("T:1", "o1", 1_000, qty="1")]
    assert not check_ws_fills([bot], 0, 5_000).ok


def test_a_fill_twice_on_one_connection_fails_across_reconnects_it_is_counted() -> None:
    bot = BotLedger("b", ws_windows=[Window(0, None)])
    bot.table_fills = [fill("T:1", "o1", 1_000)]
    bot.record_ws_fill(ws("T:1", "o1", 1_000), connection=1, now_ms=1_100)
    bot.record_ws_fill(ws("T:1", "o1", 1_000), connection=2, now_ms=9_000)
    assert check_ws_fills([bot], 0, 10_000).ok
    bot.record_ws_fill(ws("T:1", "o1", 1_000), connection=2, now_ms=9_100)
    assert not check_ws_fills([bot], 0, 10_000).ok


def test_a_refused_cancel_is_not_a_second_end() -> None:
    bot = BotLedger("b")
    bot.final_orders = {"o1": {"status": "filled"}, "o2": {"status": "cancelled"}}
    bot.record_ws_order_event({"type": "accepted", "order_id": "o1"})
    bot.record_ws_order_event({"type": "filled", "order_id": "o1"})
    bot.record_ws_order_event({"type": "rejected", "order_id": "o1", "reason": "unknown_order"})
    bot.record_ws_order_event({"type": "cancelled", "order_id": "o2", "reason": "user"})
    bot.record_ws_order_event(
        {"type": "rejected", "order_id": "o2", "reason": "duplicate_order_id"}
    )
    assert check_ws_single_terminal([bot]).ok
    bot.record_ws_order_event({"type": "expired", "order_id": "o1", "reason": "ioc"})
    assert not check_ws_single_terminal([bot]).ok


def test_every_accepted_order_must_be_terminal_and_known() -> None:
    bot = BotLedger("b")
    bot.orders = {"o1": SubmittedOrder("o1", "b-1", "BTC-USD", "buy", "limit", 0)}
    bot.final_orders = {"o1": {"status": "open"}}
    assert not check_orders_terminal([bot]).ok
    bot.final_orders = {"o1": {"status": "cancelled"}}
    assert check_orders_terminal([bot]).ok
    bot.unresolved = {"b-2"}
    bot.listed_orders = [{"id": "o1"}, {"id": "o2", "client_order_id": "b-2", "status": "expired"}]
    assert check_no_unknown_orders([bot]).ok  # the order of a submission whose answer was lost
    bot.listed_orders.append({"id": "o3", "client_order_id": "b-9", "status": "filled"})
    assert not check_no_unknown_orders([bot]).ok


def test_balances_follow_deposits_fills_and_fees() -> None:
    bot = BotLedger("b", baseline={"USD": Decimal("1000"), "BTC": Decimal("1")})
    bot.table_fills = [
        fill("T:1", "o1", 0, side="buy", price="100", qty="2"),
        fill("T:2", "o2", 0, side="sell", price="150", qty="1"),
    ]
    # USD: 1000 - 200 + 150 - 0.2 - 0.2; BTC: 1 + 2 - 1
    bot.balances = {"USD": (Decimal("949.6"), Decimal(0)), "BTC": (Decimal("2"), Decimal(0))}
    assert check_bot_balances([bot]).ok
    bot.balances["BTC"] = (Decimal("1.5"), Decimal("0.5"))  # right total, but something still held
    assert not check_bot_balances([bot]).ok

"""The accounts engine alone (with the real matching engine in memory): holds, fills, fees."""

from __future__ import annotations

from services.orders.accounts import FEES_ACCOUNT, AccountsEngine
from tests.orders.venue import MemoryVenue

U = 10**8  # one whole unit of any asset


def funded(duplicate_relay: bool = False) -> MemoryVenue:
    venue = MemoryVenue(duplicate_relay=duplicate_relay)
    venue.deposit("alice", "USD", "100000")
    venue.deposit("bob", "BTC", "10")
    return venue


def test_limit_buy_holds_notional_plus_worst_fee() -> None:
    venue = funded()
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="2")
    # 200 USD notional + ceil(200 * 20 bps) = 0.4 USD worst-case fee
    assert venue.balance("alice", "USD") == (100000 * U - 2004 * U // 10, 2004 * U // 10)


def test_two_users_cross_and_end_with_exact_balances_fees_included() -> None:
    venue = funded()
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="1.5")  # maker, 10 bps
    order_id = venue.order("alice", "BTC-USD", "buy", price="101.00", qty="1")  # taker, 20 bps
    # taker buys 1 BTC at the maker's 100.00: pays 100 + 0.2 fee, unused hold released
    assert venue.balance("alice", "USD") == (100000 * U - 1002 * U // 10, 0)
    assert venue.balance("alice", "BTC") == (1 * U, 0)
    # maker sold 1 of 1.5 BTC: 0.5 still held; receives 100 - 0.1 fee
    assert venue.balance("bob", "BTC") == (85 * U // 10, 5 * U // 10)
    assert venue.balance("bob", "USD") == (999 * U // 10, 0)
    assert venue.balance(FEES_ACCOUNT, "USD") == (3 * U // 10, 0)
    assert venue.last_order(order_id)["status"] == "filled"
    assert venue.last_order(order_id)["avg_price"] == "100.00000000"
    assert venue.accounts.totals() == {"USD": 100000 * U, "BTC": 10 * U}
    fills = [m for m in venue.published if m["kind"] == "fill"]
    assert {(f["account"], f["liquidity"], f["fee"]) for f in fills} == {
        ("alice", "taker", "0.20000000"),
        ("bob", "maker", "0.10000000"),
    }


def test_partial_fill_then_cancel_releases_exactly_the_unfilled_hold() -> None:
    venue = funded()
    buy = venue.order("alice", "BTC-USD", "buy", price="100.00", qty="3")
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="1")
    # alice is the maker (10 bps): spent 100 + 0.1; 2 BTC at 100 + worst fee 0.4 still held
    _available, held = venue.balance("alice", "USD")
    assert held == 200 * U + 4 * U // 10
    venue.cancel("alice", buy)
    assert venue.balance("alice", "USD") == (100000 * U - 1001 * U // 10, 0)
    assert venue.last_order(buy)["status"] == "cancelled"
    assert venue.last_order(buy)["filled"] == "1.0000"


def test_ioc_and_market_leftovers_release_their_holds() -> None:
    venue = funded()
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="1")
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="2", tif="IOC")
    assert venue.balance("alice", "USD")[1] == 0
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="1")
    venue.order("alice", "BTC-USD", "buy", "market", quote_qty="150")
    assert venue.balance("alice", "USD")[1] == 0
    assert venue.balance("alice", "BTC") == (2 * U, 0)
    venue.order("bob", "BTC-USD", "sell", "market", qty="1")  # no bids: expires, releases
    assert venue.balance("bob", "BTC") == (8 * U, 0)
    venue.order("alice", "BTC-USD", "buy", price="90.00", qty="0.5")
    venue.order("bob", "BTC-USD", "sell", "market", qty="1", price="80.00")
    assert venue.balance("bob", "BTC") == (75 * U // 10, 0)
    assert venue.accounts.totals() == {"USD": 100000 * U, "BTC": 10 * U}


def test_insufficient_funds_is_rejected_and_changes_nothing() -> None:
    venue = funded()
    before = venue.accounts.snapshot()
    order_id = venue.order("alice", "BTC-USD", "buy", price="100000.00", qty="1")
    assert venue.last_order(order_id)["status"] == "rejected"
    assert venue.last_order(order_id)["reason"] == "insufficient_funds"
    assert venue.balance("alice", "USD") == (100000 * U, 0)
    assert not venue.executions
    assert AccountsEngine.restore(before).balances == venue.accounts.balances


def test_duplicate_messages_change_nothing() -> None:
    venue = funded(duplicate_relay=True)
    message = {"kind": "new", "account": "alice", "market": None}
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="1")
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="1", id="dup")
    before = venue.accounts.snapshot()
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="1", id="dup")
    assert venue.accounts.snapshot() == before
    assert venue.balance("alice", "BTC") == (U, 0)
    assert venue.accounts.totals() == {"USD": 100000 * U, "BTC": 10 * U}
    assert venue.accounts.apply(message) == []


def test_withdrawals_never_exceed_available() -> None:
    venue = funded()
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="900")  # holds 90,180
    venue.withdraw("alice", "USD", "10000")
    transfer = [m for m in venue.published if m["kind"] == "transfer"][-1]
    assert (transfer["status"], transfer["reason"]) == ("rejected", "insufficient_funds")
    venue.withdraw("alice", "USD", "9820")
    assert venue.balance("alice", "USD") == (0, 90180 * U)


def test_amend_up_needs_funds_and_amend_down_releases() -> None:
    venue = funded()
    buy = venue.order("alice", "BTC-USD", "buy", price="100.00", qty="1")
    venue.amend("alice", buy, qty="2000")
    rejected = [m for m in venue.published if m["kind"] == "request_rejected"]
    assert rejected[-1]["reason"] == "insufficient_funds"
    venue.amend("alice", buy, price="50.00", qty="1")
    assert venue.balance("alice", "USD")[1] == 50 * U + 10 * U // 100
    venue.amend("alice", buy, price="60.00")
    assert venue.balance("alice", "USD")[1] == 60 * U + 12 * U // 100
    venue.cancel("alice", buy)
    venue.cancel("alice", buy)
    assert venue.balance("alice", "USD") == (100000 * U, 0)
    assert [m["reason"] for m in venue.published if m["kind"] == "request_rejected"][
        -1
    ] == "order_not_open"


def test_cancel_of_someone_elses_order_is_refused() -> None:
    venue = funded()
    buy = venue.order("alice", "BTC-USD", "buy", price="100.00", qty="1")
    venue.cancel("bob", buy)
    assert [m["reason"] for m in venue.published if m["kind"] == "request_rejected"] == [
        "not_order_owner"
    ]
    assert venue.last_order(buy)["status"] == "open"


def test_snapshot_restore_gives_the_same_outputs() -> None:
    venue = funded()
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="3")
    restored = AccountsEngine.restore(venue.accounts.snapshot())
    assert restored.snapshot() == venue.accounts.snapshot()
    msg = {
        "kind": "withdraw",
        "account": "alice",
        "id": "w-x",
        "asset": "USD",
        "amount": "5",
        "ts": 9,
    }
    assert restored.apply(dict(msg)) == venue.accounts.apply(dict(msg))


def test_fees_round_up_per_order_not_per_fill() -> None:
    venue = MemoryVenue()
    venue.deposit("alice", "USD", "100")
    venue.deposit("bob", "BTC", "1")
    venue.order("alice", "BTC-USD", "buy", price="100.01", qty="0.0303")
    for _ in range(3):  # each fill: 1.010101 USD notional
        venue.order("bob", "BTC-USD", "sell", price="100.01", qty="0.0101")
    # alice (maker, 10 bps): ceil(3 x 101010.1 units) = 303031, not 3 x 101011
    # bob (taker, 20 bps), one order per fill: 3 x ceil(202020.2) = 606063
    assert venue.balance(FEES_ACCOUNT, "USD")[0] == 303031 + 606063
    assert venue.balance("alice", "USD")[1] == 0
    assert venue.accounts.totals()["USD"] == 100 * U


def test_market_buy_by_qty_without_price_holds_the_balance_and_releases_the_rest() -> None:
    venue = funded()
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="1")
    venue.order("bob", "BTC-USD", "sell", price="110.00", qty="1")
    order_id = venue.order("alice", "BTC-USD", "buy", "market", qty="1.5")
    # 1 at 100 + 0.5 at 110 = 155 USD, taker fee ceil(155 * 20 bps) = 0.31 USD
    assert venue.last_order(order_id)["status"] == "filled"
    assert venue.balance("alice", "BTC") == (15 * U // 10, 0)
    assert venue.balance("alice", "USD") == (100000 * U - 15531 * U // 100, 0)
    assert venue.accounts.totals() == {"USD": 100000 * U, "BTC": 10 * U}


def test_market_sell_by_quote_qty_sells_lots_worth_the_amount() -> None:
    venue = funded()
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="2")
    order_id = venue.order("bob", "BTC-USD", "sell", "market", quote_qty="50")
    assert venue.last_order(order_id)["status"] == "filled"
    assert venue.balance("bob", "BTC") == (95 * U // 10, 0)
    assert venue.accounts.totals() == {"USD": 100000 * U, "BTC": 10 * U}

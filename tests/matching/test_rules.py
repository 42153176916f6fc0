"""One test per matching rule of the engine contract (docs/engine.md)."""

from __future__ import annotations

from collections import Counter

from services.matching.engine import Market, MatchingEngine, encode_event
from tests.matching.conftest import Venue, kinds, trades
from tests.matching.streams import StreamGenerator, engine_markets

# -- resting and priority -------------------------------------------------------------------------


def test_limit_order_that_does_not_cross_rests(venue: Venue) -> None:
    events = venue.buy("b1", "100.5", "2")
    assert kinds(events) == ["accepted", "rested"]
    assert events[1]["price"] == "100.50"
    assert events[1]["open_qty"] == "2.0000"
    assert events[1]["filled"] == "0.0000"
    assert venue.book() == ([("100.50", "2.0000")], [])


def test_better_price_trades_first(venue: Venue) -> None:
    venue.sell("s101", "101", "1", account="bob")
    venue.sell("s100", "100", "1", account="bob")
    events = venue.buy("b", "101", "2")
    assert trades(events) == [("s100", "b", "100.00", "1.0000"), ("s101", "b", "101.00", "1.0000")]


def test_same_price_trades_in_time_order(venue: Venue) -> None:
    venue.sell("first", "100", "1", account="bob")
    venue.sell("second", "100", "1", account="carol")
    events = venue.buy("b", "100", "1")
    assert trades(events) == [("first", "b", "100.00", "1.0000")]
    assert venue.book()[1] == [("100.00", "1.0000")]


def test_trade_happens_at_the_makers_price(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    events = venue.buy("b", "105", "1")
    assert trades(events) == [("s", "b", "100.00", "1.0000")]


def test_partly_filled_gtc_rests_its_remainder_with_cumulative_fill(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    events = venue.buy("b", "100", "3")
    assert kinds(events) == ["accepted", "trade", "filled", "rested"]
    assert events[-1]["open_qty"] == "2.0000"
    assert events[-1]["filled"] == "1.0000"
    assert venue.book() == ([("100.00", "2.0000")], [])


def test_trade_carries_cumulative_fills_and_makers_remaining(venue: Venue) -> None:
    venue.sell("s", "100", "5", account="bob")
    first = venue.buy("b1", "100", "2")[1]
    second = venue.buy("b2", "100", "1")[1]
    assert (first["maker_filled"], first["taker_filled"], first["maker_remaining"]) == (
        "2.0000",
        "2.0000",
        "3.0000",
    )
    assert (second["maker_filled"], second["maker_remaining"]) == ("3.0000", "2.0000")
    assert first["maker_account"] == "bob" and first["taker_account"] == "alice"
    assert first["taker_side"] == "buy"


def test_maker_that_completes_gets_a_filled_event_right_after_its_trade(venue: Venue) -> None:
    venue.sell("s1", "100", "1", account="bob")
    venue.sell("s2", "100", "1", account="bob")
    events = venue.buy("b", "100", "2")
    assert kinds(events) == ["accepted", "trade", "filled", "trade", "filled", "filled"]
    assert [e["order_id"] for e in events if e["type"] == "filled"] == ["s1", "s2", "b"]


# -- time in force and order types ----------------------------------------------------------------


def test_ioc_trades_what_it_can_and_the_rest_expires(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    events = venue.buy("b", "100", "3", tif="IOC")
    assert kinds(events) == ["accepted", "trade", "filled", "expired:ioc"]
    assert (events[-1]["filled"], events[-1]["remaining"]) == ("1.0000", "2.0000")
    assert venue.book() == ([], [])


def test_ioc_without_liquidity_expires_without_trading(venue: Venue) -> None:
    assert kinds(venue.buy("b", "100", "1", tif="IOC")) == ["accepted", "expired:ioc"]


def test_fok_that_cannot_fill_expires_without_any_trade(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    events = venue.buy("b", "100", "2", tif="FOK")
    assert kinds(events) == ["accepted", "expired:fok"]
    assert events[-1]["remaining"] == "2.0000"
    assert venue.book() == ([], [("100.00", "1.0000")])


def test_fok_that_can_fill_trades_its_whole_quantity(venue: Venue) -> None:
    venue.sell("s1", "100", "1", account="bob")
    venue.sell("s2", "101", "1", account="bob")
    events = venue.buy("b", "101", "2", tif="FOK")
    assert kinds(events)[-1] == "filled"
    assert len(trades(events)) == 2


def test_fok_does_not_count_own_orders_that_stp_would_cancel(venue: Venue) -> None:
    venue.sell("mine", "100", "1")
    venue.sell("theirs", "100", "1", account="bob")
    events = venue.buy("b", "100", "2", tif="FOK", stp="cancel_maker")
    assert kinds(events) == ["accepted", "expired:fok"]
    assert venue.book()[1] == [("100.00", "2.0000")]


def test_market_order_by_qty_sweeps_levels(venue: Venue) -> None:
    venue.sell("s1", "100", "1", account="bob")
    venue.sell("s2", "102", "1", account="bob")
    events = venue.buy("m", None, "2", type="market")
    assert trades(events) == [("s1", "m", "100.00", "1.0000"), ("s2", "m", "102.00", "1.0000")]
    assert kinds(events)[-1] == "filled"
    assert events[0]["tif"] == "IOC" and "price" not in events[0]


def test_market_order_that_empties_the_book_expires_no_liquidity(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    events = venue.buy("m", None, "3", type="market")
    assert kinds(events)[-1] == "expired:no_liquidity"
    assert events[-1]["remaining"] == "2.0000"
    assert kinds(venue.sell("m2", None, "1", type="market")) == [
        "accepted",
        "expired:no_liquidity",
    ]


def test_market_order_stops_at_its_protection_price(venue: Venue) -> None:
    venue.sell("s1", "100", "1", account="bob")
    venue.sell("s2", "105", "1", account="bob")
    events = venue.buy("m", "101", "2", type="market")
    assert trades(events) == [("s1", "m", "100.00", "1.0000")]
    assert kinds(events)[-1] == "expired:protection_price"
    assert venue.book()[1] == [("105.00", "1.0000")]


def test_market_sell_protection_price_is_a_floor(venue: Venue) -> None:
    venue.buy("b1", "100", "1", account="bob")
    venue.buy("b2", "95", "1", account="bob")
    events = venue.sell("m", "99", "2", type="market")
    assert trades(events) == [("b1", "m", "100.00", "1.0000")]
    assert kinds(events)[-1] == "expired:protection_price"


def test_market_order_by_quote_qty_buys_whole_lots(venue: Venue) -> None:
    venue.sell("s1", "100", "0.5", account="bob")
    venue.sell("s2", "200", "1", account="bob")
    # 50 USD buys all 0.5 at 100; 49.99 USD buys 0.2499 at 200 (49.98), 0.01 USD is left.
    events = venue.buy("m", None, None, type="market", quote_qty="99.99")
    assert trades(events) == [("s1", "m", "100.00", "0.5000"), ("s2", "m", "200.00", "0.2499")]
    assert events[0]["quote_qty"] == "99.990000" and "qty" not in events[0]
    assert kinds(events)[-1] == "expired:quote_remainder"
    assert events[-1]["remaining_quote"] == "0.010000"
    assert events[-1]["filled"] == "0.7499"


def test_market_order_by_quote_qty_is_filled_when_the_quote_is_spent(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    events = venue.buy("m", None, None, type="market", quote_qty="25")
    assert trades(events) == [("s", "m", "100.00", "0.2500")]
    assert kinds(events)[-1] == "filled"
    assert events[-1]["filled"] == "0.2500"


def test_market_sell_by_quote_qty_sells_lots_worth_the_amount(venue: Venue) -> None:
    venue.buy("b", "100", "1", account="bob")
    events = venue.sell("m", None, None, type="market", quote_qty="10")
    assert trades(events) == [("b", "m", "100.00", "0.1000")]


def test_market_order_with_qty_and_quote_cap_stops_at_the_quantity(venue: Venue) -> None:
    venue.sell("s1", "100", "1", account="bob")
    venue.sell("s2", "200", "1", account="bob")
    events = venue.buy("m", None, "1.5", type="market", quote_qty="1000")
    assert trades(events) == [("s1", "m", "100.00", "1.0000"), ("s2", "m", "200.00", "0.5000")]
    assert events[0]["qty"] == "1.5000" and events[0]["quote_qty"] == "1000.000000"
    assert kinds(events)[-1] == "filled"
    assert events[-1]["filled"] == "1.5000"


def test_market_order_with_qty_and_quote_cap_stops_at_the_cap(venue: Venue) -> None:
    venue.sell("s1", "100", "1", account="bob")
    venue.sell("s2", "200", "1", account="bob")
    # The cap of 150.01 buys 1 at 100, then 0.25 at 200 (50): 1.25 of the 2 asked for.
    events = venue.buy("m", None, "2", type="market", quote_qty="150.01")
    assert trades(events) == [("s1", "m", "100.00", "1.0000"), ("s2", "m", "200.00", "0.2500")]
    assert kinds(events)[-1] == "expired:quote_remainder"
    assert events[-1]["remaining"] == "0.7500"
    assert events[-1]["remaining_quote"] == "0.010000"


def test_market_order_with_both_limits_is_filled_when_either_is_reached_exactly(
    venue: Venue,
) -> None:
    venue.buy("b", "100", "2", account="bob")
    # A sell for 50 of quote, capped at 10 of base (what the seller holds): 0.5 sold.
    events = venue.sell("m", None, "10", type="market", quote_qty="50")
    assert trades(events) == [("b", "m", "100.00", "0.5000")]
    assert kinds(events)[-1] == "filled"


def test_post_only_order_that_does_not_cross_rests(venue: Venue) -> None:
    venue.sell("s", "101", "1", account="bob")
    events = venue.buy("p", "100", "1", post_only=True)
    assert kinds(events) == ["accepted", "rested"]
    assert events[0]["post_only"] is True


# -- self-trade prevention ------------------------------------------------------------------------


def test_stp_cancel_taker_expires_the_taker_and_keeps_earlier_trades(venue: Venue) -> None:
    venue.sell("theirs", "100", "1", account="bob")
    venue.sell("mine", "101", "1")
    events = venue.buy("b", "101", "3", stp="cancel_taker")
    assert kinds(events) == ["accepted", "trade", "filled", "expired:self_trade"]
    assert events[-1]["filled"] == "1.0000"
    assert venue.book() == ([], [("101.00", "1.0000")])


def test_stp_cancel_maker_cancels_own_resting_order_and_keeps_matching(venue: Venue) -> None:
    venue.sell("mine", "100", "1")
    venue.sell("theirs", "100", "1", account="bob")
    events = venue.buy("b", "100", "1", stp="cancel_maker")
    assert kinds(events) == ["accepted", "cancelled:self_trade", "trade", "filled", "filled"]
    assert events[1]["order_id"] == "mine" and events[1]["open_qty"] == "1.0000"
    assert venue.book() == ([], [])


def test_stp_cancel_both_cancels_the_maker_and_expires_the_taker(venue: Venue) -> None:
    venue.sell("mine", "100", "1")
    venue.sell("theirs", "100", "1", account="bob")
    events = venue.buy("b", "100", "1", stp="cancel_both")
    assert kinds(events) == ["accepted", "cancelled:self_trade", "expired:self_trade"]
    assert venue.book() == ([], [("100.00", "1.0000")])


def test_stp_none_lets_an_account_trade_with_itself(venue: Venue) -> None:
    venue.sell("mine", "100", "1")
    events = venue.buy("b", "100", "1")
    assert events[0]["stp"] == "none"
    assert trades(events) == [("mine", "b", "100.00", "1.0000")]


def test_stp_only_applies_to_the_same_account(venue: Venue) -> None:
    venue.sell("theirs", "100", "1", account="bob")
    events = venue.buy("b", "100", "1", stp="cancel_taker")
    assert kinds(events)[-1] == "filled"


# -- cancel and amend -----------------------------------------------------------------------------


def test_cancel_removes_the_open_rest_and_reports_it(venue: Venue) -> None:
    venue.buy("b", "100", "3")
    venue.sell("s", "100", "1", account="bob")
    events = venue.cancel("b")
    assert kinds(events) == ["cancelled:user"]
    event = events[0]
    assert (event["price"], event["open_qty"], event["filled"]) == ("100.00", "2.0000", "1.0000")
    assert venue.book() == ([], [])


def test_cancel_is_allowed_on_a_halted_market(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    venue.send({"op": "market", "symbol": "BTC-USD", "status": "halted"})
    assert kinds(venue.cancel("b")) == ["cancelled:user"]


def test_repeated_amend_request_id_is_applied_once(venue: Venue) -> None:
    venue.buy("b", "100", "3")
    assert kinds(venue.amend("b", qty="2", request_id="r1")) == ["amended", "rested"]
    venue.sell("s", "100", "1", account="bob")  # fills 1 of the 2 open
    # The same amend again (a replay upstream) must not reset the open quantity to 2.
    assert venue.amend("b", qty="2", request_id="r1") == []
    assert venue.book() == ([("100.00", "1.0000")], [])
    assert kinds(venue.amend("b", qty="2", request_id="r2")) == ["amended", "rested"]


def test_amend_request_ids_survive_snapshot_and_restore(venue: Venue) -> None:
    venue.buy("b", "100", "3")
    venue.amend("b", price="99", request_id="r1")
    restored = MatchingEngine.restore(venue.engine.snapshot())
    command = {
        "op": "amend",
        "id": "b",
        "account": "alice",
        "symbol": "BTC-USD",
        "price": "99",
        "request_id": "r1",
    }
    assert restored.apply(command) == []
    assert restored.snapshot() == venue.engine.snapshot()


def test_amend_lowering_qty_keeps_time_priority(venue: Venue) -> None:
    venue.sell("first", "100", "3", account="bob")
    venue.sell("second", "100", "1", account="carol")
    events = venue.amend("first", account="bob", qty="2")
    assert kinds(events) == ["amended", "rested"]
    assert events[0]["priority"] == "kept"
    assert (events[0]["old_open_qty"], events[0]["qty"]) == ("3.0000", "2.0000")
    assert trades(venue.buy("b", "100", "1")) == [("first", "b", "100.00", "1.0000")]


def test_amend_raising_qty_loses_time_priority(venue: Venue) -> None:
    venue.sell("first", "100", "1", account="bob")
    venue.sell("second", "100", "1", account="carol")
    assert venue.amend("first", account="bob", qty="2")[0]["priority"] == "lost"
    assert trades(venue.buy("b", "100", "1")) == [("second", "b", "100.00", "1.0000")]


def test_amend_changing_price_moves_the_order_to_the_back_of_the_new_level(venue: Venue) -> None:
    venue.sell("a", "101", "1", account="bob")
    venue.sell("b", "100", "1", account="carol")
    events = venue.amend("a", account="bob", price="100")
    assert events[0]["priority"] == "lost"
    assert (events[0]["old_price"], events[0]["price"]) == ("101.00", "100.00")
    assert venue.book()[1] == [("100.00", "2.0000")]
    assert trades(venue.buy("t", "100", "1")) == [("b", "t", "100.00", "1.0000")]


def test_amend_to_a_crossing_price_trades_as_taker_then_rests(venue: Venue) -> None:
    venue.sell("s", "101", "1", account="bob")
    venue.buy("b", "100", "3")
    events = venue.amend("b", price="101")
    assert kinds(events) == ["amended", "trade", "filled", "rested"]
    assert events[1]["taker_order_id"] == "b" and events[1]["price"] == "101.00"
    assert (events[-1]["open_qty"], events[-1]["filled"]) == ("2.0000", "1.0000")
    assert venue.book() == ([("101.00", "2.0000")], [])


def test_amend_that_crosses_completely_ends_filled(venue: Venue) -> None:
    venue.sell("s", "101", "5", account="bob")
    venue.buy("b", "100", "2")
    events = venue.amend("b", price="101")
    assert kinds(events) == ["amended", "trade", "filled"]
    assert events[-1]["order_id"] == "b"
    assert venue.engine.sequence("BTC-USD") == events[-1]["seq"]


def test_crossing_amend_uses_the_orders_own_stp(venue: Venue) -> None:
    venue.sell("mine", "101", "1")
    venue.buy("b", "100", "1", stp="cancel_taker")
    events = venue.amend("b", price="101")
    assert kinds(events) == ["amended", "expired:self_trade"]
    assert venue.book() == ([], [("101.00", "1.0000")])


def test_amend_qty_is_the_new_open_quantity_of_a_partly_filled_order(venue: Venue) -> None:
    venue.buy("b", "100", "5")
    venue.sell("s", "100", "2", account="bob")
    events = venue.amend("b", qty="1")
    assert (events[0]["old_open_qty"], events[0]["qty"]) == ("3.0000", "1.0000")
    assert (events[1]["open_qty"], events[1]["filled"]) == ("1.0000", "2.0000")


# -- sequence, ids, time, snapshot ----------------------------------------------------------------


def test_every_event_of_a_symbol_takes_the_next_sequence_number(venue: Venue) -> None:
    seqs = []
    for events in (
        venue.buy("b", "100", "1"),
        venue.buy("x", "1", "0.0001"),  # rejected: notional 0.0001 < 1
        venue.send({"op": "snapshot", "symbol": "BTC-USD"}),
        venue.sell("s", "100", "1", account="bob"),
    ):
        seqs += [(e["seq"], e["id"]) for e in events]
    assert seqs == [(n, f"BTC-USD:{n}") for n in range(1, len(seqs) + 1)]


def test_sequences_are_independent_per_symbol(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    events = venue.buy("e", "100", "1", symbol="ETH-USD")
    assert [e["seq"] for e in events] == [1, 2]
    assert venue.engine.sequence("BTC-USD") == 2


def test_ts_is_copied_into_every_event_of_its_command(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob", ts=5)
    events = venue.buy("b", "100", "1", ts=1_700_000_000_000)
    assert {e["ts"] for e in events} == {1_700_000_000_000}
    assert all("ts" not in e for e in venue.buy("c", "99", "1"))


def test_snapshot_emits_the_aggregated_book_best_first(venue: Venue) -> None:
    venue.buy("b1", "99", "1")
    venue.buy("b2", "100", "1")
    venue.buy("b3", "100", "2")
    venue.sell("s1", "102", "1", account="bob")
    venue.sell("s2", "101", "0.5", account="bob")
    events = venue.send({"op": "snapshot", "symbol": "BTC-USD", "ts": 9})
    assert kinds(events) == ["book"]
    assert events[0]["bids"] == [["100.00", "3.0000"], ["99.00", "1.0000"]]
    assert events[0]["asks"] == [["101.00", "0.5000"], ["102.00", "1.0000"]]
    assert events[0]["seq"] == venue.engine.sequence("BTC-USD")


def test_l2_and_book_depth_report_levels_best_first(venue: Venue) -> None:
    for n, price in enumerate(["100", "99", "98"]):
        venue.buy(f"b{n}", price, "1")
    assert venue.engine.l2("BTC-USD", depth=2) == ([("100.00", "1.0000"), ("99.00", "1.0000")], [])
    assert venue.engine.book_depth("BTC-USD") == (3, 0)


def test_order_ids_are_unique_per_symbol_forever(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob")
    venue.buy("o1", "100", "1")  # fills completely
    assert kinds(venue.buy("o1", "100", "1")) == ["rejected:duplicate_order_id"]
    assert kinds(venue.buy("o1", "100", "1", symbol="ETH-USD")) == ["accepted", "rested"]


def test_a_rejected_order_does_not_use_up_its_id(venue: Venue) -> None:
    assert kinds(venue.buy("o1", "100.001", "1")) == ["rejected:price_off_tick"]
    assert kinds(venue.buy("o1", "100", "1")) == ["accepted", "rested"]


def test_a_rejected_command_changes_no_book_state(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    before = venue.engine.snapshot()
    venue.amend("b", price="100.001")
    venue.cancel("b", account="mallory")
    venue.buy("b", "101", "1")
    after = venue.engine.snapshot()
    # Only the sequence counter moved: three rejects.
    assert before.replace(b'"seq":2', b'"seq":5') == after


def test_every_order_reaches_exactly_one_terminal_state() -> None:
    engine = MatchingEngine(engine_markets())
    terminal: Counter[tuple[str, str]] = Counter()
    accepted: set[tuple[str, str]] = set()
    for command in StreamGenerator(7).stream(3000):
        for event in map(encode_event, engine.apply(command)):
            key = (event["symbol"], event.get("order_id", ""))
            if event["type"] == "accepted":
                accepted.add(key)
            elif event["type"] in ("filled", "cancelled", "expired"):
                terminal[key] += 1
    open_orders = {(symbol, oid) for symbol in ("TST", "DEC") for oid in _open_ids(engine, symbol)}
    assert all(count == 1 for count in terminal.values())
    assert set(terminal) | open_orders == accepted
    assert not set(terminal) & open_orders


def _open_ids(engine: MatchingEngine, symbol: str) -> set[str]:
    return set(engine._books[symbol].orders)


# -- markets --------------------------------------------------------------------------------------


def test_market_command_adds_a_market_that_takes_orders(venue: Venue) -> None:
    events = venue.send(
        {
            "op": "market",
            "symbol": "SOL-USD",
            "base": "SOL",
            "quote": "USD",
            "tick_size": "0.001",
            "lot_size": "0.1",
            "min_notional": "5",
        }
    )
    assert events == [
        {
            "type": "market",
            "symbol": "SOL-USD",
            "seq": 1,
            "id": "SOL-USD:1",
            "base": "SOL",
            "quote": "USD",
            "tick_size": "0.001",
            "lot_size": "0.1",
            "min_notional": "5",
            "status": "trading",
        }
    ]
    rested = venue.buy("s1", "20.5", "1", symbol="SOL-USD")[-1]
    assert (rested["price"], rested["open_qty"]) == ("20.500", "1.0")


def test_market_update_can_change_min_notional_and_status_with_open_orders(venue: Venue) -> None:
    venue.buy("b", "100", "1")
    events = venue.send(
        {"op": "market", "symbol": "BTC-USD", "min_notional": "10", "status": "halted"}
    )
    assert events[0]["min_notional"] == "10" and events[0]["status"] == "halted"
    assert events[0]["tick_size"] == "0.01"


def test_market_tick_can_change_when_the_book_is_empty(venue: Venue) -> None:
    events = venue.send({"op": "market", "symbol": "BTC-USD", "tick_size": "0.5"})
    assert events[0]["tick_size"] == "0.5"
    assert kinds(venue.buy("b", "100.25", "1")) == ["rejected:price_off_tick"]
    assert venue.buy("b", "100.5", "1")[-1]["price"] == "100.5"


def test_decimal_strings_come_out_at_the_markets_precision() -> None:
    venue = Venue((Market("X-Y", "X", "Y", tick_size="5", lot_size="0.010", min_notional="0"),))
    rested = venue.buy("b", "1005.000", "0.02", symbol="X-Y")[-1]
    assert (rested["price"], rested["open_qty"]) == ("1005", "0.02")


def test_encoded_events_have_a_stable_key_order(venue: Venue) -> None:
    venue.sell("s", "100", "1", account="bob", ts=1)
    events = venue.buy("b", "100", "2", ts=2)
    assert list(events[0]) == [
        "type", "symbol", "seq", "id", "ts", "order_id", "account", "side", "order_type", "tif",
        "price", "qty", "post_only", "stp",
    ]  # fmt: skip
    assert list(events[1]) == [
        "type", "symbol", "seq", "id", "ts", "maker_order_id", "taker_order_id", "maker_account",
        "taker_account", "price", "qty", "taker_side", "maker_filled", "taker_filled",
        "maker_remaining",
    ]  # fmt: skip
    assert list(events[-1]) == [
        "type", "symbol", "seq", "id", "ts", "order_id", "account", "side", "price", "open_qty",
        "filled",
    ]  # fmt: skip

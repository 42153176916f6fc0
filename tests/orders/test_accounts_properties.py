"""Hypothesis: whatever commands arrive, the accounts engine conserves every asset."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.orders.accounts import parse_units
from tests.orders.venue import MARKETS, MemoryVenue

ACCOUNTS = ("a", "b", "c")
ASSETS = ("USD", "BTC", "ETH")

prices = st.integers(9980, 10020).map(lambda cents: f"{cents // 100}.{cents % 100:02d}")
btc_qty = st.integers(1, 300).map(lambda n: f"{n / 100:.4f}")
amounts = st.integers(1, 5_000).map(str)

deposit = st.tuples(st.just("deposit"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amounts)
withdraw = st.tuples(
    st.just("withdraw"), st.sampled_from(ACCOUNTS), st.sampled_from(ASSETS), amounts
)
limit = st.tuples(
    st.just("limit"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(tuple(MARKETS)),
    st.sampled_from(("buy", "sell")),
    prices,
    btc_qty,
    st.sampled_from(("GTC", "GTC", "IOC", "FOK")),
    st.sampled_from(("none", "cancel_taker", "cancel_maker", "cancel_both")),
)
market = st.tuples(
    st.just("market"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(tuple(MARKETS)),
    st.sampled_from(("buy", "sell")),
    st.one_of(st.none(), prices),
    st.one_of(btc_qty.map(lambda q: ("qty", q)), amounts.map(lambda a: ("quote_qty", a))),
)
cancel = st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(0, 40))
amend = st.tuples(
    st.just("amend"),
    st.sampled_from(ACCOUNTS),
    st.integers(0, 40),
    st.one_of(st.none(), prices),
    st.one_of(st.none(), btc_qty),
)
commands = st.lists(
    st.one_of(deposit, withdraw, limit, limit, limit, limit, market, cancel, amend),
    min_size=20,
    max_size=80,
)
FUNDING: list[tuple[Any, ...]] = [
    ("deposit", account, asset, "2000") for account in ACCOUNTS for asset in ASSETS
]
FUNDING += [
    ("limit", "c", symbol, side, price, "1.0000", "GTC", "none")
    for symbol in MARKETS
    for side, price in (("buy", "99.90"), ("buy", "99.95"), ("sell", "100.05"), ("sell", "100.10"))
]


def check_invariants(venue: MemoryVenue, expected: dict[str, int]) -> None:
    engine = venue.accounts
    totals = engine.totals()
    for asset in ASSETS:
        assert totals.get(asset, 0) == expected.get(asset, 0), asset
    held: dict[tuple[str, str], int] = {}
    for order in engine.orders.values():
        key = (order.account, order.hold_asset)
        held[key] = held.get(key, 0) + order.held
        assert order.held >= 0
    for account, assets in engine.balances.items():
        for asset, (available, on_hold, _seq) in assets.items():
            assert available >= 0, (account, asset)
            assert on_hold == held.get((account, asset), 0), (account, asset)


def run(venue: MemoryVenue, ops: list[tuple[Any, ...]]) -> dict[str, int]:
    expected: dict[str, int] = {}
    order_ids: list[tuple[str, str]] = []
    for op in ops:
        kind = op[0]
        before = len(venue.published)
        if kind in ("deposit", "withdraw"):
            getattr(venue, kind)(op[1], op[2], op[3])
            for message in venue.published[before:]:
                if message["kind"] == "transfer" and message["status"] == "applied":
                    sign = 1 if kind == "deposit" else -1
                    expected[op[2]] = expected.get(op[2], 0) + sign * parse_units(op[3])
        elif kind == "limit":
            _, account, symbol, side, price, qty, tif, stp = op
            if symbol == "ETH-USD":
                qty = f"{float(qty):.3f}"
            order_ids.append(
                (
                    account,
                    venue.order(account, symbol, side, price=price, qty=qty, tif=tif, stp=stp),
                )
            )
        elif kind == "market":
            _, account, symbol, side, price, (field, value) = op
            if symbol == "ETH-USD" and field == "qty":
                value = f"{float(value):.3f}"
            order_ids.append(
                (
                    account,
                    venue.order(account, symbol, side, "market", price=price, **{field: value}),
                )
            )
        elif kind == "cancel" and order_ids:
            owner, order_id = order_ids[op[2] % len(order_ids)]
            venue.cancel(op[1] if op[2] % 3 == 0 else owner, order_id)
        elif kind == "amend" and order_ids:
            owner, order_id = order_ids[op[2] % len(order_ids)]
            fields = {k: v for k, v in (("price", op[3]), ("qty", op[4])) if v is not None}
            venue.amend(owner, order_id, **fields)
        check_invariants(venue, expected)
    return expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=commands, duplicate=st.booleans())
def test_any_command_sequence_conserves_every_asset(
    ops: list[tuple[Any, ...]], duplicate: bool
) -> None:
    venue = MemoryVenue(duplicate_relay=duplicate)
    expected = run(venue, FUNDING + ops)
    for order in list(venue.accounts.orders.values()):
        venue.cancel(order.account, order.id)
    check_invariants(venue, expected)
    assert not venue.accounts.orders
    for assets in venue.accounts.balances.values():
        for _available, held, _seq in assets.values():
            assert held == 0

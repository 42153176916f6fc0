"""The orders service end to end: real processes, real moto server, real matching engine."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import AsyncIterator

import httpx
import pytest

from services.orders.audit import audit_until_ok
from tests.orders.client import Trader, new_market
from tests.orders.conftest import Issuer, Venue

pytestmark = pytest.mark.aws


@pytest.fixture
async def http(venue: Venue) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=venue.url, timeout=20) as client:
        yield client


@pytest.fixture
async def admin(http: httpx.AsyncClient, issuer: Issuer) -> Trader:
    return Trader(http, issuer, admin=True, name="admin")


def asset_name() -> str:
    return "X" + "".join(random.choices(string.ascii_uppercase, k=5))


async def test_two_users_cross_and_end_with_exact_balances(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, base := asset_name())
    alice, bob = Trader(http, issuer, name="alice"), Trader(http, issuer, name="bob")
    await alice.deposit("USD", "10000")  # the demo faucet
    await admin.deposit(base, "2", account=bob.account)

    resting = await bob.order(symbol=symbol, side="sell", type="limit", price="100.00", qty="1.500")
    assert resting["order"]["status"] == "open"
    taken = await alice.order(symbol=symbol, side="buy", type="limit", price="101.00", qty="1.000")
    assert taken["order"]["status"] == "filled"
    assert taken["order"]["avg_price"] == "100.00000000"

    # alice, taker at 20 bps: 100 + 0.20 fee; bob, maker at 10 bps: 100 - 0.10 fee
    await alice.wait_balance("USD", ("9899.80000000", "0.00000000"))
    await alice.wait_balance(base, ("1.00000000", "0.00000000"))
    await bob.wait_balance(base, ("0.50000000", "0.50000000"))  # 2 - 1.5 free, 0.5 still for sale
    await bob.wait_balance("USD", ("99.90000000", "0.00000000"))
    [alice_fill] = await alice.fills(symbol=symbol)
    assert (
        alice_fill["liquidity"],
        alice_fill["fee"],
        alice_fill["fee_asset"],
        alice_fill["qty"],
    ) == ("taker", "0.20000000", "USD", "1.000")
    [bob_fill] = await bob.fills()
    assert (bob_fill["liquidity"], bob_fill["fee"], bob_fill["side"]) == (
        "maker",
        "0.10000000",
        "sell",
    )
    assert bob_fill["id"] == alice_fill["id"]

    view = await bob.get_order(resting["order"]["id"])
    assert view["order"]["status"] == "partially_filled"
    assert view["order"]["filled"] == "1.000"
    assert (
        view["freshness"]["as_of"]
        and view["freshness"]["projected_at"] >= view["freshness"]["as_of"]
    )


async def test_partial_fill_then_cancel_releases_exactly_the_unfilled_hold(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, base := asset_name())
    alice, bob = Trader(http, issuer, name="alice"), Trader(http, issuer, name="bob")
    await alice.deposit("USD", "1000")
    await admin.deposit(base, "5", account=bob.account)
    buy = (await alice.order(symbol=symbol, side="buy", price="100.00", qty="3.000"))["order"]
    await alice.wait_balance("USD", ("699.40000000", "300.60000000"))  # 300 + worst fee 0.60 held
    await bob.order(symbol=symbol, side="sell", type="market", qty="1.000")
    # alice filled 1 as maker: 100 + 0.10 spent; 2 x 100 + 0.40 still held; the 0.10 of
    # worst-case fee the maker rate did not need is released
    await alice.wait_balance("USD", ("699.50000000", "200.40000000"))
    response = await alice.call("DELETE", f"/api/orders/{buy['id']}")
    assert response.status_code == 202, response.text
    cancelled = await alice.wait_status(buy["id"], {"cancelled"})
    assert cancelled["filled"] == "1.000"
    await alice.wait_balance("USD", ("899.90000000", "0.00000000"))
    again = await alice.call("DELETE", f"/api/orders/{buy['id']}")
    assert again.status_code == 409 and again.json()["error"]["code"] == "order_not_open"


async def test_ioc_and_market_leftovers_release_holds(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, base := asset_name())
    alice, bob = Trader(http, issuer, name="alice"), Trader(http, issuer, name="bob")
    await alice.deposit("USD", "1000")
    await admin.deposit(base, "5", account=bob.account)
    await bob.order(symbol=symbol, side="sell", price="100.00", qty="1.000")
    ioc = await alice.order(symbol=symbol, side="buy", price="100.00", qty="2.000", tif="IOC")
    assert (ioc["order"]["status"], ioc["order"]["filled"], ioc["order"]["reason"]) == (
        "expired",
        "1.000",
        "ioc",
    )
    await alice.wait_balance("USD", ("899.80000000", "0.00000000"))
    market_buy = await alice.order(symbol=symbol, side="buy", type="market", quote_qty="50")
    assert market_buy["order"]["status"] == "expired"  # empty book: nothing to buy
    await alice.wait_balance("USD", ("899.80000000", "0.00000000"))
    market_sell = await bob.order(
        symbol=symbol, side="sell", type="market", qty="2.000", price="90.00"
    )
    assert market_sell["order"]["status"] == "expired"
    await bob.wait_balance(base, ("4.00000000", "0.00000000"))


async def test_insufficient_funds_is_rejected_and_changes_nothing(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, asset_name())
    carol = Trader(http, issuer, name="carol")
    await carol.deposit("USD", "100")
    rejected = await carol.order(symbol=symbol, side="buy", price="100.00", qty="1.000")
    assert (rejected["order"]["status"], rejected["order"]["reason"]) == (
        "rejected",
        "insufficient_funds",
    )
    await carol.wait_balance("USD", ("100.00000000", "0.00000000"))
    listed = (await carol.call("GET", "/api/orders", params={"status": "all"})).json()["orders"]
    assert [o["status"] for o in listed] == ["rejected"]


async def test_duplicate_client_order_id_returns_the_original(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, asset_name())
    dave = Trader(http, issuer, name="dave")
    await dave.deposit("USD", "1000")
    body = {
        "symbol": symbol,
        "side": "buy",
        "price": "10.00",
        "qty": "1.000",
        "client_order_id": "my-order-1",
    }
    first = await dave.order(wait=False, **body)
    second = await dave.order(expect=200, wait=False, **body)
    assert second["order"]["id"] == first["order"]["id"]
    await dave.wait_status(first["order"]["id"], {"open"})
    third = await dave.order(expect=200, **{**body, "price": "11.00"})
    assert third["order"]["id"] == first["order"]["id"] and third["order"]["price"] == "10.00"
    listed = (await dave.call("GET", "/api/orders")).json()["orders"]
    assert [o["id"] for o in listed] == [first["order"]["id"]]
    await dave.wait_balance("USD", ("989.98000000", "10.02000000"))


async def test_concurrent_orders_from_one_account_never_overspend(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, asset_name())
    erin = Trader(http, issuer, name="erin")
    await erin.deposit("USD", "1000")
    # each order holds 100 + 0.20 worst-case fee: exactly 9 fit in 1,000
    results = await asyncio.gather(
        *(erin.order(symbol=symbol, side="buy", price="100.00", qty="1.000") for _ in range(20))
    )
    statuses = sorted(r["order"]["status"] for r in results)
    assert statuses.count("open") == 9 and statuses.count("rejected") == 11, statuses
    await erin.wait_balance("USD", ("98.20000000", "901.80000000"))


async def test_validation_errors_are_precise(
    http: httpx.AsyncClient, issuer: Issuer, admin: Trader
) -> None:
    symbol = await new_market(admin, asset_name())
    frank = Trader(http, issuer, name="frank")
    cases = [
        ({"price": 100.5, "qty": "1"}, 422, "validation_failed"),
        ({"price": "1e2", "qty": "1"}, 422, "validation_failed"),
        ({"price": "100.001", "qty": "1"}, 422, "price_off_tick"),
        ({"price": "100", "qty": "1.0001"}, 422, "qty_off_lot"),
        ({"price": "0.10", "qty": "1"}, 422, "notional_below_minimum"),
        ({"symbol": "NOPE-USD", "price": "100", "qty": "1"}, 422, "unknown_symbol"),
    ]
    for extra, status, code in cases:
        body = {"symbol": symbol, "side": "buy", **extra}
        response = await frank.call("POST", "/api/orders", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), (
            extra,
            response.text,
        )
    assert (
        "decimal string"
        in (
            await frank.call(
                "POST",
                "/api/orders",
                json={"symbol": symbol, "side": "buy", "price": 1.5, "qty": "1"},
            )
        ).text
    )

    halted = await admin.call("POST", f"/api/admin/markets/{symbol}/halt")
    assert halted.status_code == 200 and halted.json()["market"]["status"] == "halted"
    await asyncio.sleep(2.1)  # the API's market cache
    response = await frank.call(
        "POST", "/api/orders", json={"symbol": symbol, "side": "buy", "price": "100", "qty": "1"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, "market_halted")
    assert (await admin.call("POST", f"/api/admin/markets/{symbol}/resume")).status_code == 200
    assert (await frank.call("POST", "/api/admin/markets/NOPE-USD/halt")).status_code == 403

    missing = await frank.call("DELETE", "/api/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "order_not_found")
    await frank.deposit("USD", "1000")
    mine = (await frank.order(symbol=symbol, side="buy", price="10.00", qty="1.000"))["order"]
    other = Trader(http, issuer, name="grace")
    response = await other.call("DELETE", f"/api/orders/{mine['id']}")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "not_order_owner")
    faucet = await frank.call(
        "POST", "/api/balances/deposit", json={"asset": "USD", "amount": "100000000"}
    )
    assert (faucet.status_code, faucet.json()["error"]["code"]) == (422, "faucet_cap_exceeded")
    withdraw = await frank.call(
        "POST", "/api/balances/withdraw", json={"asset": "USD", "amount": "1"}
    )
    assert (withdraw.status_code, withdraw.json()["error"]["code"]) == (403, "admin_required")
    too_much = await admin.call(
        "POST",
        "/api/balances/withdraw",
        json={"asset": "USD", "amount": "995", "account": frank.account},
    )
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (409, "insufficient_funds")
    ok = await admin.call(
        "POST",
        "/api/balances/withdraw",
        params={"wait": "true"},
        json={"asset": "USD", "amount": "989.98", "account": frank.account},
    )
    assert ok.json()["transfer"]["status"] == "applied"
    await frank.wait_balance("USD", ("0.00000000", "10.02000000"))


async def test_amend_and_pagination(http: httpx.AsyncClient, issuer: Issuer, admin: Trader) -> None:
    symbol = await new_market(admin, asset_name())
    heidi = Trader(http, issuer, name="heidi")
    await heidi.deposit("USD", "1000")
    ids = [
        (await heidi.order(symbol=symbol, side="buy", price=f"{10 + i}.00", qty="1.000"))["order"][
            "id"
        ]
        for i in range(3)
    ]
    response = await heidi.call(
        "PATCH", f"/api/orders/{ids[0]}", json={"price": "20.00", "qty": "2.000"}
    )
    assert response.status_code == 202, response.text
    deadline = asyncio.get_running_loop().time() + 10
    while (order := (await heidi.get_order(ids[0]))["order"])["price"] != "20.00":
        assert asyncio.get_running_loop().time() < deadline, order
        await asyncio.sleep(0.05)
    assert order["open"] == "2.000"
    # holds: 2 x 20 + 11 + 12 = 63 plus 20 bps
    await heidi.wait_balance("USD", ("936.87400000", "63.12600000"))
    page = (await heidi.call("GET", "/api/orders", params={"limit": 2})).json()
    assert [o["id"] for o in page["orders"]] == [ids[2], ids[1]] and page["cursor"]
    rest = (
        await heidi.call("GET", "/api/orders", params={"limit": 2, "cursor": page["cursor"]})
    ).json()
    assert [o["id"] for o in rest["orders"]] == [ids[0]] and rest["cursor"] is None


async def test_demo_liquidity_quotes_both_sides_once(venue: Venue, admin: Trader) -> None:
    from services.orders.demo import seed_liquidity

    assert await asyncio.to_thread(seed_liquidity, venue.prefix) == 30
    assert await asyncio.to_thread(seed_liquidity, venue.prefix) == 30  # the same ids: applied once
    for order_id in ("demo-mm-BTC-USD-buy-1", "demo-mm-ETH-USD-sell-5", "demo-mm-SOL-USD-buy-3"):
        order = await admin.wait_status(order_id, {"open"})
        assert order["account"] == "market-maker"
    listed = (await admin.call("GET", "/api/orders", params={"limit": 500})).json()["orders"]
    assert listed == []  # the admin's own orders: none; the market maker's are not theirs


async def test_audit_passes_over_everything_above(venue: Venue) -> None:
    report = await asyncio.to_thread(audit_until_ok, venue.prefix, 10.0)
    assert report.ok, [c.problems for c in report.checks]
    assert all(c.checked for c in report.checks)

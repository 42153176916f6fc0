"""The trading screen end to end: two people sign up in two browsers, fund themselves from the
faucet and trade with each other; both screens follow the book, the tape, the chart, the ticker,
their fills and balances live. Plus book resync after a dropped WebSocket or a lost diff, token
refresh, client-side order checks and the narrow layout."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tests.web.conftest import ARTIFACTS, PASSWORD, Screen, Venue, shown

expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing (pip install -e '.[dev]')"
).expect

if TYPE_CHECKING:
    from playwright.sync_api import Page, WebSocketRoute

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SYMBOL = "BTC-USD"


def sign_up(page: Page) -> str:
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    form = page.locator("#auth-form")
    form.locator("button[data-mode=signup]").click()
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("#order-form")).to_be_visible()
    expect(page.locator("#user-email")).to_have_text(email)
    return email


def get_demo_funds(page: Page) -> None:
    page.locator(".faucet-button").click()
    expect(page.locator(".faucet-message")).to_contain_text("Deposited 100,000 USD and 2 BTC")
    expect(page.locator("#balances tr[data-asset=USD] .available")).to_have_text("100,000.00")
    expect(page.locator("#balances tr[data-asset=BTC] .available")).to_have_text("2.00")


def fill_ticket(
    page: Page,
    *,
    side: str,
    kind: str,
    qty: str,
    price: str | None = None,
    tif: str = "GTC",
    post_only: bool = False,
) -> None:
    form = page.locator("#order-form")
    form.locator(f".side-tabs button[data-side={side}]").click()
    form.locator(f".type-tabs button[data-type={kind}]").click()
    if price is not None:
        form.locator("[name=price]").fill(price)
    if kind == "limit":
        form.locator("[name=tif]").select_option(tif)
        form.locator("[name=post_only]").set_checked(post_only)
    form.locator("[name=qty]").fill(qty)
    form.locator("button[type=submit]").click()


def level(page: Page, side: str, price: str) -> Any:
    return page.locator(f"#ladder .level.{side}[data-price='{price}']")


def grouped(price: str) -> str:
    whole, _, fraction = price.partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def inside_spread(venue: Venue) -> str:
    """A price strictly between the best bid and ask, on the tick."""
    tick = Decimal(venue.market(SYMBOL)["tick_size"])
    book = venue.book(SYMBOL)
    bid, ask = Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])
    price = ((bid + ask) / 2 / tick).to_integral_value(ROUND_DOWN) * tick
    assert bid < price < ask, (bid, ask)
    return str(price)


def assert_clean(*screens: Screen, allow: tuple[str, ...] = ()) -> None:
    for screen in screens:
        errors = [e for e in screen.errors if not any(a in e for a in allow)]
        assert not errors, errors


def test_two_traders_trade(open_screen: Any, venue: Venue) -> None:
    started = time.monotonic()
    market = venue.market(SYMBOL)
    alice, bob = open_screen(), open_screen()
    for screen in (alice, bob):
        sign_up(screen.page)
        get_demo_funds(screen.page)

    # Alice rests a bid inside the spread; both ladders show it, hers marked as her own.
    price, qty = inside_spread(venue), "0.0100"
    fill_ticket(alice.page, side="buy", kind="limit", price=price, qty=qty)
    expect(alice.page.locator("#order-form .form-message")).to_contain_text("open")
    row = alice.page.locator(f"#open-orders tbody tr:has-text('{grouped(price)}')")
    expect(row).to_contain_text("buy")
    for screen in (alice, bob):
        expect(level(screen.page, "bids", price).locator(".size")).to_have_text(qty)
    expect(level(alice.page, "bids", price)).to_have_class("level bids own")
    # The hold covers the order and the highest fee it could pay.
    max_bps = max(market["maker_fee_bps"], market["taker_fee_bps"])
    held = Decimal(price) * Decimal(qty) * (1 + Decimal(max_bps) / 10_000)
    expect(alice.page.locator("#balances tr[data-asset=USD] .held")).to_have_text(shown(held))

    # Bob sells into it at market.
    fill_ticket(bob.page, side="sell", kind="market", qty=qty)
    expect(bob.page.locator("#order-form .form-message")).to_contain_text("filled")

    notional = Decimal(price) * Decimal(qty)
    maker_fee = notional * market["maker_fee_bps"] / 10_000
    taker_fee = notional * market["taker_fee_bps"] / 10_000
    alice_gets = {"USD": Decimal(100_000) - notional - maker_fee, "BTC": Decimal(2) + Decimal(qty)}
    bob_gets = {"USD": Decimal(100_000) + notional - taker_fee, "BTC": Decimal(2) - Decimal(qty)}
    for screen, role, expected in ((alice, "maker", alice_gets), (bob, "taker", bob_gets)):
        page = screen.page
        # Public data: the tape, the ticker, the chart and the book, pushed over the WebSocket.
        expect(page.locator(".tape-row").first.locator(".price")).to_have_text(grouped(price))
        expect(page.locator(".tape-row").first).to_contain_text(qty)
        expect(page.locator(".ticker-last")).to_have_text(grouped(price))
        page.wait_for_function(
            "p => [...window.__tradestack.chart.candles.values()].some(c => c.close === p)",
            arg=price,
        )
        expect(level(page, "bids", price)).to_have_count(0)
        # Private data: the fill and the new balances.
        page.locator(".account-tabs button[data-tab=fills]").click()
        fill = page.locator("#fills tbody tr").first
        expect(fill).to_contain_text(grouped(price))
        expect(fill).to_contain_text(qty)
        expect(fill).to_contain_text(role)
        for asset, amount in expected.items():
            expect(page.locator(f"#balances tr[data-asset={asset}] .available")).to_have_text(
                shown(amount)
            )
        expect(page.locator("#balances tr[data-asset=USD] .held")).to_have_text("0.00")
        # ... pushed on the `balances` channel, not only read back over REST.
        assert page.evaluate("() => window.__tradestack.balances.lastLedgerAt") > 0
    alice.page.locator(".account-tabs button[data-tab=open]").click()
    expect(alice.page.locator("#open-orders tbody")).to_contain_text("No open orders")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    alice.page.locator(".account-tabs button[data-tab=fills]").click()
    alice.page.mouse.move(10, 10)  # no hover effects in the picture
    alice.page.screenshot(path=str(ARTIFACTS / "trading-screen.png"))
    bob.page.screenshot(path=str(ARTIFACTS / "trading-screen-taker.png"))
    assert_clean(alice, bob)
    print(f"\ntwo-trader scenario: {time.monotonic() - started:.1f}s")


def test_order_types_and_cancel(open_screen: Any, venue: Venue) -> None:
    screen = open_screen()
    sign_up(screen.page)
    get_demo_funds(screen.page)
    page = screen.page
    form = page.locator("#order-form")
    price = inside_spread(venue)
    ask = venue.book(SYMBOL)["asks"][0][0]

    # Clicking a ladder price puts it in the ticket.
    level(page, "asks", ask).click()
    expect(form.locator("[name=price]")).to_have_value(ask)

    # Post-only that would take is refused by the engine; the ticket says so.
    fill_ticket(page, side="buy", kind="limit", price=ask, qty="0.0010", post_only=True)
    expect(form.locator(".form-message.error")).to_contain_text("Rejected")
    # IOC below the ask finds nothing to match and expires.
    fill_ticket(page, side="buy", kind="limit", price=price, qty="0.0010", tif="IOC")
    expect(form.locator(".form-message.warn")).to_contain_text("Expired without a trade")

    # A resting GTC sell, then cancel it from the open orders.
    fill_ticket(page, side="sell", kind="limit", price=price, qty="0.0200")
    expect(level(page, "asks", price).locator(".size")).to_have_text("0.0200")
    expect(page.locator("#balances tr[data-asset=BTC] .held")).to_have_text("0.02")
    row = page.locator(f"#open-orders tbody tr:has-text('{grouped(price)}')")
    expect(row).to_contain_text("limit")
    row.locator("button", has_text="Cancel").click()
    expect(row).to_have_count(0)
    expect(level(page, "asks", price)).to_have_count(0)
    expect(page.locator("#balances tr[data-asset=BTC] .held")).to_have_text("0.00")
    expect(page.locator("#balances tr[data-asset=BTC] .available")).to_have_text("2.00")
    assert_clean(screen)


def test_switching_markets(open_screen: Any, venue: Venue) -> None:
    screen = open_screen()
    page = screen.page
    page.locator(".market-tab[data-symbol=ETH-USD]").click()
    expect(page.locator("#ladder .ladder-head")).to_contain_text("Size (ETH)")
    bid = venue.book("ETH-USD")["bids"][0]
    expect(level(page, "bids", bid[0]).locator(".size")).to_have_text(bid[1])
    expect(page.locator(".ticker-symbol")).to_have_text("ETH/USD")
    assert page.evaluate("() => location.hash") == "#ETH-USD"
    page.reload()  # the market is kept in the address
    expect(page.locator(".market-tab.active")).to_have_attribute("data-symbol", "ETH-USD")
    assert_clean(screen)


class Tap:
    """Sits on the page's WebSocket (Playwright routing): can refuse new connections and drop
    the next book diff, as a bad network would."""

    def __init__(self) -> None:
        self.refuse = False
        self.drop_diffs = 0
        self.dropped: list[dict[str, Any]] = []
        self.connections = 0

    def handle(self, ws: WebSocketRoute) -> None:
        if self.refuse:
            ws.close(code=1011, reason="network down")
            return
        self.connections += 1
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if (
                self.drop_diffs
                and isinstance(message, str)
                and '"type":"diff"' in message
                and '"book:' in message
            ):
                self.drop_diffs -= 1
                self.dropped.append(json.loads(message))
                return
            ws.send(message)

        server.on_message(to_page)


def test_book_resyncs_after_the_connection_drops(open_screen: Any, venue: Venue) -> None:
    tap = Tap()
    screen = open_screen(route=tap.handle)
    page = screen.page
    trader = venue.user()

    # The connection drops and stays down while the book changes.
    tap.refuse = True
    page.evaluate("() => window.__tradestack.ws.close()")
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    price = inside_spread(venue)
    venue.place(trader, symbol=SYMBOL, side="buy", type="limit", price=price, qty="0.0300")
    deadline = time.monotonic() + 10
    while not any(p == price for p, _ in venue.book(SYMBOL)["bids"]):
        assert time.monotonic() < deadline, "the order never reached the book"
        time.sleep(0.1)
    expect(level(page, "bids", price)).to_have_count(0)

    # Back online: the reconnect resubscribes, a fresh snapshot brings the book up to date.
    tap.refuse = False
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(level(page, "bids", price).locator(".size")).to_have_text("0.0300")
    rest_seq = venue.book(SYMBOL)["seq"]
    page.wait_for_function("s => window.__tradestack.book.seq >= s", arg=rest_seq)
    assert page.evaluate("() => window.__tradestack.socket.connects") == 2

    # A diff lost on a live connection: the next one reveals the gap and the book is refetched.
    tap.drop_diffs = 1
    second = str(Decimal(price) - Decimal(venue.market(SYMBOL)["tick_size"]))
    venue.place(trader, symbol=SYMBOL, side="buy", type="limit", price=second, qty="0.0400")
    deadline = time.monotonic() + 10
    while not tap.dropped:
        assert time.monotonic() < deadline, "no book diff came"
        page.wait_for_timeout(50)  # (lets Playwright run the route's handlers)
    third = str(Decimal(second) - Decimal(venue.market(SYMBOL)["tick_size"]))
    venue.place(trader, symbol=SYMBOL, side="buy", type="limit", price=third, qty="0.0500")
    expect(level(page, "bids", third).locator(".size")).to_have_text("0.0500")
    expect(level(page, "bids", second).locator(".size")).to_have_text("0.0400")
    assert page.evaluate("() => window.__tradestack.book.gaps") == 1
    assert page.evaluate("() => window.__tradestack.book.resyncs") == 1
    assert_clean(screen)


def test_access_token_is_refreshed_before_it_expires(open_screen: Any, venue: Venue) -> None:
    screen = open_screen()
    page = screen.page
    sign_up(page)
    before = page.evaluate("() => window.__tradestack.session.accessToken")
    # Pretend the token expires in 5 s: the session refreshes it (a minute early, at least 1 s on).
    page.evaluate(
        "() => { const s = window.__tradestack.session; s.tokens.expires_at = Date.now() + 5000; s.schedule(); }"
    )
    page.wait_for_function(
        "t => window.__tradestack.session.accessToken !== t", arg=before, timeout=10_000
    )
    stored = page.evaluate("() => JSON.parse(sessionStorage.getItem('tradestack.session'))")
    assert stored["access_token"] != before
    assert stored["expires_at"] > time.time() * 1000 + 60_000
    # The new token works for REST and the private channels: funds arrive and show.
    get_demo_funds(page)
    assert page.evaluate("() => window.__tradestack.socket.account") is not None
    page.reload()  # sessionStorage keeps the session across a reload
    expect(page.locator("#user-email")).not_to_be_empty()
    expect(page.locator("#balances tr[data-asset=USD] .available")).to_have_text("100,000.00")
    assert_clean(screen)


def test_ticket_checks_tick_lot_and_shows_api_errors(open_screen: Any, venue: Venue) -> None:
    screen = open_screen()
    page = screen.page
    sign_up(page)
    requests: list[str] = []
    page.on(
        "request",
        lambda r: requests.append(r.url) if "/api/orders" in r.url and r.method == "POST" else None,
    )
    form = page.locator("#order-form")

    fill_ticket(page, side="buy", kind="limit", price="60000.005", qty="0.01")
    expect(form.locator(".field-error[data-for=price]")).to_have_text(
        "Must be a multiple of the tick 0.01."
    )
    fill_ticket(page, side="buy", kind="limit", price="60000.01", qty="0.00005")
    expect(form.locator(".field-error[data-for=qty]")).to_have_text(
        "Must be a multiple of the lot 0.0001."
    )
    fill_ticket(page, side="buy", kind="limit", price="1.00", qty="0.0001")
    expect(form.locator(".field-error[data-for=qty]")).to_contain_text("below the minimum 1 USD")
    fill_ticket(page, side="buy", kind="limit", price="6e4", qty="0.01")
    expect(form.locator(".field-error[data-for=price]")).to_contain_text("Use digits")
    assert requests == [], "an invalid order must not be sent"

    # No funds yet: the engines reject the order, and the ticket says why.
    fill_ticket(page, side="buy", kind="limit", price=inside_spread(venue), qty="0.0100")
    expect(form.locator(".form-message.error")).to_contain_text("insufficient_funds")
    assert len(requests) == 1

    # An HTTP error from the API ({"error": {"code", "message"}}) shows next to its form.
    page.locator("#balances [name=asset]").select_option("USD")
    page.locator("#balances [name=amount]").fill("5000000")
    page.locator("#balances .faucet-form button").click()
    expect(page.locator(".faucet-message.error")).to_contain_text("faucet_cap_exceeded")
    assert_clean(screen, allow=("status of 422",))


def test_narrow_window_is_one_column(open_screen: Any, venue: Venue) -> None:
    screen = open_screen(viewport={"width": 390, "height": 844})
    page = screen.page
    boxes = {
        name: page.locator(selector).bounding_box()
        for name, selector in (
            ("chart", ".chart-panel"),
            ("trade", ".trade-panel"),
            ("book", ".book-panel"),
            ("tape", ".tape-panel"),
            ("account", ".account-panel"),
        )
    }
    for name, box in boxes.items():
        assert box is not None, name
        assert box["x"] == 0 and box["width"] == pytest.approx(390, abs=1), (name, box)
    order = sorted(boxes, key=lambda n: boxes[n]["y"])
    assert order == ["chart", "trade", "book", "tape", "account"]
    for upper, lower in itertools.pairwise(order):
        bottom = boxes[upper]["y"] + boxes[upper]["height"]
        assert boxes[lower]["y"] >= bottom - 1, f"{lower} overlaps {upper}"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    expect(page.locator("#ladder .level.bids").first).not_to_have_class("level bids empty")
    page.screenshot(path=str(ARTIFACTS / "trading-screen-narrow.png"), full_page=True)
    assert_clean(screen)


def test_decimal_checks_are_exact(open_screen: Any, venue: Venue) -> None:
    """The ticket's arithmetic (web/js/decimal.js) on values where floats go wrong."""
    page = open_screen().page
    results = page.evaluate(
        """async () => {
          const d = await import("/js/decimal.js");
          return {
            tenth: d.isMultiple("0.3", "0.1"),            // 0.3 % 0.1 !== 0 with floats
            offTick: d.isMultiple("60000.005", "0.01"),
            bigLot: d.isMultiple("123456789012.3456", "0.0001"),
            tenths: d.add("0.1", "0.2"),                   // 0.30000000000000004 with floats
            product: d.mul("0.1", "0.2"),
            notional: d.compare(d.mul("1.01", "0.99"), "1"),
            difference: d.sub("60025.00", "59975.50"),
            sum: d.add("0.0500", "0.05"),
            plain: ["1e3", "-1", "1.", " 1", "1,5", "0.5"].map(d.isPlain),
            tidy: d.normalizeInput(" .5 "),
          };
        }"""
    )
    assert results == {
        "tenth": True,
        "offTick": False,
        "bigLot": True,
        "tenths": "0.3",
        "product": "0.02",
        "notional": -1,
        "difference": "49.50",
        "sum": "0.1000",
        "plain": [False, False, False, False, False, True],
        "tidy": "0.5",
    }

"""Random command streams for the matching tests: hypothesis strategies and seeded generators.

Prices sit on a narrow band so orders cross often; ids come from a small pool so cancels and
amends usually find their order (and new orders sometimes reuse an id); a few commands are
deliberately invalid so validation is compared too.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from services.matching.engine import Market

TEST_MARKETS: list[dict[str, Any]] = [
    # Whole lots, half-unit ticks, a minimum notional that some orders miss.
    {
        "symbol": "TST",
        "base": "T",
        "quote": "U",
        "tick_size": "0.5",
        "lot_size": "1",
        "min_notional": "10",
    },
    # Decimal lots like a crypto pair, no minimum notional.
    {
        "symbol": "DEC",
        "base": "D",
        "quote": "U",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_notional": "0",
    },
]


def engine_markets() -> list[Market]:
    """``TEST_MARKETS`` as engine ``Market`` objects."""
    return [Market(**spec) for spec in TEST_MARKETS]


ACCOUNTS = ["a1", "a2", "a3"]
IDS = [f"o{n}" for n in range(40)]
SIDES = ["buy", "sell"]
STPS = ["none", "none", "cancel_taker", "cancel_maker", "cancel_both"]
TIFS = ["GTC", "GTC", "GTC", "IOC", "FOK"]

PRICES = {
    "TST": ["9", "9.5", "10", "10.5", "11", "11.5", "12"],
    "DEC": ["0.98", "0.99", "1", "1.01", "1.02", "1.03"],
}
BAD_PRICES = ["0", "10.25", "abc", "1e2", "-1", "NaN", "10.", ".5", " 10", "1_0", "10.000"]
QTYS = {
    "TST": ["1", "2", "3", "4", "6"],
    "DEC": ["0.001", "0.002", "0.005", "0.013", "1"],
}
WIDE_PRICES = {
    "TST": [str(ticks / 2) for ticks in range(10, 41)],
    "DEC": [f"{cents / 100:.2f}" for cents in range(80, 121)],
}
WIDE_QTYS = {
    "TST": ["1", "2", "5", "9", "20", "45"],
    "DEC": ["0.001", "0.017", "0.05", "0.2", "1.5"],
}
BAD_QTYS = ["0", "1.5", "0.0005", "x", "", "99999999999999999999999"]
QUOTES = {
    "TST": ["10", "25.5", "31", "60", "100"],
    "DEC": ["0.00001", "0.01", "0.02567", "1", "3.5"],
}
BAD_QUOTES = ["10.25", "0", "5"]


# -- hypothesis -----------------------------------------------------------------------------------


@st.composite
def commands(draw: st.DrawFn) -> dict[str, Any]:
    """One command; mostly valid, sometimes not."""
    symbol = draw(st.sampled_from(["TST", "TST", "TST", "DEC"]))
    kind = draw(
        st.sampled_from(
            ["limit"] * 8
            + ["market"] * 3
            + ["cancel"] * 3
            + ["amend"] * 5
            + ["snapshot", "admin", "junk"]
        )
    )
    command: dict[str, Any] = {"symbol": symbol}
    if draw(st.booleans()):
        command["ts"] = draw(st.integers(0, 2000))

    def price() -> str:
        pool = PRICES[symbol] * 4 + BAD_PRICES if kind != "market" else PRICES[symbol]
        return draw(st.sampled_from(pool))

    def qty() -> str:
        return draw(st.sampled_from(QTYS[symbol] * 5 + BAD_QTYS))

    if kind in ("limit", "market"):
        command.update(
            op="new",
            id=draw(st.sampled_from(IDS)),
            account=draw(st.sampled_from(ACCOUNTS)),
            side=draw(st.sampled_from(SIDES)),
            type=kind,
        )
        stp = draw(st.sampled_from([*STPS, None]))
        if stp is not None:
            command["stp"] = stp
        if kind == "limit":
            command["price"] = price()
            command["qty"] = qty()
            tif = draw(st.sampled_from([*TIFS, None]))
            if tif is not None:
                command["tif"] = tif
            if tif in ("GTC", None) and draw(st.integers(0, 5)) == 0:
                command["post_only"] = True
        else:
            sizing = draw(st.sampled_from(["qty", "qty", "quote", "quote", "both"]))
            if sizing in ("qty", "both"):
                command["qty"] = qty()
            if sizing in ("quote", "both"):
                command["quote_qty"] = draw(st.sampled_from(QUOTES[symbol] * 3 + BAD_QUOTES))
            if draw(st.integers(0, 2)) == 0:
                command["price"] = price()
    elif kind in ("cancel", "amend"):
        command.update(
            op=kind, id=draw(st.sampled_from(IDS)), account=draw(st.sampled_from(ACCOUNTS))
        )
        if kind == "amend":
            which = draw(st.sampled_from(["price", "qty", "both"]))
            if which in ("price", "both"):
                command["price"] = price()
            if which in ("qty", "both"):
                command["qty"] = qty()
    elif kind == "snapshot":
        command["op"] = "snapshot"
    elif kind == "admin":
        command["op"] = "market"
        command.update(draw(st.sampled_from(ADMIN_UPDATES)))
    else:
        return draw(st.sampled_from(JUNK))
    return command


ADMIN_UPDATES: list[dict[str, Any]] = [
    {"status": "halted"},
    {"status": "trading"},
    {"status": "trading"},
    {"min_notional": "0"},
    {"min_notional": "12.5"},
    {"tick_size": "0.25"},
    {"lot_size": "0.5", "min_notional": "1"},
    {"status": "paused"},
    {"tick_size": "-1"},
]

JUNK: list[Any] = [
    {"op": "new"},
    {"op": "explode", "symbol": "TST"},
    {"symbol": "TST"},
    {"op": "cancel", "symbol": "NOPE", "id": "o1", "account": "a1"},
    {
        "op": "new",
        "symbol": "TST",
        "id": "o1",
        "account": "a1",
        "side": "up",
        "type": "limit",
        "price": "10",
        "qty": "1",
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "o1",
        "account": "a1",
        "side": "buy",
        "type": "stop",
        "price": "10",
        "qty": "1",
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "o1",
        "account": "a1",
        "side": "buy",
        "type": "limit",
        "price": 10,
        "qty": "1",
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "o2",
        "account": "a1",
        "side": "buy",
        "type": "market",
        "qty": "1",
        "quote_qty": "10",
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "o3",
        "account": "a1",
        "side": "buy",
        "type": "market",
        "qty": "1",
        "tif": "FOK",
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "o3",
        "account": "a1",
        "side": "buy",
        "type": "limit",
        "price": "10",
        "qty": "1",
        "tif": "IOC",
        "post_only": True,
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "",
        "account": "a1",
        "side": "buy",
        "type": "limit",
        "price": "10",
        "qty": "1",
    },
    {
        "op": "new",
        "symbol": "TST",
        "id": "o4",
        "account": "a1",
        "side": "buy",
        "type": "limit",
        "price": "10",
        "qty": "1",
        "ts": -5,
    },
    {"op": "amend", "symbol": "TST", "id": "o4", "account": "a1"},
    {"op": "snapshot", "symbol": 7},
    {"op": "market", "symbol": "NEW", "base": "N", "quote": "U"},
    [1, 2],
    "not an object",
]


# -- seeded generator -----------------------------------------------------------------------------


class StreamGenerator:
    """Seeded command streams that track ids and owners so most cancels and amends are valid."""

    def __init__(
        self, seed: int, symbols: tuple[str, ...] = ("TST", "DEC"), *, wide: bool = False
    ) -> None:
        self.rng = random.Random(seed)
        self.symbols = symbols
        # wide: many more price levels and bigger orders, so takers sweep several levels and
        # levels are added and removed in the middle of the book.
        self.prices = WIDE_PRICES if wide else PRICES
        self.qtys = WIDE_QTYS if wide else QTYS
        self.owners: dict[tuple[str, str], str] = {}
        self.next_id = 0

    def _known(self, symbol: str) -> tuple[str, str]:
        known = [key for key in self.owners if key[0] == symbol]
        if not known or self.rng.random() < 0.05:
            return f"x{self.rng.randrange(1000)}", self.rng.choice(ACCOUNTS)
        key = self.rng.choice(known)
        owner = self.owners[key]
        if self.rng.random() < 0.05:
            owner = self.rng.choice(ACCOUNTS)
        return key[1], owner

    def command(self) -> Any:
        """The next command of the stream."""
        rng = self.rng
        symbol = rng.choice(self.symbols)
        roll = rng.random()
        cmd: dict[str, Any] = {"symbol": symbol}
        if rng.random() < 0.3:
            cmd["ts"] = rng.randrange(10**12)
        if roll < 0.45:
            if rng.random() < 0.03 and self.owners:
                order_id = rng.choice(list(self.owners))[1]
            else:
                order_id = f"n{self.next_id}"
                self.next_id += 1
            account = rng.choice(ACCOUNTS)
            self.owners[(symbol, order_id)] = account
            cmd.update(op="new", id=order_id, account=account, side=rng.choice(SIDES))
            if rng.random() < 0.8:
                cmd.update(type="limit", price=rng.choice(self.prices[symbol]))
                cmd["qty"] = rng.choice(self.qtys[symbol])
                tif = rng.choice(TIFS)
                cmd["tif"] = tif
                if tif == "GTC" and rng.random() < 0.1:
                    cmd["post_only"] = True
            else:
                cmd["type"] = "market"
                if rng.random() < 0.5:
                    cmd["qty"] = rng.choice(self.qtys[symbol])
                else:
                    cmd["quote_qty"] = rng.choice(QUOTES[symbol])
                if rng.random() < 0.3:
                    cmd["price"] = rng.choice(self.prices[symbol])
            cmd["stp"] = rng.choice(STPS)
            if rng.random() < 0.03:
                cmd[rng.choice(["price", "qty"])] = rng.choice(BAD_PRICES + BAD_QTYS)
        elif roll < 0.6:
            order_id, account = self._known(symbol)
            cmd.update(op="cancel", id=order_id, account=account)
        elif roll < 0.95:
            order_id, account = self._known(symbol)
            cmd.update(op="amend", id=order_id, account=account)
            what = rng.random()
            if what < 0.5:
                cmd["price"] = rng.choice(self.prices[symbol])
            if what > 0.3:
                cmd["qty"] = rng.choice(self.qtys[symbol])
        elif roll < 0.98:
            cmd["op"] = "snapshot"
        elif roll < 0.99:
            cmd["op"] = "market"
            cmd.update(rng.choice(ADMIN_UPDATES))
        else:
            return rng.choice(JUNK)
        return cmd

    def stream(self, length: int) -> list[Any]:
        """``length`` commands."""
        return [self.command() for _ in range(length)]

"""What the bots send: a mid price that wanders, passive quotes around it, crossing orders that
take them, amends that re-quote and cancels that keep each bot's resting orders bounded.
Pure and seeded: no I/O, no clock (callers pass elapsed time)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

Action = Literal["new", "cancel", "amend"]


@dataclass(frozen=True, slots=True)
class MarketTerms:
    """A market's grid, from `GET /api/markets`."""

    symbol: str
    tick_size: str
    lot_size: str
    min_notional: str

    @property
    def tick(self) -> Decimal:
        return Decimal(self.tick_size)

    @property
    def lot(self) -> Decimal:
        return Decimal(self.lot_size)

    def price(self, ticks: int) -> str:
        return str(self.tick * ticks)

    def qty(self, lots: int) -> str:
        return str(self.lot * lots)

    def lots_for_notional(self, notional: float, price_ticks: int) -> int:
        """Whole lots worth about `notional` quote units at `price_ticks` (at least the minimum
        notional, so the API never refuses the order for being too small)."""
        price = float(self.tick * price_ticks)
        floor = float(self.min_notional) * 1.5
        return max(1, math.ceil(max(notional, floor) / price / float(self.lot)))


class MidPrice:
    """A mean-reverting random walk (in ticks) around the price the book started at."""

    def __init__(self, start_ticks: int, rng: random.Random, *, volatility: float = 0.0008) -> None:
        self.base = float(start_ticks)
        self.value = float(start_ticks)
        self.volatility = volatility  # relative, per sqrt(second)
        self._rng = rng

    def advance(self, dt_s: float) -> None:
        pull = 0.05 * (self.base - self.value) * dt_s
        shock = self._rng.gauss(0.0, 1.0) * self.volatility * self.base * math.sqrt(dt_s)
        self.value = max(1.0, self.value + pull + shock)

    @property
    def ticks(self) -> int:
        return max(1, round(self.value))


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """The mix of actions and prices (see docs/performance.md, "The load")."""

    cancel_ratio: float = 0.2
    """Cancels per new order."""
    amend_ratio: float = 0.1
    """Amends per new order."""
    cross_fraction: float = 0.3
    """Share of new orders that are IOC limits through the mid (they take liquidity)."""
    max_open: int = 30
    """A bot with more resting orders than this cancels its oldest instead of placing more."""
    passive_bps: tuple[float, float] = (1.0, 30.0)
    """Passive quotes rest this far from the mid."""
    cross_bps: float = 20.0
    """Crossing orders are limit IOC this far through the mid."""
    notional: tuple[float, float] = (50.0, 500.0)
    """Quote value of an order (uniform)."""


def next_action(rng: random.Random, config: FlowConfig, open_orders: int) -> Action:
    """What a bot does next, given how many of its orders rest on the books."""
    if open_orders > config.max_open:
        return "cancel"
    if open_orders:
        draw = rng.random() * (1.0 + config.cancel_ratio + config.amend_ratio)
        if draw >= 1.0 + config.amend_ratio:
            return "cancel"
        if draw >= 1.0:
            return "amend"
    return "new"


def passive_price(rng: random.Random, config: FlowConfig, side: str, mid_ticks: int) -> int:
    bps = rng.uniform(*config.passive_bps)
    offset = max(1, round(mid_ticks * bps / 10_000))
    return mid_ticks - offset if side == "buy" else mid_ticks + offset


def new_order(
    rng: random.Random, config: FlowConfig, market: MarketTerms, mid_ticks: int
) -> tuple[dict[str, Any], bool]:
    """The body of a `POST /api/orders` and whether it is meant to cross (take liquidity)."""
    side = "buy" if rng.random() < 0.5 else "sell"
    crossing = rng.random() < config.cross_fraction
    if crossing:
        offset = max(1, round(mid_ticks * config.cross_bps / 10_000))
        price = mid_ticks + offset if side == "buy" else mid_ticks - offset
        tif = "IOC"
    else:
        price = passive_price(rng, config, side, mid_ticks)
        tif = "GTC"
    lots = market.lots_for_notional(rng.uniform(*config.notional), price)
    body = {
        "symbol": market.symbol,
        "side": side,
        "type": "limit",
        "price": market.price(price),
        "qty": market.qty(lots),
        "tif": tif,
    }
    return body, crossing

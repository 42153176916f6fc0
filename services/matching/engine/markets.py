"""Markets: the contract terms (tick, lot, minimum notional) the engine enforces per symbol."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from services.matching.engine.decimals import (
    FINER_THAN_SCALE,
    MAX_UNITS,
    NOT_A_DECIMAL,
    format_decimal,
    minimal_decimal,
    normalize_decimal,
    parse_decimal,
)

MAX_SCALE = 18
"""Most decimals a tick or lot size may have."""


class MarketStatus(StrEnum):
    """Whether a market accepts new orders and amends (cancels are always accepted)."""

    TRADING = "trading"
    HALTED = "halted"


@dataclass(frozen=True, slots=True)
class Market:
    """One symbol's contract terms, as decimal strings plus the integers the engine uses.

    Inside the engine a price is an integer number of ticks, a quantity an integer number of lots
    and a notional (price * quantity, ``quote_qty``, ``min_notional``) an integer number of
    *notional units* of ``tick_size * lot_size``, so ``price_ticks * qty_lots`` is exact.
    Raises ``ValueError`` for sizes that are not positive plain decimals.
    """

    symbol: str
    base: str
    quote: str
    tick_size: str
    lot_size: str
    min_notional: str
    status: MarketStatus = MarketStatus.TRADING
    # Derived at construction; a decimal text at scale S is an integer of 10**-S units.
    price_scale: int = field(init=False, repr=False, compare=False)
    tick_units: int = field(init=False, repr=False, compare=False)
    qty_scale: int = field(init=False, repr=False, compare=False)
    lot_units: int = field(init=False, repr=False, compare=False)
    notional_scale: int = field(init=False, repr=False, compare=False)
    notional_units: int = field(init=False, repr=False, compare=False)
    min_notional_units: int = field(init=False, repr=False, compare=False)
    price_cache: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    qty_cache: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tick = _positive_size(self.tick_size, "tick_size")
        lot = _positive_size(self.lot_size, "lot_size")
        floor = normalize_decimal(self.min_notional) if isinstance(self.min_notional, str) else None
        if floor is None or floor[1] > 2 * MAX_SCALE:
            raise ValueError(
                f"min_notional must be a non-negative decimal, got {self.min_notional!r}"
            )
        if not self.symbol or not self.base or not self.quote:
            raise ValueError("symbol, base and quote must be non-empty")
        setter = object.__setattr__
        setter(self, "status", MarketStatus(self.status))
        setter(self, "tick_size", minimal_decimal(*tick))
        setter(self, "lot_size", minimal_decimal(*lot))
        setter(self, "min_notional", minimal_decimal(*floor))
        setter(self, "tick_units", tick[0])
        setter(self, "price_scale", tick[1])
        setter(self, "lot_units", lot[0])
        setter(self, "qty_scale", lot[1])
        notional_scale = tick[1] + lot[1]
        notional_units = tick[0] * lot[0]
        setter(self, "notional_scale", notional_scale)
        setter(self, "notional_units", notional_units)
        # Smallest whole number of notional units whose value is >= min_notional.
        floor_units, floor_scale = floor
        numerator = floor_units * 10 ** max(0, notional_scale - floor_scale)
        denominator = notional_units * 10 ** max(0, floor_scale - notional_scale)
        setter(self, "min_notional_units", -(-numerator // denominator))

    # Text -> integer. Each returns the integer, or a negative code the engine maps to a reason:
    # NOT_A_DECIMAL (-1: garbage, zero or too large) or FINER_THAN_SCALE (-2: off the grid).
    # Results are memoized per market in small bounded dicts (the engine reads them directly on
    # its hot path): order flow repeats the same few hundred price and size strings.

    def price_ticks(self, text: str) -> int:
        """Parse a price to ticks; -1 if invalid (garbage, zero, too large), -2 if off tick."""
        ticks = self.price_cache.get(text)
        if ticks is None:
            ticks = _on_grid(parse_decimal(text, self.price_scale), self.tick_units)
            _remember(self.price_cache, text, ticks)
        return ticks

    def qty_lots(self, text: str) -> int:
        """Parse a quantity to lots; -1 if invalid (garbage, zero, too large), -2 if off lot."""
        lots = self.qty_cache.get(text)
        if lots is None:
            lots = _on_grid(parse_decimal(text, self.qty_scale), self.lot_units)
            _remember(self.qty_cache, text, lots)
        return lots

    def quote_units(self, text: str) -> int:
        """Parse a quote amount to notional units; -1 if invalid, -2 if finer than a unit."""
        return _on_grid(parse_decimal(text, self.notional_scale), self.notional_units)

    # Integer -> text, at the market's fixed precision ("100.50", "2.0000").

    def format_price(self, ticks: int) -> str:
        """Format ticks as a price with the tick size's decimals."""
        return format_decimal(ticks * self.tick_units, self.price_scale)

    def format_qty(self, lots: int) -> str:
        """Format lots as a quantity with the lot size's decimals."""
        return format_decimal(lots * self.lot_units, self.qty_scale)

    def format_quote(self, units: int) -> str:
        """Format notional units as a quote amount with tick + lot decimals."""
        return format_decimal(units * self.notional_units, self.notional_scale)

    def terms_differ(self, other: Market) -> bool:
        """True if ``other`` changes what resting orders mean (base, quote, tick or lot)."""
        return (
            self.base != other.base
            or self.quote != other.quote
            or self.tick_size != other.tick_size
            or self.lot_size != other.lot_size
        )

    def to_wire(self) -> dict[str, str]:
        """The market's fields as the ``market`` command and event spell them."""
        return {
            "symbol": self.symbol,
            "base": self.base,
            "quote": self.quote,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "min_notional": self.min_notional,
            "status": self.status.value,
        }


def _positive_size(text: str, name: str) -> tuple[int, int]:
    parsed = normalize_decimal(text) if isinstance(text, str) else None
    if parsed is None or parsed[0] == 0 or parsed[1] > MAX_SCALE or parsed[0] > MAX_UNITS:
        raise ValueError(f"{name} must be a positive decimal with at most {MAX_SCALE} decimals")
    return parsed


CACHE_SIZE = 16_384
"""Most parsed strings a market remembers per kind before it starts over."""


def _on_grid(units: int, step: int) -> int:
    """Units -> whole steps, or NOT_A_DECIMAL / FINER_THAN_SCALE."""
    if units <= 0:
        return units if units < 0 else NOT_A_DECIMAL
    steps, off = divmod(units, step)
    if off:
        return FINER_THAN_SCALE
    return steps if steps <= MAX_UNITS else NOT_A_DECIMAL


def _remember(cache: dict[str, int], text: str, value: int) -> None:
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[text] = value


DEFAULT_MARKETS: tuple[Market, ...] = (
    Market("BTC-USD", "BTC", "USD", tick_size="0.01", lot_size="0.0001", min_notional="1"),
    Market("ETH-USD", "ETH", "USD", tick_size="0.01", lot_size="0.001", min_notional="1"),
)
"""The markets an engine starts with when given none (also ``tradestack replay``'s default)."""

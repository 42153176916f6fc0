"""Money inside the accounts engine: every asset has 8 decimals, every amount is an integer.

A balance, a price or a quantity is held as an integer number of 1e-8 units ("units"). A market's
tick decimals plus lot decimals are at most 8, so a notional, price x quantity, is an exact integer
number of quote units: ``price_units * qty_units // UNIT`` never drops a digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DECIMALS = 8
UNIT = 10**DECIMALS
BPS = 10_000
MAX_FEE_BPS = 1_000
"""Fees above 10% are refused when a market is created (and by the engine, defensively)."""
MAX_AMOUNT_UNITS = 10**26
"""Upper bound of any single amount (about 1e18 whole units); keeps arithmetic sane."""


class MoneyError(ValueError):
    """Text that is not a plain decimal with at most 8 decimals, or terms that break the rules."""


def parse_units(text: object, *, allow_zero: bool = False) -> int:
    """A plain decimal string ("12.5") as integer 1e-8 units. No sign, exponent or whitespace;
    at most 8 decimals (trailing zeros beyond are fine). Raises MoneyError."""
    if not isinstance(text, str) or not text.isascii() or not 0 < len(text) <= 40:
        raise MoneyError(f"not a decimal string: {text!r}")
    whole, dot, frac = text.partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()):
        raise MoneyError(f"not a plain decimal: {text!r}")
    if len(frac) > DECIMALS:
        if frac[DECIMALS:].strip("0"):
            raise MoneyError(f"more than {DECIMALS} decimals: {text!r}")
        frac = frac[:DECIMALS]
    units = int(whole) * UNIT + (int(frac) * 10 ** (DECIMALS - len(frac)) if frac else 0)
    if units > MAX_AMOUNT_UNITS or (units == 0 and not allow_zero):
        raise MoneyError(f"out of range: {text!r}")
    return units


def format_units(units: int, decimals: int = DECIMALS) -> str:
    """Integer 1e-8 units as a decimal string with `decimals` decimals (units must be a multiple
    of 10**(8 - decimals)); negative values get a leading minus."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    whole, frac = divmod(units, UNIT)
    if decimals == 0:
        return f"{sign}{whole}"
    digits = f"{frac:0{DECIMALS}d}"[:decimals]
    return f"{sign}{whole}.{digits}"


def decimals_of(text: str) -> int:
    """How many decimals a size like "0.0100" really has (trailing zeros ignored)."""
    _, _, frac = text.partition(".")
    return len(frac.rstrip("0"))


def notional_units(price_units: int, qty_units: int) -> int:
    """price x qty in quote units, exact under the market rule tick + lot decimals <= 8."""
    return price_units * qty_units // UNIT


def fee_ceiling(numerator: int) -> int:
    """ceil(numerator / 10000): fees are rounded up, in the venue's favour."""
    return -(-numerator // BPS)


@dataclass(frozen=True, slots=True)
class MarketTerms:
    """The market parameters the orders API embeds in every `new` message.

    Carrying them in the message keeps the accounts engine deterministic from its input alone: a
    later change of the markets table cannot change how an old order is settled.
    """

    base: str
    quote: str
    tick_units: int
    lot_units: int
    price_decimals: int
    qty_decimals: int
    maker_fee_bps: int
    taker_fee_bps: int

    @classmethod
    def from_wire(cls, market: Any) -> MarketTerms:
        """Parse the `market` object of a `new` message; raises MoneyError when it breaks rules."""
        if not isinstance(market, dict):
            raise MoneyError("market terms missing")
        base, quote = market.get("base"), market.get("quote")
        if not isinstance(base, str) or not isinstance(quote, str) or not base or not quote:
            raise MoneyError("market base and quote must be asset names")
        tick, lot = market.get("tick_size"), market.get("lot_size")
        tick_units, lot_units = parse_units(tick), parse_units(lot)
        price_decimals, qty_decimals = decimals_of(tick), decimals_of(lot)  # type: ignore[arg-type]
        if price_decimals + qty_decimals > DECIMALS:
            raise MoneyError("tick decimals + lot decimals must be <= 8")
        maker, taker = market.get("maker_fee_bps", 0), market.get("taker_fee_bps", 0)
        for bps in (maker, taker):
            if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= MAX_FEE_BPS:
                raise MoneyError(f"fee bps must be an integer 0..{MAX_FEE_BPS}")
        return cls(base, quote, tick_units, lot_units, price_decimals, qty_decimals, maker, taker)

    @property
    def max_fee_bps(self) -> int:
        return max(self.maker_fee_bps, self.taker_fee_bps)

    @property
    def notional_step(self) -> int:
        """The engine's smallest quote amount (tick x lot), in quote units."""
        return notional_units(self.tick_units, self.lot_units)

    def price(self, units: int) -> str:
        return format_units(units, self.price_decimals)

    def qty(self, units: int) -> str:
        return format_units(units, self.qty_decimals)

    def quote_amount(self, units: int) -> str:
        return format_units(units, min(DECIMALS, self.price_decimals + self.qty_decimals))

    def to_state(self) -> list[Any]:
        return [
            self.base,
            self.quote,
            self.tick_units,
            self.lot_units,
            self.price_decimals,
            self.qty_decimals,
            self.maker_fee_bps,
            self.taker_fee_bps,
        ]

    @classmethod
    def from_state(cls, data: list[Any]) -> MarketTerms:
        return cls(*data)

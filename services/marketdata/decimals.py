"""Exact decimal arithmetic for market data: prices and quantities stay decimal strings outside.

The engine formats every price and quantity at its market's fixed precision ("100.50", "2.0000"),
so adding and subtracting those as `Decimal` keeps that precision. Sums of notionals can grow past
the default 28 significant digits, so they go through a wide context.
"""

from __future__ import annotations

from decimal import Context, Decimal

WIDE = Context(prec=80)
ZERO = Decimal(0)


def to_decimal(text: str) -> Decimal:
    return Decimal(text)


def decimal_text(value: Decimal) -> str:
    """Plain notation, never an exponent; zero is "0" whatever its precision."""
    if not value:
        return "0"
    return format(value, "f")


def notional(price: Decimal, qty: Decimal) -> Decimal:
    return WIDE.multiply(price, qty)


def add(a: Decimal, b: Decimal) -> Decimal:
    return WIDE.add(a, b)

"""Exact conversion between decimal strings and integers at a fixed scale.

Prices and quantities cross the engine boundary as decimal strings ("101.25") and live inside as
integers. Parsing is strict: plain ASCII digits with at most one dot, no sign, no exponent, no
whitespace, no underscores, at most ``MAX_TEXT_LENGTH`` characters. Python's ``int()`` alone would
accept "1_000", " 12 ", "+3" and non-ASCII digits, so the text is checked before conversion.
"""

from __future__ import annotations

MAX_TEXT_LENGTH = 40
# Largest integer (ticks, lots or notional units) the engine accepts; keeps every value inside a
# signed 64-bit integer so snapshots and encoders never meet a bigint.
MAX_UNITS = 10**18 - 1

NOT_A_DECIMAL = -1
"""Returned by :func:`parse_decimal` for text that is not a plain non-negative decimal."""
FINER_THAN_SCALE = -2
"""Returned by :func:`parse_decimal` for a decimal with non-zero digits beyond the scale."""

_POW10 = tuple(10**n for n in range(64))


def parse_decimal(text: str, scale: int) -> int:
    """Return ``text`` times ``10**scale`` as an int, exactly.

    Returns :data:`NOT_A_DECIMAL` for anything that is not a plain non-negative decimal string
    and :data:`FINER_THAN_SCALE` when the value has non-zero digits beyond ``scale`` decimals.
    Trailing zeros beyond the scale are fine ("1.500" at scale 2 is 150).
    """
    if len(text) > MAX_TEXT_LENGTH or not text.isascii():
        return NOT_A_DECIMAL
    whole, dot, frac = text.partition(".")
    # str.isdigit() on ASCII text accepts exactly 0-9 and is False for "".
    if not whole.isdigit():
        return NOT_A_DECIMAL
    if not dot:
        return int(whole) * _POW10[scale]
    if not frac.isdigit():
        return NOT_A_DECIMAL
    digits = len(frac)
    if digits > scale:
        if frac[scale:].strip("0"):
            return FINER_THAN_SCALE
        frac = frac[:scale]
        digits = scale
    if digits == 0:
        return int(whole) * _POW10[scale]
    return int(whole) * _POW10[scale] + int(frac) * _POW10[scale - digits]


def format_decimal(units: int, scale: int) -> str:
    """Format ``units / 10**scale`` with exactly ``scale`` decimals ("100.50" for 10050, 2)."""
    if scale == 0:
        return str(units)
    whole, frac = divmod(units, _POW10[scale])
    return f"{whole}.{frac:0{scale}d}"


def normalize_decimal(text: str) -> tuple[int, int] | None:
    """Split a decimal string into ``(units, scale)`` with no trailing fractional zeros.

    "0.010" gives ``(1, 2)``, "10" gives ``(10, 0)``, "1.0" gives ``(1, 0)``. Returns ``None``
    for text that is not a plain non-negative decimal.
    """
    if parse_decimal(text, 0) == NOT_A_DECIMAL:
        return None
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return int(whole + frac), len(frac)


def minimal_decimal(units: int, scale: int) -> str:
    """Format ``units / 10**scale`` in its shortest form ("1", "0.01", "2.5")."""
    text = format_decimal(units, scale)
    if scale:
        text = text.rstrip("0").rstrip(".")
    return text

"""Exact decimal parsing and market terms."""

from __future__ import annotations

import pytest

from services.matching.engine import Market, MarketStatus
from services.matching.engine.decimals import (
    FINER_THAN_SCALE,
    NOT_A_DECIMAL,
    format_decimal,
    normalize_decimal,
    parse_decimal,
)


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [("100", 2, 10000), ("100.5", 2, 10050), ("100.50", 2, 10050), ("0.01", 2, 1),
     ("1.500", 2, 150), ("007.1", 1, 71), ("0", 3, 0), ("5", 0, 5), ("5.000", 0, 5)],
)  # fmt: skip
def test_parse_decimal_is_exact(text: str, scale: int, units: int) -> None:
    assert parse_decimal(text, scale) == units


@pytest.mark.parametrize(
    "text",
    ["", "-1", "+1", "1e3", "1E3", "NaN", "nan", "Infinity", "inf", "1_000", " 1", "1 ", "1.",
     ".1", "1..2", "1.2.3", "0x10", "\u0661", "1" * 41],
)  # fmt: skip
def test_parse_decimal_refuses_anything_but_plain_decimals(text: str) -> None:
    assert parse_decimal(text, 4) == NOT_A_DECIMAL


def test_parse_decimal_flags_digits_beyond_the_scale() -> None:
    assert parse_decimal("1.005", 2) == FINER_THAN_SCALE
    assert parse_decimal("1.0050", 3) == 1005


def test_format_decimal_pads_to_the_scale() -> None:
    assert format_decimal(10050, 2) == "100.50"
    assert format_decimal(5, 4) == "0.0005"
    assert format_decimal(7, 0) == "7"


def test_normalize_decimal_drops_trailing_zeros() -> None:
    assert normalize_decimal("0.010") == (1, 2)
    assert normalize_decimal("10") == (10, 0)
    assert normalize_decimal("1.0") == (1, 0)
    assert normalize_decimal("x") is None


def test_market_derives_integer_terms() -> None:
    market = Market("BTC-USD", "BTC", "USD", tick_size="0.010", lot_size="0.0001", min_notional="1")
    assert (market.tick_size, market.price_scale, market.tick_units) == ("0.01", 2, 1)
    assert (market.qty_scale, market.lot_units) == (4, 1)
    # 1 USD in units of 0.01 * 0.0001.
    assert market.min_notional_units == 1_000_000
    assert market.status is MarketStatus.TRADING


def test_market_rounds_min_notional_up_to_whole_notional_units() -> None:
    market = Market("X", "X", "Y", tick_size="0.5", lot_size="2", min_notional="1.5")
    # One notional unit is 0.5 * 2 = 1, held as 10 at scale 1.
    assert (market.notional_units, market.notional_scale) == (10, 1)
    assert market.min_notional_units == 2  # 1.5 -> at least 2 units of 1


def test_market_parses_prices_onto_its_tick_grid() -> None:
    market = Market("X", "X", "Y", tick_size="0.05", lot_size="1", min_notional="0")
    assert market.price_ticks("1.05") == 21
    assert market.price_ticks("1.07") == FINER_THAN_SCALE
    assert market.price_ticks("0") == NOT_A_DECIMAL
    assert market.format_price(21) == "1.05"


@pytest.mark.parametrize(
    ("field", "value"), [("tick_size", "0"), ("lot_size", "-1"), ("tick_size", "1e-2"),
                         ("min_notional", "x"), ("tick_size", "0." + "0" * 18 + "1")],
)  # fmt: skip
def test_market_refuses_bad_terms(field: str, value: str) -> None:
    terms = {"tick_size": "0.01", "lot_size": "1", "min_notional": "0", field: value}
    with pytest.raises(ValueError):
        Market("X", "X", "Y", terms["tick_size"], terms["lot_size"], terms["min_notional"])

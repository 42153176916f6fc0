from __future__ import annotations

from decimal import Decimal

from services.demo_traders import _format, _ticks


def test_demo_prices_round_trip_through_integer_ticks() -> None:
    tick = Decimal("0.001")
    assert _ticks("150.075", tick) == 150_075
    assert _format(150_075 + 3, tick) == "150.078"
    assert _format(_ticks("60000.00", Decimal("0.01")), Decimal("0.01")) == "60000.00"

"""The accounts engine: a pure, deterministic state machine (no I/O) that holds funds for orders,
settles fills and fees, and applies deposits and withdrawals. See docs/orders.md."""

from services.orders.accounts.engine import FEES_ACCOUNT, AccountsEngine, Output
from services.orders.accounts.money import MarketTerms, MoneyError, format_units, parse_units
from services.orders.accounts.orders import OrderStatus, Reason

__all__ = [
    "FEES_ACCOUNT",
    "AccountsEngine",
    "MarketTerms",
    "MoneyError",
    "OrderStatus",
    "Output",
    "Reason",
    "format_units",
    "parse_units",
]

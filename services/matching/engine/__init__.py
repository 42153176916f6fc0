"""The pure matching engine: commands in, events out; no I/O, clock, randomness or floats.

Public API::

    from services.matching.engine import MatchingEngine, Market, MarketStatus, RejectReason
    engine = MatchingEngine(DEFAULT_MARKETS)
    events = engine.apply({"op": "new", ...})
    wire = [encode_event(event) for event in events]

See docs/engine.md for the command and event contract.
"""

from services.matching.engine.book import Order, OrderBook, PriceLevel
from services.matching.engine.engine import MatchingEngine
from services.matching.engine.events import EVENT_TYPES, Event, encode_event
from services.matching.engine.markets import DEFAULT_MARKETS, Market, MarketStatus
from services.matching.engine.reasons import CancelReason, ExpireReason, RejectReason

__all__ = [
    "DEFAULT_MARKETS",
    "EVENT_TYPES",
    "CancelReason",
    "Event",
    "ExpireReason",
    "Market",
    "MarketStatus",
    "MatchingEngine",
    "Order",
    "OrderBook",
    "PriceLevel",
    "RejectReason",
    "encode_event",
]

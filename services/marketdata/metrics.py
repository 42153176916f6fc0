"""Market data's own Prometheus metrics (the shared ones live in services.common.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

INPUT_GAPS = Counter(
    "tradestack_marketdata_input_gaps_total",
    "Times a symbol's executions sequence jumped ahead (events missing from the input)",
)
INPUT_DUPLICATES = Counter(
    "tradestack_marketdata_input_duplicates_total",
    "Executions events ignored because their seq was already applied (replays)",
)
WS_CLIENTS = Gauge("tradestack_marketdata_ws_clients", "Open WebSocket connections")
WS_PUBLISHED = Counter(
    "tradestack_marketdata_ws_published_total",
    "Messages published (serialized once) per channel kind",
    ["kind"],
)
WS_MESSAGES_QUEUED = Counter(
    "tradestack_marketdata_ws_messages_queued_total",
    "Messages queued to subscribers (one per subscriber per published message)",
)
WS_DROPPED = Counter(
    "tradestack_marketdata_ws_dropped_total", "Connections dropped by the server", ["reason"]
)

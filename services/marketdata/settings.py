"""Market data settings, read from `TRADESTACK_*` environment variables."""

from __future__ import annotations

from functools import cache

from pydantic import Field

from services.common.identity import IdentitySettings


class MarketDataSettings(IdentitySettings):
    """What the market data service needs; the token verifier's settings come with it."""

    service_name: str = "marketdata"
    port: int = 8003

    trades_kept: int = Field(
        default=1000, ge=1, le=100_000, description="Recent trades per symbol."
    )
    candles_kept: int = Field(
        default=1500, ge=10, le=100_000, description="Candles kept per symbol and interval."
    )
    publish_interval_ms: int = Field(
        default=50, ge=1, le=5000, description="Book diffs are coalesced over this tick."
    )
    ws_max_subscriptions: int = Field(default=50, ge=1, le=10_000)
    ws_send_queue: int = Field(
        default=1000, ge=8, description="Messages queued for one connection before it is dropped."
    )
    ws_send_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A send blocked this long (peer not reading) drops the peer.",
    )
    ws_heartbeat_s: float = Field(default=15.0, gt=0, description="Heartbeat message interval.")
    ws_max_message_bytes: int = Field(
        default=16 * 1024, ge=256, description="Largest client message."
    )
    markets_cache_s: float = Field(
        default=2.0, ge=0, description="How long the markets table is cached."
    )
    consume_executions: bool = Field(
        default=True, description="Start the executions consumer in the app's lifespan."
    )
    consume_accounts: bool = Field(
        default=True, description="Start the accounts consumer (private channels) in the lifespan."
    )
    snapshot_every_records: int = Field(
        default=50_000, ge=1, description="Records read between two state snapshots, at most."
    )
    snapshot_interval_s: float = Field(default=60.0, gt=0, description="Time between snapshots.")
    snapshot_on_shutdown: bool = True
    poll_idle_max_s: float = Field(
        default=0.2,
        gt=0,
        description="Longest pause between GetRecords on an idle shard. AWS allows 5 calls/s per "
        "shard across every reader: with several replicas, raise it (or use enhanced fan-out).",
    )
    shard_scan_interval_s: float = Field(default=5.0, gt=0)
    private_max_age_s: float = Field(
        default=30.0,
        gt=0,
        description="Executions that arrived longer ago than this (replayed at start) are not "
        "pushed to private channels.",
    )


@cache
def get_settings() -> MarketDataSettings:
    return MarketDataSettings()
